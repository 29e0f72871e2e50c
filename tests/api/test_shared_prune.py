"""Pruning the change feed (share_change): a numbered change older than the retention period
goes once every live webhook subscription of its dataset delivered it; a lagging subscriber
keeps what it still needs, a revoked grant's subscriber keeps nothing, an unnumbered change is
never pruned. The rows are written by hand with known numbers and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app
from people.share_feed import prune_changes
from tests.api.people_city import as_
from tests.api.test_shared_api import _grant

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)


def _change(session, seq: int | None, at: datetime, dataset: str = "special_groups") -> None:
    session.execute(
        text(
            "INSERT INTO share_change (district_code, dataset, record_id, grid_code, at, seq) "
            "VALUES ('420502', :dataset, 1000, '420502001001001', :at, :seq)"
        ),
        {"dataset": dataset, "seq": seq, "at": at},
    )


def _subscribe(client, city, grant_id: int, delivered: int) -> int:
    response = client.post(
        f"/api/shared/grants/{grant_id}/subscriptions",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=as_(city, "admin"),
    )
    assert response.status_code == 201, response.text
    sub_id = response.json()["id"]
    city["session"].execute(
        text("UPDATE share_subscription SET delivered_seq = :d WHERE id = :id"),
        {"d": delivered, "id": sub_id},
    )
    return sub_id


def _left(session) -> list[tuple[str, int | None]]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT dataset, seq FROM share_change WHERE record_id = 1000 "
                "ORDER BY dataset, seq NULLS LAST"
            )
        )
    ]


def test_a_lagging_subscriber_keeps_what_it_has_not_received(client, people_city):
    session = people_city["session"]
    session.execute(text("DELETE FROM share_change"))
    old, recent = CUTOFF - timedelta(seconds=1), CUTOFF + timedelta(seconds=1)
    for seq in (1001, 1002, 1003, 1004):
        _change(session, seq, old)
    _change(session, 1005, recent)  # inside the retention period
    _change(session, None, old)  # committed, not numbered yet
    _change(session, 1006, old, dataset="floating")  # no subscription: retention only
    _change(session, 1007, recent, dataset="floating")

    grant = _grant(client, people_city).json()
    _subscribe(client, people_city, grant["id"], delivered=1004)
    _subscribe(client, people_city, grant["id"], delivered=1002)  # lagging

    assert prune_changes(session, before=CUTOFF) == 3
    assert _left(session) == [
        ("floating", 1007),
        ("special_groups", 1003),  # the lagging subscriber still needs these
        ("special_groups", 1004),
        ("special_groups", 1005),
        ("special_groups", None),
    ]

    # Once the grant is revoked its subscribers no longer hold changes back.
    client.post(f"/api/shared/grants/{grant['id']}/revoke", headers=as_(people_city, "admin"))
    assert prune_changes(session, before=CUTOFF) == 2
    assert _left(session) == [
        ("floating", 1007),
        ("special_groups", 1005),
        ("special_groups", None),
    ]


def test_the_cli_refuses_a_retention_under_a_day():
    result = CliRunner().invoke(app, ["share", "prune", "--days", "0"])
    assert result.exit_code == 2
    assert "--days" in result.output
