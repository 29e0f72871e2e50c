"""Engine, declarative base and the one-transaction-per-unit-of-work session scope."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from gis.config import get_settings
from gis.crs import STORAGE_SRID

__all__ = ["STORAGE_SRID", "Base", "get_engine", "session_factory", "session_scope"]

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


@functools.lru_cache
def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: the configured database)."""
    return create_engine(url or get_settings().sqlalchemy_url, pool_pre_ping=True, future=True)


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
