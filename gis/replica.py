"""The read replica (只读副本): the one place deciding whether a read goes to it or to the primary.

Read-only dashboards (map pages, tiles, statistics, exports) open a `read_session_scope`;
everything else, and every read that must see the caller's own last write, uses the primary's
`session_scope`. A read session goes to the replica when one is configured, answers, and is at
most REPLICA_MAX_LAG_S behind; otherwise to the primary. Either way it is read-only, so a write
sent through it by mistake fails loudly instead of landing on one server only.

How far behind the replica is (checked at most once per REPLICA_CHECK_S per process):

- caught up (lag 0) when it has replayed the primary's WAL position read just before;
- else at most the age of the newest earlier check whose primary position it has replayed
  (it has everything the primary had then), and at most `now() - pg_last_xact_replay_timestamp()`
  (it has every commit up to the last one it replayed); the smaller bound is the lag.

`pg_last_xact_replay_timestamp()` alone would be wrong on an idle primary: it ages without any
lag. The bounds err on the fresh side: a check that catches the first write after a quiet spell
before the replica has replayed it (milliseconds) bounds the lag by the quiet spell, and the
reads go to the primary until the next check.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from gis.config import get_settings
from gis.db import get_replica_engine, get_request_engine, session_factory

__all__ = ["ReplicaHealth", "ReplicaRouter", "read_router", "read_session_scope"]

ReplicaState = Literal["not_configured", "ok", "lagging", "down"]

# Failures of the replica that send reads to the primary rather than failing the request.
UNREACHABLE = (OperationalError, InterfaceError)

# Primary WAL positions remembered per process (one per check) to bound the replica's lag.
MAX_SAMPLES = 256


@dataclass(frozen=True)
class ReplicaHealth:
    """What the last check found: the state, the lag in seconds and a sentence for people."""

    state: ReplicaState
    max_lag_s: float
    lag_s: float | None = None
    detail: str = ""

    @property
    def serves_reads(self) -> bool:
        """Whether read sessions go to the replica now."""
        return self.state == "ok"

    def report(self) -> dict[str, Any]:
        """The health endpoint's view: state, where dashboard reads go, lag and why."""
        answer: dict[str, Any] = {
            "state": self.state,
            "reads_from": "replica" if self.serves_reads else "primary",
        }
        if self.lag_s is not None:
            answer["lag_s"] = round(self.lag_s, 3)
        if self.state != "not_configured":
            answer["max_lag_s"] = self.max_lag_s
        if self.detail:
            answer["detail"] = self.detail
        return answer


def _lsn(value: str | None) -> int | None:
    """A WAL position ('16/B374D848') as a number."""
    if value is None:
        return None
    high, _, low = value.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


