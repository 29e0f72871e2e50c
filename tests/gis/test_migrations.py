"""Migrations build exactly the tables the models describe, and can be undone and redone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import events.models  # noqa: F401  (registers the tables)
import gis.jobs  # noqa: F401
import grid.models  # noqa: F401
import people.models  # noqa: F401
from gis import local_pg
from gis.db import Base
from gis.migrate import alembic_config, current, upgrade
from gis.partitions import is_partition


@pytest.fixture(scope="module")
def scratch_url(database_url: str) -> Iterator[str]:
    url = make_url(database_url)
    text = url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
    local_pg.drop_database(text)
    local_pg.ensure_database(text)
    yield text
    local_pg.drop_database(text)


def _ours(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and reflected and compare_to is None:
        return False  # PostGIS's own tables
    if type_ == "foreign_key_constraint" and reflected and is_partition(obj.referred_table.name):
        return False  # a foreign key to a partitioned table, reflected again per partition
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_migrated_schema_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _ours})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_nothing_and_upgrade_again(scratch_url):
    upgrade(scratch_url)
    head = current(scratch_url)
    command.downgrade(alembic_config(scratch_url), "base")
    engine = create_engine(scratch_url)
    leftover = set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    engine.dispose()
    assert leftover == set()
    upgrade(scratch_url)
    assert current(scratch_url) == head


def test_0009_rewrites_stored_id_masks_that_showed_the_sequence_digits(scratch_url):
    upgrade(scratch_url)
    command.downgrade(alembic_config(scratch_url), "0008")
    engine = create_engine(scratch_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO resident (doc_type, doc_enc, doc_hash, doc_masked, name, sex, "
                "residence_type, active, updated_at) VALUES "
                "('id_card', '\\x00', '\\x00', '420502********123X', '张三', 'male', "
                "'registered', true, now()), "
                "('passport', '\\x00', '\\x01', 'E1*****78', 'John', 'male', "
                "'registered', true, now())"
            )
        )
        rid = connection.scalar(text("SELECT min(id) FROM resident"))
        connection.execute(
            text(
                "INSERT INTO special_group (resident_id, group_type, details, started_on, "
                "visit_interval_days, next_visit_due) VALUES (:rid, 'disabled', "
                """'{"certificate_number": "420502********123X42", "grade": 2}', """
                "'2025-01-01', 30, '2025-02-01')"
            ),
            {"rid": rid},
        )
    upgrade(scratch_url)
    with engine.connect() as connection:
        masks = connection.scalars(text("SELECT doc_masked FROM resident ORDER BY id")).all()
        certificate = connection.scalar(
            text("SELECT details->>'certificate_number' FROM special_group")
        )
        connection.execute(text("DELETE FROM special_group"))
        connection.execute(text("DELETE FROM resident"))
        connection.commit()
    engine.dispose()
    assert masks == ["420502***********X", "E1*****78"]
    assert certificate == "420502***********X42"
