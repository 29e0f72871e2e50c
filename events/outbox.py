"""Delivering the outbox: HMAC-signed webhooks to department units, retried with backoff.

Every dispatch, return, supervision and closure writes `outbox` rows in the transaction that
changes the event (`events.service.notify`). `gridgov worker` delivers them after commit:

1. **claim** — a short transaction selects due rows (`status = 'pending'`,
   `next_attempt_at <= now`) with `FOR UPDATE SKIP LOCKED`, moves their `next_attempt_at`
   forward by a lease and commits. Concurrent workers skip each other's rows while claiming and
   do not see leased rows afterwards, so no row is posted by two workers at the same time;
2. **post** — with no transaction open, each payload is POSTed to the unit's `webhook_url`;
3. **record** — a new short transaction per row writes a `delivery_attempt` row (status code,
   error, duration: the delivery log) and updates the outbox row, but only if the lease is still
   ours (the leased `next_attempt_at` is the claim token).

Outcomes: any 2xx marks the row `delivered`. Anything else — another status, a timeout, a
refused connection, a unit with a URL but no secret — counts a failed attempt and schedules the
next one after `retry_delay(attempts)`: 30 s · 2^(attempts-1), capped at 1 h, plus up to 10 %
jitter. A row is given up (`dead`) only after `MAX_ATTEMPTS` failures, which by construction
span at least `RETRY_FOR` (48 h); an admin can `replay` it. Within one batch, once a URL has
timed out or refused the connection, the other rows for that URL are not posted again but
counted as failed attempts ("not sent"), so one dead receiver costs one timeout per batch, not
one per row.

A unit without a `webhook_url` reads its events in the app (the dispatcher console): its rows
are marked `delivered` at once with the note `NO_WEBHOOK` in `last_error` and a logged attempt,
so they do not pile up; after a URL is configured, `replay(event_code=…)` sends old ones.

**At-least-once.** A worker that dies between posting and recording leaves the row leased; when
the lease runs out the row is due again and is posted again. A replay also re-sends. Receivers
must therefore de-duplicate, by `X-Gridgov-Delivery` (one outbox row: the same notification to
the same unit) or by `X-Gridgov-Event` + `X-Gridgov-Step` (one transition of one event).

**Request** — `POST <webhook_url>`, body: the outbox payload as UTF-8 JSON
(`event_code`, `step_id`, `kind`, `status`, `category`, `priority`, `unit`, `deadline`, `at`),
headers:

- `Content-Type: application/json; charset=utf-8`
- `X-Gridgov-Event`: event code, e.g. `420502-20261123-000042`
- `X-Gridgov-Step`: id of the event step (transition) being notified
- `X-Gridgov-Kind`: dispatch / return / supervise / close …
- `X-Gridgov-Delivery`: outbox row id, the same on every retry and replay
- `X-Gridgov-Attempt`: 1 for the first try, counting up on retries (restarts after a replay)
- `X-Gridgov-Timestamp`: Unix time in whole seconds when the request was signed
- `X-Gridgov-Signature`: `sha256=` + lower-case hex HMAC-SHA256, keyed with the unit's
  `webhook_secret` (UTF-8), of the bytes `<timestamp>.<body>`

**Verifying** (any language): take the raw request body bytes, compute
`HMAC_SHA256(secret, timestamp_header + "." + body)`, compare it in constant time with the hex
after `sha256=`, and reject timestamps more than a few minutes from your clock (replay
protection). `verify_signature` does exactly this in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import Engine, exists, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from events.exceptions import InvalidReport, NotFound
from events.models import DeliveryAttempt, DeliveryStatus, DepartmentUnit, Event, Outbox
from gis.db import get_engine, session_factory
from people.access import Actor, require_role
from people.models import StaffRole

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
JITTER = 0.10  # up to +10 %, never less, so the schedule below is a lower bound
RETRY_FOR = timedelta(hours=48)
NO_WEBHOOK = "no webhook configured: the unit reads it in the app"
SIGNATURE_MAX_AGE_S = 300
USER_AGENT = "gridgov-webhook/1"
ERROR_BODY_CHARS = 200

SessionFactory = sessionmaker[Session]


def retry_delay(attempts: int, *, jitter: bool = True) -> timedelta:
    """Wait after the `attempts`-th failure: 30 s · 2^(attempts-1), at most 1 h, +0–10 % jitter."""
    exponent = min(max(attempts, 1) - 1, 20)  # 2^20 · 30 s is far past the cap already
    delay = min(FIRST_RETRY * 2**exponent, MAX_RETRY)
    if jitter:
        delay += delay * random.uniform(0, JITTER)
    return delay


def _attempts_to_cover(span: timedelta) -> int:
    """How many attempts it takes for the un-jittered waits between them to reach `span`."""
    attempts, waited = 1, timedelta(0)
    while waited < span:
        waited += retry_delay(attempts, jitter=False)
        attempts += 1
    return attempts


# A row becomes dead on its MAX_ATTEMPTS-th failure: at least RETRY_FOR after its first try.
MAX_ATTEMPTS = _attempts_to_cover(RETRY_FOR)


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The `X-Gridgov-Signature` value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    header: str,
    *,
    max_age_s: float | None = SIGNATURE_MAX_AGE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` at `timestamp` with `secret` (for receivers).

    `timestamp` is the `X-Gridgov-Timestamp` header, `body` the raw request body. With
    `max_age_s`, a timestamp further than that from `now` (Unix seconds, default: the clock)
    is refused, so a captured request cannot be replayed later.
    """
    try:
        moment = int(str(timestamp).strip())
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - moment) > max_age_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, moment, raw), header.strip())


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The request body: the payload as compact UTF-8 JSON (Chinese left readable)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


