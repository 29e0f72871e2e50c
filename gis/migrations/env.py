"""Alembic environment: migrates the database named by the caller (or the settings)."""

from __future__ import annotations

import importlib
from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from gis.config import get_settings
from gis.db import Base
from gis.partitions import is_partition

# Domain tables register themselves on Base.metadata when their models are imported; a
# package that does not exist yet (people, events) simply adds nothing.
for module in ("grid.models", "people.models", "events.models", "gis.jobs"):
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # PostGIS's own tables (spatial_ref_sys, tiger …) are not ours to migrate.
    if type_ == "table" and reflected and compare_to is None:
        return False
    # A foreign key to a partitioned table is reflected once more for each partition.
    if type_ == "foreign_key_constraint" and reflected and is_partition(obj.referred_table.name):
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def run_migrations() -> None:
    """Run the migrations online, in one transaction."""
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=_include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
