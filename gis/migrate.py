"""Apply and create Alembic migrations without an alembic.ini file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`, then create the monthly partitions
    of the case history ahead (`gis.partitions.ensure`) once its tables are partitioned."""
    command.upgrade(alembic_config(url), revision)
    ensure_partitions(url)


def ensure_partitions(url: str) -> list[str]:
    """Create the missing monthly partitions in the database at `url` (none before 0012)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from gis import partitions

    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            return partitions.ensure(session) if partitions.is_partitioned(session) else []
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the database at `url` is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
