"""Monthly partitions of the case history: rows land in their month, months are made ahead and
reported, old settled outbox months are dropped, and codes and idempotency keys stay unique."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from demo.writing import stamp_ids
from events.models import Event, EventKey, KeyKind
from events.service import add_event, new_event
from gis import partitions
from gis.clock import CHINA_TZ
from gis.partitions import STAMP, month_of, stamped_id
from tests.api.cli_run import run
from tests.events.dispatch_city import file

# The last second of November and the first of December, China time.
LAST_SECOND = datetime(2026, 11, 30, 23, 59, 59, tzinfo=CHINA_TZ)
FIRST_SECOND = datetime(2026, 12, 1, 0, 0, 0, tzinfo=CHINA_TZ)
DECEMBER = datetime(2026, 12, 15, 12, 0, tzinfo=CHINA_TZ)


def _scalar(session, sql: str, **params):  # type: ignore[no-untyped-def]
    return session.execute(text(sql), params).scalar_one()


def _partition_of(session, table: str, row_id: int) -> str:  # type: ignore[no-untyped-def]
    return _scalar(
        session, f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id", id=row_id
    )


def test_a_reported_event_its_steps_and_outbox_rows_land_in_the_month_they_were_created(
    dispatch_city,
):
    session = dispatch_city["session"]
    event = file(dispatch_city, category="0107")  # dispatched: steps and two outbox rows
    month = _scalar(session, "SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')")
    assert _partition_of(session, "event", event.id) == f"event_p{month}"
    assert event.id // STAMP == int(month)
    steps = session.execute(
        text("SELECT DISTINCT tableoid::regclass::text FROM event_step WHERE event_id = :id"),
        {"id": event.id},
    ).scalars()
    outbox = session.execute(
        text(
            "SELECT tableoid::regclass::text, count(*) FROM outbox WHERE event_id = :id GROUP BY 1"
        ),
        {"id": event.id},
    ).all()
    assert list(steps) == [f"event_step_p{month}"]
    assert outbox == [(f"outbox_p{month}", 2)]
    # The code keeps its short form: the sequence's part of the id.
    assert event.code.endswith(f"-{event.id % STAMP:06d}")


def test_ids_stamp_the_month_of_china_time_at_the_boundary(session):
    before, after = (
        _scalar(session, "SELECT month_stamped_id('event_id_seq', :at)", at=at)
        for at in (LAST_SECOND, FIRST_SECOND)
    )
    assert (before // STAMP, after // STAMP) == (202611, 202612)
    # 2026-11-30 23:59:59 in China is 15:59:59 UTC, 00:00:00 is 16:00 UTC the day before.
    assert (month_of(LAST_SECOND), month_of(FIRST_SECOND)) == (202611, 202612)
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == 202612
    assert (stamped_id(LAST_SECOND, 7), stamped_id(FIRST_SECOND, 7)) == (
        202611 * STAMP + 7,
        202612 * STAMP + 7,
    )
    # The demo seeder's vectorised twin agrees.
    instants = np.array(
        [int(t.timestamp()) * 1_000_000 for t in (LAST_SECOND, FIRST_SECOND)], dtype=np.int64
    )
    assert stamp_ids(np.array([7, 8]), instants).tolist() == [
        202611 * STAMP + 7,
        202612 * STAMP + 8,
    ]


def test_rows_stamped_either_side_of_midnight_go_to_their_own_months(session, dispatch_city):
    partitions.ensure(session, since=LAST_SECOND)
    ids = [
        _scalar(
            session,
            "INSERT INTO event_step (id, district_code, event_id, action, to_status, data, at) "
            "SELECT month_stamped_id('event_step_id_seq', :at), district_code, id, 'note', "
            "status, '{}', :at FROM event WHERE id = :event RETURNING id",
            at=at,
            event=file(dispatch_city).id,
        )
        for at in (LAST_SECOND, FIRST_SECOND)
    ]
    assert [_partition_of(session, "event_step", i) for i in ids] == [
        "event_step_p202611",
        "event_step_p202612",
    ]


def test_a_row_without_a_month_partition_is_refused(session, dispatch_city):
    event_id = file(dispatch_city).id
    with pytest.raises(IntegrityError, match="no partition"), session.begin_nested():
        session.execute(
            text(
                "INSERT INTO event_step (id, district_code, event_id, action, to_status, "
                "data, at) SELECT month_stamped_id('event_step_id_seq', :at), district_code, "
                "id, 'note', status, '{}', :at FROM event WHERE id = :event"
            ),
            {"at": datetime(2001, 1, 1, tzinfo=UTC), "event": event_id},
        )


def test_ensure_creates_the_months_ahead_and_coverage_counts_them(session):
    assert partitions.coverage(session).months_ahead >= partitions.months_ahead_setting()
    now = datetime.now(UTC)
    created = partitions.ensure(session, ahead=9, now=now)
    current = month_of(now)
    assert partitions.partition_name("outbox", partitions.add_months(current, 9)) in created
    assert partitions.ensure(session, ahead=9, now=now) == []  # nothing twice
    covered = partitions.coverage(session, now=now)
    assert covered.months_ahead == 9 and covered.warning is None


def _drop_months_after(session, month: int) -> None:  # type: ignore[no-untyped-def]
    for table in partitions.PARTITIONED:
        for later in partitions.existing_months(session, table):
            if later > month:
                name = partitions.partition_name(table, later)
                # A partition that foreign keys point at is detached before it is dropped.
                session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
                session.execute(text(f"DROP TABLE {name}"))


def test_health_reports_the_months_ahead_and_warns_under_two(client, session):
    healthy = client.get("/api/health").json()
    assert healthy["status"] == "ok"
    assert healthy["partition_months_ahead"] >= 2 and healthy["warning"] is None
    current = month_of(datetime.now(UTC))
    _drop_months_after(session, partitions.add_months(current, 1))
    warned = client.get("/api/health")
    assert warned.status_code == 200
    body = warned.json()
    assert (body["status"], body["partition_months_ahead"]) == ("warning", 1)
    assert "gridgov db partitions" in body["warning"] and "分区" in body["warning"]


def test_the_cli_creates_the_months_ahead_and_says_how_far_they_go(database_url):
    result = run("db", "partitions", database_url=database_url, check=True)
    last = partitions.add_months(month_of(datetime.now(UTC)), partitions.months_ahead_setting())
    assert f"partitions through {last}" in result.stdout
    assert result.stderr == ""  # no warning: the months ahead exist


def _outbox_row(session, *, event_id: int, month: int, status: str) -> int:  # type: ignore[no-untyped-def]
    return _scalar(
        session,
        "INSERT INTO outbox (id, district_code, event_id, step_id, unit_id, kind, payload, "
        "status, attempts, next_attempt_at, created_at) "
        "SELECT :month * 10000000000 + nextval('outbox_id_seq'), o.district_code, o.event_id, "
        "o.step_id, o.unit_id, o.kind, o.payload, CAST(:status AS delivery_status), 1, "
        "o.next_attempt_at, o.created_at FROM outbox o WHERE o.event_id = :event LIMIT 1 "
        "RETURNING id",
        month=month,
        status=status,
        event=event_id,
    )


def test_prune_drops_an_old_settled_outbox_month_and_keeps_one_with_a_pending_row(
    session, dispatch_city
):
    event = file(dispatch_city, category="0107")
    partitions.ensure(session, since=datetime(2026, 1, 15, tzinfo=CHINA_TZ))
    delivered = _outbox_row(session, event_id=event.id, month=202601, status="delivered")
    _outbox_row(session, event_id=event.id, month=202601, status="dead")
    pending = _outbox_row(session, event_id=event.id, month=202602, status="pending")
    recent = _outbox_row(session, event_id=event.id, month=202606, status="delivered")
    session.execute(
        text(
            "INSERT INTO delivery_attempt (district_code, outbox_id, at, duration_ms) "
            "SELECT district_code, id, now(), 5 FROM outbox WHERE id IN (:a, :b)"
        ),
        {"a": delivered, "b": pending},
    )

    dropped = partitions.prune(session, retention=6, now=DECEMBER)

    assert "outbox_p202601" in dropped
    assert "outbox_p202602" not in dropped  # a pending row keeps its month
    assert "outbox_p202606" not in dropped  # within six months of December
    assert not any(name.startswith(("event", "event_step")) for name in dropped)
    left = set(session.scalars(text("SELECT id FROM outbox")))
    assert delivered not in left and {pending, recent} <= left
    attempts = set(session.scalars(text("SELECT outbox_id FROM delivery_attempt")))
    assert attempts == {pending}
    assert 202601 in partitions.existing_months(session, "event")
    assert session.get(Event, event.id) is not None
    # The daily run does not make the dropped month again.
    assert "outbox_p202601" not in partitions.ensure(session, now=DECEMBER)
    assert 202601 not in partitions.existing_months(session, "outbox")


def test_an_idempotent_resend_returns_the_original_event_kept_by_event_key(dispatch_city):
    session = dispatch_city["session"]
    first = file(dispatch_city, key="phone-7-0001")
    again = file(dispatch_city, key="phone-7-0001")
    assert (again.id, again.created) == (first.id, False)
    keys = session.execute(
        select(EventKey.kind, EventKey.key).where(EventKey.event_id == first.id)
    ).all()
    assert sorted(keys) == sorted(
        [(KeyKind.CODE, first.code), (KeyKind.IDEMPOTENCY, "phone-7-0001")]
    )


def test_a_second_event_with_a_taken_idempotency_key_is_refused_by_event_key(dispatch_city):
    session = dispatch_city["session"]
    first = file(dispatch_city, key="phone-7-0002")
    original = session.get(Event, first.id)
    assert original is not None
    twin = _copy_of(session, dispatch_city, original, idempotency_key="phone-7-0002")
    with pytest.raises(IntegrityError, match="pk_event_key"), session.begin_nested():
        add_event(session, twin)


def test_a_duplicate_code_is_refused(dispatch_city):
    session = dispatch_city["session"]
    original = session.get(Event, file(dispatch_city).id)
    assert original is not None
    twin = _copy_of(session, dispatch_city, original, idempotency_key=None)
    twin.code = original.code
    with pytest.raises(IntegrityError, match="pk_event_key"), session.begin_nested():
        add_event(session, twin)
    # A fresh code in the same district is fine.
    fresh = _copy_of(session, dispatch_city, original, idempotency_key=None)
    with session.begin_nested():
        add_event(session, fresh)
    assert fresh.code != original.code


def _copy_of(session, city, event: Event, *, idempotency_key: str | None) -> Event:  # type: ignore[no-untyped-def]
    from events.models import EventCategory
    from events.schemas import EventReport

    category = session.get(EventCategory, event.category_id)
    report = EventReport(category=category.code, lon=111.292, lat=30.705, description="重复")
    return new_event(
        session,
        actor=city["worker"],
        report=report,
        category=category,
        district=event.district_code,
        at=event.reported_at,
        idempotency_key=idempotency_key,
        status=event.status,
        point=(111.292, 30.705),
        locate_match="inside",
    )


def test_only_the_parents_are_checked_by_the_key_test(session):
    kinds = dict(
        session.execute(
            text(
                "SELECT relname, relkind FROM pg_class WHERE relname IN "
                "('event', 'event_step', 'outbox', 'event_key')"
            )
        ).all()
    )
    assert kinds == {"event": "p", "event_step": "p", "outbox": "p", "event_key": "r"}
    assert partitions.is_partition("event_step_p202612") and partitions.is_partition("event_before")
    assert not partitions.is_partition("event_key") and not partitions.is_partition("event_stage")


def test_a_report_in_a_month_without_its_partition_gets_503_and_saves_nothing(
    client, session, city
):
    from tests.api.event_requests import assert_error, report
    from tests.factories import bearer

    current = month_of(datetime.now(UTC))
    _drop_months_after(session, partitions.add_months(current, -1))  # the current month too
    before = _scalar(session, "SELECT count(*) FROM event")
    response = client.post("/api/events", json=report(), headers=bearer(city["worker"]))
    assert_error(response, 503, "gridgov db partitions", "分区")
    assert response.headers["Retry-After"]
    assert _scalar(session, "SELECT count(*) FROM event") == before
    # Once the months are made again the same report is filed.
    partitions.ensure(session)
    filed = client.post("/api/events", json=report(), headers=bearer(city["worker"]))
    assert filed.status_code == 201, filed.text
