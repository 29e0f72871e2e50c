"""The delivery turn of shared data's webhooks on a committed database (each step in its own
transaction, no transaction open while posting): a key unit's change reaches the department's
receiver signed, the cursor moves once, and a receiver that is down costs one failed attempt
and keeps the change for later."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from events.share_delivery import deliver_shared
from events.webhooks import verify_signature
from gis import local_pg
from people.models import Organisation, OrganisationType
from people.share_feed import SubscriptionCreate, subscribe
from people.sharing import GrantCreate, grant
from tests.events.test_outbox import Receiver, free_port
from tests.factories import (
    COMMUNITY,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    fresh_database,
    square,
)

GRID = COMMUNITY + "001"


def _add_key_unit(engine, credit_code: str, name: str) -> int:
    with Session(engine) as session, session.begin():
        org = Organisation(
            credit_code=credit_code,
            name=name,
            org_type=OrganisationType.ENTERPRISE,
            grid_code=GRID,
            district_code=GRID[:6],
            fire_key_unit=True,
        )
        session.add(org)
        session.flush()
        return org.id


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[dict[str, Any]]:
    url = fresh_database(database_url, "_share")
    engine = create_engine(url)
    receiver = Receiver(free_port())
    receiver.start()
    with Session(engine) as session, session.begin():
        admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
        add_grid(session, GRID, square(111.28, 30.70, 0.02))
        police = add_unit(session, "PS-S", "police", location=(111.285, 30.705))
        admin = add_staff(session, "share.admin", "admin")
        granted = grant(
            session,
            actor=admin,
            data=GrantCreate(
                department_id=police.department_id,
                dataset="key_units",
                fields={"name": "masked", "fire_key_unit": "masked"},
                area_code="420502",
                purpose="消防检查 fire inspections",
            ),
        )
        sub = subscribe(
            session,
            actor=admin,
            grant_id=granted.id,
            data=SubscriptionCreate(url=receiver.url),
        )
    yield {"engine": engine, "receiver": receiver, "sub": sub}
    receiver.stop()
    engine.dispose()
    local_pg.drop_database(url)


def _cursor(engine, subscription_id: int) -> tuple:
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                text("SELECT delivered_seq, attempts FROM share_subscription WHERE id = :id"),
                {"id": subscription_id},
            ).one()
        )


def test_a_turn_delivers_a_change_once_and_a_down_receiver_keeps_it(world):
    engine, receiver, sub = world["engine"], world["receiver"], world["sub"]
    org_id = _add_key_unit(engine, "91420502MA4ABCDE1X", "宜昌化工有限公司")
    report = deliver_shared(engine, timeout_s=5)
    assert (report.delivered, report.failed, report.changes) == (1, 0, 1)
    (request,) = receiver.requests
    assert verify_signature(
        sub.secret,
        request.headers["x-gridgov-timestamp"],
        request.body,
        request.headers["x-gridgov-signature"],
    )
    body = json.loads(request.body)
    assert [(i["id"], i["op"], i["record"]) for i in body["items"]] == [
        (org_id, "upsert", {"id": org_id, "name": "宜昌化工有限公司", "fire_key_unit": True})
    ]
    assert _cursor(engine, sub.id) == (body["next_after"], 0)
    # Nothing new: a second turn sends nothing.
    assert deliver_shared(engine, timeout_s=5).delivered == 0
    assert len(receiver.requests) == 1
    # The receiver answers 503: the attempt counts, the cursor stays, the change waits.
    receiver.statuses = [503]
    _add_key_unit(engine, "91420502MA4ABCDE2X", "西陵加油站")
    failed = deliver_shared(engine, timeout_s=5)
    assert (failed.delivered, failed.failed) == (0, 1)
    assert _cursor(engine, sub.id) == (body["next_after"], 1)
    # Not due again yet (30 s backoff): the next turn leaves it alone.
    assert deliver_shared(engine, timeout_s=5).failed == 0
    with engine.connect() as connection:
        logged = (
            connection.execute(
                text(
                    "SELECT row_count FROM share_access_log WHERE subscription_id = :id ORDER BY id"
                ),
                {"id": sub.id},
            )
            .scalars()
            .all()
        )
    assert logged == [1, 1]  # one per batch read (the delivered one and the failed one)
