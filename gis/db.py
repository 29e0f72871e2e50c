"""Engine, declarative base and the one-transaction-per-unit-of-work session scope."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from gis.config import get_settings
from gis.crs import STORAGE_SRID

__all__ = [
    "STORAGE_SRID",
    "Base",
    "NonDurableDatabase",
    "check_durable",
    "get_engine",
    "get_replica_engine",
    "get_request_engine",
    "session_factory",
    "session_scope",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every gridgov table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The settings a crash-safe PostgreSQL has; ENVIRONMENT=production refuses any other value.
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class NonDurableDatabase(RuntimeError):
    """A production process connected to a database that may lose acknowledged commits."""


def durability_problems(dbapi_connection: Any) -> list[str]:
    """The durability settings of a connection's server that differ from DURABLE_SETTINGS.

    `synchronous_commit` may also be `remote_write`, `remote_apply` or `local`: each waits
    for the local WAL flush, so only `off` is a problem.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
            "current_setting('full_page_writes')"
        )
        values = dict(zip(DURABLE_SETTINGS, cursor.fetchone(), strict=True))
    finally:
        cursor.close()
    return [
        f"{name} = {value}"
        for name, value in values.items()
        if (value == "off" if name == "synchronous_commit" else value != DURABLE_SETTINGS[name])
    ]


def refuse_non_durable(dbapi_connection: Any, connection_record: Any = None) -> None:
    """Raise NonDurableDatabase when the connection's server is not crash-safe."""
    problems = durability_problems(dbapi_connection)
    if problems:
        raise NonDurableDatabase(
            "ENVIRONMENT=production refuses a database that can lose acknowledged writes in "
            f"a crash ({', '.join(problems)}); set fsync, synchronous_commit and "
            "full_page_writes to on (the local cluster: start it without PG_DURABILITY=fast)"
        )


@functools.lru_cache
def get_engine(url: str | None = None, *, statement_timeout_s: float = 0) -> Engine:
    """The shared engine for `url` (default: the configured database).

    With `statement_timeout_s` its statements are cancelled after that many seconds. In
    production every new connection is checked to be durable first (refuse_non_durable).
    """
    settings = get_settings()
    connect_args = (
        {"options": f"-c statement_timeout={round(statement_timeout_s * 1000)}"}
        if statement_timeout_s > 0
        else {}
    )
    engine = create_engine(
        url or settings.sqlalchemy_url, pool_pre_ping=True, connect_args=connect_args
    )
    if settings.environment == "production":
        event.listen(engine, "connect", refuse_non_durable)
    return engine


def get_request_engine() -> Engine:
    """The engine of HTTP requests: statements time out after STATEMENT_TIMEOUT_S."""
    settings = get_settings()
    return get_engine(settings.sqlalchemy_url, statement_timeout_s=settings.statement_timeout_s)


# A replica that does not answer within this many seconds counts as down (reads go to the
# primary) rather than holding the request.
REPLICA_CONNECT_TIMEOUT_S = 3


@functools.lru_cache
def get_replica_engine(url: str, *, statement_timeout_s: float = 0) -> Engine:
    """The engine on the read replica at `url`, for requests (see gis.replica).

    Its sessions are read-only, so a write sent there by mistake fails loudly; it connects
    with a short timeout and names itself `gridgov-replica-read` in pg_stat_activity.
    """
    options = "-c default_transaction_read_only=on"
    if statement_timeout_s > 0:
        options += f" -c statement_timeout={round(statement_timeout_s * 1000)}"
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={
            "options": options,
            "connect_timeout": REPLICA_CONNECT_TIMEOUT_S,
            "application_name": "gridgov-replica-read",
        },
    )


def check_durable(engine: Engine | None = None) -> None:
    """Refuse (NonDurableDatabase) a database that is not crash-safe, in production only."""
    if get_settings().environment != "production":
        return
    with (engine or get_engine()).connect() as connection:
        refuse_non_durable(connection.connection.dbapi_connection)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """A sessionmaker bound to `engine` (default: the configured one)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def postgis_version(session: Session) -> str:
    """The PostGIS library version of the connected database."""
    return str(session.execute(text("SELECT postgis_lib_version()")).scalar_one())