class ReplicaRouter:
    """Sends read sessions to the replica while it is up and close enough, else to the primary."""

    def __init__(
        self, primary: Engine, replica: Engine | None, *, max_lag_s: float, check_s: float
    ) -> None:
        # Read sessions on either server are read-only (psycopg2 opens BEGIN READ ONLY; the
        # option is reset when the connection goes back to the pool).
        self.primary = primary
        self.read_primary = primary.execution_options(postgresql_readonly=True)
        self.replica = replica.execution_options(postgresql_readonly=True) if replica else None
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self._lock = threading.Lock()
        self._last: ReplicaHealth | None = None
        self._checked_at = 0.0
        self._samples: deque[tuple[float, int]] = deque(maxlen=MAX_SAMPLES)

    # -- where a read goes -----------------------------------------------------------------

    def read_engine(self) -> Engine:
        """The engine a read session uses now: the replica if it is healthy, else the primary."""
        if self.replica is not None and self.health().serves_reads:
            return self.replica
        return self.read_primary

    def on_replica(self, session: Session) -> bool:
        """Whether `session` reads from the replica."""
        return self.replica is not None and session.get_bind() is self.replica

    def report_failure(self, exc: BaseException) -> None:
        """The replica failed a read: send reads to the primary until the next check."""
        with self._lock:
            self._last = self._down(f"副本连接失败 the replica failed a read: {_reason(exc)}")
            self._checked_at = time.monotonic()

    # -- its health ------------------------------------------------------------------------

    def health(self) -> ReplicaHealth:
        """The replica's state, measured at most once per `check_s` (others reuse it)."""
        if self.replica is None:
            return ReplicaHealth(
                "not_configured",
                self.max_lag_s,
                detail="未配置只读副本 no DATABASE_REPLICA_URL: dashboards read from the primary",
            )
        last = self._last
        if last is not None and time.monotonic() - self._checked_at < self.check_s:
            return last
        # One request measures; concurrent ones keep the previous answer rather than wait.
        if not self._lock.acquire(blocking=last is None):
            assert last is not None
            return last
        try:
            # Unless another request measured while this one waited for the lock.
            if self._last is last or time.monotonic() - self._checked_at >= self.check_s:
                self._last = self._measure()
                self._checked_at = time.monotonic()
            assert self._last is not None
            return self._last
        finally:
            self._lock.release()

    def _down(self, detail: str) -> ReplicaHealth:
        return ReplicaHealth(
            "down", self.max_lag_s, detail=detail + "；读取改走主库 reads use the primary"
        )

    def _measure(self) -> ReplicaHealth:
        assert self.replica is not None
        primary_lsn = self._primary_position()
        now = time.monotonic()
        try:
            with self.replica.connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                        "extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
                    )
                ).one()
        except DBAPIError as exc:
            return self._down(f"副本不可用 the replica does not answer: {_reason(exc)}")
        in_recovery, replay, since_replay = row
        if not in_recovery:
            # A promoted (or mistaken) server takes writes of its own: never read from it.
            return self._down(
                "副本不是备库 DATABASE_REPLICA_URL is not a standby (pg_is_in_recovery() is false)"
            )
        lag = self._lag(now, primary_lsn, _lsn(replay), since_replay)
        if lag is None or lag > self.max_lag_s:
            behind = "an unknown time" if lag is None else f"{lag:.1f} s"
            return ReplicaHealth(
                "lagging",
                self.max_lag_s,
                lag_s=lag,
                detail=f"副本延迟 the replica is {behind} behind (more than {self.max_lag_s:g} s)"
                "；读取改走主库 reads use the primary",
            )
        return ReplicaHealth("ok", self.max_lag_s, lag_s=lag)

    def _primary_position(self) -> int | None:
        """The primary's WAL write position, remembered as a sample; None if it cannot say."""
        try:
            with self.primary.connect() as connection:
                position = _lsn(connection.scalar(text("SELECT pg_current_wal_lsn()::text")))
        except UNREACHABLE:
            raise  # the primary is down: the request fails with 503 as every other does
        except DBAPIError:
            return None  # e.g. the primary is itself a standby: bound the lag by the replica
        if position is not None:
            self._samples.append((time.monotonic(), position))
        return position

    def _lag(
        self, now: float, primary: int | None, replayed: int | None, since_replay: Any
    ) -> float | None:
        """Seconds the replica is behind at most (see the module docstring); None if unknown."""
        if replayed is None:
            return None
        if primary is not None and replayed >= primary:
            return 0.0
        bounds = []
        if since_replay is not None:
            bounds.append(max(0.0, float(since_replay)))
        replayed_samples = [at for at, position in self._samples if position <= replayed]
        if replayed_samples:
            newest = max(replayed_samples)
            bounds.append(now - newest)
            # Older samples tell nothing more: the replica has replayed past them.
            while self._samples and self._samples[0][0] < newest:
                self._samples.popleft()
        return min(bounds) if bounds else None


@functools.lru_cache
def _router(
    primary_url: str, replica_url: str | None, timeout_s: float, max_lag_s: float, check_s: float
) -> ReplicaRouter:
    replica = (
        get_replica_engine(replica_url, statement_timeout_s=timeout_s) if replica_url else None
    )
    return ReplicaRouter(get_request_engine(), replica, max_lag_s=max_lag_s, check_s=check_s)


def read_router() -> ReplicaRouter:
    """The process's router for the configured primary and replica."""
    settings = get_settings()
    return _router(
        settings.sqlalchemy_url,
        settings.replica_sqlalchemy_url,
        settings.statement_timeout_s,
        settings.replica_max_lag_s,
        settings.replica_check_s,
    )


@contextmanager
def read_session_scope() -> Iterator[Session]:
    """A read-only session for dashboards: on the replica when it is healthy, else the primary.

    A replica that fails to connect sends this read to the primary at once; one whose
    connection is lost in the middle of a read fails that read (503, retry) and sends the next
    ones to the primary.
    """
    router = read_router()
    session = session_factory(router.read_engine())()
    if router.on_replica(session):
        try:
            session.connection()
        except UNREACHABLE as exc:
            router.report_failure(exc)
            session.close()
            session = session_factory(router.read_primary)()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        session.rollback()
        # A lost connection, not a cancelled statement (timeout, recovery conflict).
        if (
            isinstance(exc, DBAPIError)
            and exc.connection_invalidated
            and router.on_replica(session)
        ):
            router.report_failure(exc)
        raise
    finally:
        session.close()
