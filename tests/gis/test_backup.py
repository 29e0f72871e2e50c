"""`gridgov backup` and `gridgov restore`, run as an operator runs them, on committed data.

A scratch database gets a small city, residents, events and photos; it is backed up, the
backup is restored into a fresh database and uploads folder, and every table must have the
same rows and every photo the same bytes (sha256) and still be served.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from events.models import Attachment
from events.schemas import EventReport
from events.service import report_event
from gis import local_pg
from gis.db import session_scope
from people.ledger import import_residents
from tests.api.import_files import ledger_csv, person
from tests.events.workflow_city import SPOT, build_city, photo
from tests.factories import add_building, add_house, fresh_database, square

GRIDGOV = str(Path(sys.executable).parent / "gridgov")


def gridgov(*args: str, url: str, upload_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the `gridgov` command on database `url` with its uploads in `upload_dir`."""
    env = os.environ | {"DATABASE_URL": url, "UPLOAD_DIR": str(upload_dir), "COLUMNS": "200"}
    return subprocess.run(
        [GRIDGOV, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def scratch_url(base: str, suffix: str) -> str:
    url = make_url(base)
    return url.set(database=f"{url.database}{suffix}").render_as_string(hide_password=False)


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'spatial_ref_sys' ORDER BY tablename"
                )
            ).all()
            return {t: connection.scalar(text(f'SELECT count(*) FROM "{t}"')) or 0 for t in tables}
    finally:
        engine.dispose()


def photos_of(url: str) -> dict[str, tuple[str, str]]:
    """sha256 → (photo path, thumbnail path) as stored in the database."""
    engine = create_engine(url)
    try:
        with session_scope(engine) as session:
            return {
                a.sha256: (a.path, a.thumbnail_path) for a in session.scalars(select(Attachment))
            }
    finally:
        engine.dispose()


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def source(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A committed database with grids, staff, residents, events with photos, and its uploads."""
    url = fresh_database(database_url, "_backup_src")
    uploads = tmp_path_factory.mktemp("source") / "uploads"
    engine = create_engine(url)
    with session_scope(engine) as session:
        city = build_city(session)
        building = add_building(session, "BA", square(111.281, 30.701, 0.0002), "420502001001001")
        add_house(session, building, room="0201")
        ledger = tmp_path_factory.mktemp("ledger") / "台账.csv"
        ledger.write_bytes(ledger_csv(*(person(n, f"居民{n}") for n in range(1, 6))))
        import_residents(session, actor=city["admin"], path=ledger)
        for colour in ("red", "green", "blue"):
            report_event(
                session,
                actor=city["worker"],
                report=EventReport(
                    category="0101", lon=SPOT[0], lat=SPOT[1], description=f"{colour} 楼道堆物"
                ),
                photos=[photo(colour)],
                photo_dir=uploads,
            )
    engine.dispose()
    # Import files are not backed up: they hold clear ID numbers and expire within days.
    (uploads / "imports" / "abc").mkdir(parents=True)
    (uploads / "imports" / "abc" / "台账.csv").write_text("420502198506150011")
    yield {"url": url, "uploads": uploads}
    local_pg.drop_database(url)


@pytest.fixture
def target(database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database that does not exist yet and an uploads folder elsewhere."""
    url = scratch_url(database_url, "_backup_dst")
    local_pg.drop_database(url)
    yield {"url": url, "uploads": tmp_path / "restored" / "uploads"}
    local_pg.drop_database(url)


def test_a_backup_restored_into_a_fresh_database_has_every_row_and_every_photo(
    source, target, tmp_path
):
    backup_file = tmp_path / "gridgov.tar"
    made = gridgov("backup", str(backup_file), url=source["url"], upload_dir=source["uploads"])
    assert made.returncode == 0, made.stderr
    assert "backed up" in made.stdout
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    with tarfile.open(backup_file) as tar:
        names = tar.getnames()
    assert "database.dump" in names and "manifest.json" in names
    assert not [n for n in names if "imports" in n]  # clear-ID import files are left out

    restored = gridgov("restore", str(backup_file), url=target["url"], upload_dir=target["uploads"])
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout

    before, after = row_counts(source["url"]), row_counts(target["url"])
    assert before["resident"] == 5 and before["event"] == 3 and before["attachment"] == 3
    assert after == before
    originals, copies = photos_of(source["url"]), photos_of(target["url"])
    assert set(copies) == set(originals) and len(copies) == 3
    for sha, (photo_path, thumb_path) in copies.items():
        # Every photo is in the new uploads folder, with the same bytes, where its row says.
        assert Path(photo_path).is_relative_to(target["uploads"].resolve())
        assert digest(photo_path) == sha == digest(originals[sha][0])
        assert digest(thumb_path) == digest(originals[sha][1])


def test_restore_refuses_a_database_that_is_not_empty_unless_told_to_replace_it(
    source, target, tmp_path
):
    backup_file = tmp_path / "gridgov.tar"
    made = gridgov("backup", str(backup_file), url=source["url"], upload_dir=source["uploads"])
    assert made.returncode == 0, made.stderr
    # The source database itself has tables: restoring over it is refused, nothing changes.
    before = row_counts(source["url"])
    refused = gridgov("restore", str(backup_file), url=source["url"], upload_dir=tmp_path / "u")
    assert refused.returncode == 1
    assert "already has tables" in refused.stderr and "--replace" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert row_counts(source["url"]) == before and not (tmp_path / "u").exists()

    # A fresh target that got a stray row: --replace drops it and restores the backup.
    first = gridgov("restore", str(backup_file), url=target["url"], upload_dir=target["uploads"])
    assert first.returncode == 0, first.stderr
    engine = create_engine(target["url"])
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM event_step WHERE id = (SELECT max(id) FROM event_step)")
        )
    engine.dispose()
    again = gridgov(
        "restore",
        str(backup_file),
        "--replace",
        "--yes",
        url=target["url"],
        upload_dir=target["uploads"],
    )
    assert again.returncode == 0, again.stderr
    assert row_counts(target["url"]) == before


def test_a_file_that_is_not_a_backup_is_refused_with_a_sentence(target, tmp_path):
    bogus = tmp_path / "photo.tar"
    bogus.write_bytes(b"not a tar at all")
    result = gridgov("restore", str(bogus), url=target["url"], upload_dir=target["uploads"])
    assert result.returncode == 1 and "not a gridgov backup" in result.stderr
    missing = gridgov(
        "restore", str(tmp_path / "nope.tar"), url=target["url"], upload_dir=target["uploads"]
    )
    assert missing.returncode == 1 and "does not exist" in missing.stderr