@dataclass
class DeliveryReport:
    """What one `deliver_due` call (or a whole worker run) did."""

    claimed: int = 0
    delivered: int = 0
    failed: int = 0  # will be retried
    dead: int = 0  # given up after RETRY_FOR of failures
    no_webhook: int = 0  # unit has no URL: left for the app, marked delivered
    released: int = 0  # claimed but handed back unsent (worker stopping, lease running out)
    lost: int = 0  # result not recorded: the row changed under us (lease expired, replay)

    def add(self, other: DeliveryReport) -> None:
        """Add `other`'s counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        """One line for logs and the CLI."""
        parts = [f"{self.claimed} due", f"{self.delivered} delivered", f"{self.failed} failed"]
        for name in ("dead", "no_webhook", "released", "lost"):
            if value := getattr(self, name):
                parts.append(f"{value} {name.replace('_', ' ')}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Claim:
    """An outbox row leased to this worker, with what it takes to post it."""

    outbox_id: int
    event_code: str
    step_id: int
    kind: str
    payload: dict[str, Any]
    unit_code: str
    url: str | None
    secret: str | None
    attempts: int
    due_at: datetime
    lease_until: datetime


@dataclass(frozen=True)
class Outcome:
    """The result of one try: HTTP status, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    # True when the receiver could not be reached at all (timeout, refused, DNS): the rest of
    # the batch for the same URL is not tried.
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _factory(engine_or_session_factory: Engine | SessionFactory | None) -> SessionFactory:
    if engine_or_session_factory is None:
        return session_factory(get_engine())
    if isinstance(engine_or_session_factory, Engine):
        return session_factory(engine_or_session_factory)
    return engine_or_session_factory


def _aware(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone (e.g. datetime.now(UTC))")
    return moment


def lease_for(rows: int, timeout_s: float) -> timedelta:
    """How long claimed rows stay hidden from other workers: long enough to post them all."""
    return timedelta(seconds=60 + (2 * rows + 3) * timeout_s)


def claim_due(
    engine_or_session_factory: Engine | SessionFactory | None,
    *,
    now: datetime | None = None,
    batch: int = 100,
    timeout_s: float = 10,
) -> list[Claim]:
    """Lease up to `batch` due rows to this worker in one short, committed transaction."""
    at = _aware(now)
    with _factory(engine_or_session_factory).begin() as session:
        rows = session.execute(
            select(
                Outbox,
                DepartmentUnit.code,
                DepartmentUnit.webhook_url,
                DepartmentUnit.webhook_secret,
            )
            .join(DepartmentUnit, DepartmentUnit.id == Outbox.unit_id)
            .where(Outbox.status == DeliveryStatus.PENDING, Outbox.next_attempt_at <= at)
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(batch)
            .with_for_update(of=Outbox, skip_locked=True)
        ).all()
        if not rows:
            return []
        lease_until = at + lease_for(len(rows), timeout_s)
        claims = []
        for row, unit_code, url, secret in rows:
            claims.append(
                Claim(
                    outbox_id=row.id,
                    event_code=str(row.payload.get("event_code", "")),
                    step_id=row.step_id,
                    kind=row.kind,
                    payload=row.payload,
                    unit_code=unit_code,
                    url=url.strip() if url and url.strip() else None,
                    secret=secret or None,
                    attempts=row.attempts,
                    due_at=row.next_attempt_at,
                    lease_until=lease_until,
                )
            )
            row.next_attempt_at = lease_until
    return claims


def _describe(exc: Exception, url: str, timeout_s: float) -> tuple[str, bool]:
    """A sentence for the delivery log, and whether the receiver was unreachable."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout_s:g} s waiting for {url}", True
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {url} ({exc or 'connection refused'}); is it down?", True
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"webhook URL {url!r} is not a valid http(s) URL; fix the unit's webhook_url", False
    return f"{type(exc).__name__} posting to {url}: {exc}", isinstance(exc, httpx.TransportError)


def post(claim: Claim, *, client: httpx.Client, timeout_s: float = 10) -> Outcome:
    """POST one claimed row to its unit, signed; never raises for network or HTTP errors."""
    assert claim.url is not None
    if not claim.secret:
        return Outcome(
            None,
            f"unit {claim.unit_code} has a webhook URL but no webhook secret; set one so "
            "deliveries can be signed",
            0,
        )
    body = encode_payload(claim.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Gridgov-Event": claim.event_code,
        "X-Gridgov-Step": str(claim.step_id),
        "X-Gridgov-Kind": claim.kind,
        "X-Gridgov-Delivery": str(claim.outbox_id),
        "X-Gridgov-Attempt": str(claim.attempts + 1),
        "X-Gridgov-Timestamp": timestamp,
        "X-Gridgov-Signature": sign(claim.secret, timestamp, body),
    }
    started = time.monotonic()
    try:
        response = client.post(claim.url, content=body, headers=headers, timeout=timeout_s)
    except Exception as exc:  # any failure of one delivery is logged on its row; carry on
        error, unreachable = _describe(exc, claim.url, timeout_s)
        return Outcome(None, error, _ms_since(started), unreachable)
    duration = _ms_since(started)
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, None, duration)
    text = response.text.strip().replace("\n", " ")[:ERROR_BODY_CHARS]
    return Outcome(
        response.status_code,
        f"HTTP {response.status_code} {response.reason_phrase}" + (f": {text}" if text else ""),
        duration,
    )


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def record(
    factory: SessionFactory, claim: Claim, outcome: Outcome, *, at: datetime
) -> DeliveryStatus | None:
    """Log the attempt and move the row on, in a new transaction; None if the lease was lost."""
    attempts = claim.attempts + 1
    status: DeliveryStatus
    values: dict[str, Any]
    if outcome.ok:
        status, values = DeliveryStatus.DELIVERED, {"delivered_at": at, "last_error": None}
    elif claim.url is None:
        status, values = DeliveryStatus.DELIVERED, {"delivered_at": at, "last_error": NO_WEBHOOK}
    elif attempts >= MAX_ATTEMPTS:
        status, values = DeliveryStatus.DEAD, {"last_error": outcome.error}
    else:
        status, values = (
            DeliveryStatus.PENDING,
            {
                "next_attempt_at": at + retry_delay(attempts),
                "last_error": outcome.error,
            },
        )
    with factory.begin() as session:
        changed = session.execute(
            update(Outbox)
            .where(
                Outbox.id == claim.outbox_id,
                Outbox.status == DeliveryStatus.PENDING,
                Outbox.next_attempt_at == claim.lease_until,
            )
            .values(status=status, attempts=attempts, **values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # a CursorResult
        if changed or session.scalar(select(exists().where(Outbox.id == claim.outbox_id))):
            session.add(
                DeliveryAttempt(
                    outbox_id=claim.outbox_id,
                    at=at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
    if not changed:
        log.warning(
            "outbox %s: attempt logged but not applied; the row changed meanwhile "
            "(lease expired or replayed)",
            claim.outbox_id,
        )
        return None
    return status


def release(factory: SessionFactory, claims: Iterable[Claim]) -> int:
    """Hand claimed, unsent rows back as due at their old time; returns how many."""
    released = 0
    with factory.begin() as session:
        for claim in claims:
            released += session.execute(
                update(Outbox)
                .where(
                    Outbox.id == claim.outbox_id,
                    Outbox.status == DeliveryStatus.PENDING,
                    Outbox.next_attempt_at == claim.lease_until,
                )
                .values(next_attempt_at=claim.due_at)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]  # a CursorResult
    return released


def deliver_due(
    engine_or_session_factory: Engine | SessionFactory | None,
    *,
    now: datetime | None = None,
    batch: int = 100,
    timeout_s: float = 10,
    client: httpx.Client | None = None,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Claim due rows, post each with no transaction open, record each result in its own.

    `now` (time-zone aware) fixes the clock for due-ness, backoff and the log; default: the
    real clock at each step. `stop`, when set, hands the rows not yet posted back at once.
    """
    factory = _factory(engine_or_session_factory)
    clock: Callable[[], datetime] = (lambda: _aware(now)) if now else (lambda: datetime.now(UTC))
    claims = claim_due(factory, now=clock(), batch=batch, timeout_s=timeout_s)
    report = DeliveryReport(claimed=len(claims))
    if not claims:
        return report
    # Stop posting well before the lease runs out, so no other worker can take a row mid-post.
    post_until = time.monotonic() + lease_for(len(claims), timeout_s).total_seconds()
    post_until -= 3 * timeout_s + 5
    own_client = client is None
    http = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
    unreachable: dict[str, str] = {}
    try:
        for index, claim in enumerate(claims):
            if (stop is not None and stop.is_set()) or time.monotonic() > post_until:
                report.released += release(factory, claims[index:])
                break
            at = clock()
            if claim.url is None:
                outcome = Outcome(None, NO_WEBHOOK, 0)
            elif claim.url in unreachable:
                outcome = Outcome(
                    None, f"not sent: {unreachable[claim.url]} (earlier in this batch)", 0
                )
            else:
                outcome = post(claim, client=http, timeout_s=timeout_s)
                if outcome.unreachable and outcome.error:
                    unreachable[claim.url] = outcome.error
            status = record(factory, claim, outcome, at=at)
            if status is None:
                report.lost += 1
            elif claim.url is None:
                report.no_webhook += 1
                log.info("outbox %s: %s (unit %s)", claim.outbox_id, NO_WEBHOOK, claim.unit_code)
            elif status is DeliveryStatus.DELIVERED:
                report.delivered += 1
            elif status is DeliveryStatus.DEAD:
                report.dead += 1
                log.error(
                    "outbox %s to %s given up after %s attempts: %s",
                    claim.outbox_id,
                    claim.unit_code,
                    claim.attempts + 1,
                    outcome.error,
                )
            else:
                report.failed += 1
                log.warning(
                    "outbox %s to %s failed: %s", claim.outbox_id, claim.unit_code, outcome.error
                )
    finally:
        if own_client:
            http.close()
    return report


def replay(
    session: Session,
    *,
    actor: Actor,
    outbox_ids: list[int] | None = None,
    event_code: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Re-queue delivered or dead rows (by id, or all of one event) to be sent again; admins only.

    Rows still pending are left alone (they are queued already). Returns the re-queued ids.
    A replay keeps the outbox id, so `X-Gridgov-Delivery` repeats: a receiver that already has
    the delivery may ignore it, one that lost it takes it.
    """
    require_role(actor, frozenset({StaffRole.ADMIN}), "replay webhook deliveries")
    if (outbox_ids is None) == (event_code is None):
        raise InvalidReport("give either outbox ids or an event code to replay, not both")
    at = _aware(now)
    query = select(Outbox.id, Outbox.status)
    if event_code is not None:
        event_id = session.scalar(select(Event.id).where(Event.code == event_code.strip()))
        if event_id is None:
            raise NotFound(f"event {event_code} does not exist")
        query = query.where(Outbox.event_id == event_id)
    else:
        wanted = sorted(set(outbox_ids or []))
        query = query.where(Outbox.id.in_(wanted))
    found = {i: status for i, status in session.execute(query.with_for_update())}
    if outbox_ids is not None and (missing := sorted(set(outbox_ids) - set(found))):
        raise NotFound(f"outbox rows {', '.join(map(str, missing))} do not exist")
    requeue = sorted(i for i, status in found.items() if status is not DeliveryStatus.PENDING)
    if requeue:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(requeue))
            .values(
                status=DeliveryStatus.PENDING,
                next_attempt_at=at,
                attempts=0,
                delivered_at=None,
                last_error=f"replayed by {actor.username} at {at.isoformat()}",
            )
            .execution_options(synchronize_session="fetch")
        )
    log.info("%s replayed outbox rows %s", actor.username, requeue)
    return requeue


def run_worker(
    *,
    poll_s: float = 2.0,
    once: bool = False,
    stop: threading.Event | None = None,
    engine: Engine | None = None,
    batch: int = 100,
    timeout_s: float = 10,
    on_batch: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Deliver due rows until stopped (SIGINT/SIGTERM or `stop`); `once`: one batch, then return.

    A full batch is followed at once by the next; otherwise the loop waits `poll_s`. If the
    database goes away later the loop logs it and keeps trying; unreachable on the first
    batch, it raises. Returns the totals.
    """
    stop = stop or threading.Event()
    factory = session_factory(engine or get_engine())
    totals = DeliveryReport()
    reached_database = False
    restore = _stop_on_signals(stop)
    try:
        with httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT}) as client:
            while not stop.is_set():
                try:
                    report = deliver_due(
                        factory, batch=batch, timeout_s=timeout_s, client=client, stop=stop
                    )
                except OperationalError as exc:
                    if once or not reached_database:
                        raise
                    log.error("database unreachable, retrying: %s", str(exc.orig or exc).strip())
                    stop.wait(max(poll_s, 5.0))
                    continue
                reached_database = True
                totals.add(report)
                if on_batch is not None and (report.claimed or once):
                    on_batch(report)
                if once:
                    break
                if report.claimed < batch:
                    stop.wait(poll_s)
    finally:
        restore()
    return totals


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set `stop` (a second SIGINT interrupts at once); returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be installed from the main thread
    previous: dict[int, Any] = {
        sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current delivery, then stopping", signum)
        stop.set()
        signal.signal(signum, previous[signum] or signal.SIG_DFL)

    for sig in previous:
        signal.signal(sig, handle)

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler or signal.SIG_DFL)

    return undo


__all__ = [
    "MAX_ATTEMPTS",
    "NO_WEBHOOK",
    "RETRY_FOR",
    "Claim",
    "DeliveryReport",
    "Outcome",
    "claim_due",
    "deliver_due",
    "encode_payload",
    "post",
    "record",
    "release",
    "replay",
    "retry_delay",
    "run_worker",
    "sign",
    "verify_signature",
]
