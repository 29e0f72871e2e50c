"""Backups (备份): the database as a pg_dump custom-format archive plus the uploads folder.

A backup is one tar file holding

- `database.dump`: `pg_dump --format=custom` of the whole database, taken on an exported
  snapshot, so the row counts in the manifest are exactly the rows in the dump;
- `uploads/...`: every file of UPLOAD_DIR (event photos and their thumbnails) except
  `imports/`, whose uploads and error files hold clear ID numbers and expire within days;
  copied after the dump, so every photo a dumped row names is there (photos are
  content-addressed and never change);
- `manifest.json`: format version, time, migration, rows per table, sha256 per upload.

Restoring checks the archive, loads the dump into an empty database in one transaction
(`--replace` drops and recreates a non-empty one first), unpacks the uploads and checks that
every table has the rows and every file the sha256 the manifest says. The pg_dump and
pg_restore binaries are those of the local PostgreSQL installation (see `local_pg`); they
connect over TCP with the URL's credentials.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis import local_pg

__all__ = ["BackupError", "BackupReport", "backup", "restore"]

FORMAT: Final = "gridgov-backup"
VERSION: Final = 1
DUMP_NAME: Final = "database.dump"
MANIFEST_NAME: Final = "manifest.json"
UPLOADS_PREFIX: Final = "uploads"
# Not backed up: import uploads and error files (clear ID numbers, deleted within days).
SKIPPED_UPLOAD_DIRS: Final = ("imports",)
# PostGIS's own table: its rows come with the extension.
SKIPPED_TABLES: Final = ("spatial_ref_sys",)


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass
class BackupReport:
    """What a backup holds, or what a restore put back."""

    path: Path
    created_at: str
    migration: str | None
    tables: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # relative path → sha256
    upload_dir: str | None = None  # where the uploads were when backed up

    @property
    def rows(self) -> int:
        """Rows in all tables."""
        return sum(self.tables.values())


def _libpq_url(url: str) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver suffix)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    try:
        return str(local_pg._bin_dir() / name)
    except local_pg.ClusterError:
        found = shutil.which(name)
        if found:
            return found
        raise BackupError(
            f"{name} was not found; install the PostgreSQL client of the server's version "
            "(postgresql-client-15) or set PG_BIN to its bin directory"
        ) from None


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {' / '.join(detail[-5:]) or 'no message'}")


def _connect(url: str) -> Any:
    try:
        return psycopg2.connect(_libpq_url(url))
    except psycopg2.OperationalError as exc:
        raise BackupError(f"cannot connect to the database: {str(exc).strip()}") from exc


def _our_tables(cur: Any) -> list[str]:
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND NOT c.relispartition ORDER BY c.relname"
    )
    return [name for (name,) in cur.fetchall() if name not in SKIPPED_TABLES]


def _counts(cur: Any) -> dict[str, int]:
    counts = {}
    for table in _our_tables(cur):
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = int(cur.fetchone()[0])
    return counts


def _migration(cur: Any) -> str | None:
    cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    row = cur.fetchone()
    return str(row[0]) if row else None


def _upload_files(upload_dir: Path) -> Iterator[tuple[str, Path]]:
    """(path inside the archive, file) for every upload worth keeping, in a stable order."""
    if not upload_dir.is_dir():
        return
    for path in sorted(upload_dir.rglob("*")):
        relative = path.relative_to(upload_dir)
        if relative.parts[0] in SKIPPED_UPLOAD_DIRS or not path.is_file():
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue  # a photo being written right now
        yield relative.as_posix(), path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def backup(*, url: str, upload_dir: Path, target: Path) -> BackupReport:
    """Write a backup of the database at `url` and of `upload_dir` to `target` (a tar file)."""
    target = target.resolve()
    if target.is_relative_to(upload_dir.resolve()):
        raise BackupError(f"{target} is inside the uploads folder; write the backup elsewhere")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gridgov-backup-", dir=target.parent) as scratch:
        dump = Path(scratch) / DUMP_NAME
        connection = _connect(url)
        try:
            connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with connection.cursor() as cur:
                # pg_dump reads the same snapshot as the counts, while this transaction is open.
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
                tables = _counts(cur)
                migration = _migration(cur)
                _run(
                    [
                        _tool("pg_dump"),
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={dump}",
                        f"--dbname={_libpq_url(url)}",
                    ],
                    "pg_dump",
                )
        finally:
            connection.close()
        report = BackupReport(
            path=target,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            migration=migration,
            tables=tables,
            upload_dir=str(upload_dir.resolve()),
        )
        files = list(_upload_files(upload_dir))
        report.uploads = {name: _sha256(path) for name, path in files}
        manifest = json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "created_at": report.created_at,
                "migration": migration,
                "tables": tables,
                "uploads": report.uploads,
                "upload_dir": report.upload_dir,
            },
            ensure_ascii=False,
            indent=1,
        ).encode()
        part = Path(scratch) / "backup.tar"
        # The archive holds personal data (encrypted) and photos: readable by us only.
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(manifest), int(datetime.now().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(manifest))
            tar.add(dump, arcname=DUMP_NAME)
            for name, path in files:
                tar.add(path, arcname=f"{UPLOADS_PREFIX}/{name}")
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, target)
    return report


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST_NAME)
        handle = tar.extractfile(member)
        assert handle is not None
        manifest = json.loads(handle.read())
    except (KeyError, AssertionError, ValueError) as exc:
        raise BackupError(
            f"{source} is not a gridgov backup (it has no readable manifest)"
        ) from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(
            f"{source} is a backup of format {manifest.get('format')} "
            f"v{manifest.get('version')}; this version of gridgov restores {FORMAT} v{VERSION}"
        )
    return dict(manifest)


def _safe_name(name: str, source: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BackupError(f"{source} names a file outside the restore folder ({name}); refused")
    return path


def _database_is_empty(url: str) -> bool:
    connection = _connect(url)
    try:
        with connection.cursor() as cur:
            return not _our_tables(cur)
    finally:
        connection.close()


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def restore(*, url: str, upload_dir: Path, source: Path, replace: bool = False) -> BackupReport:
    """Restore a backup into the database at `url` and into `upload_dir`.

    Refuses (BackupError) a database that already has tables, or an uploads folder that
    already has files, unless `replace`: the database is then dropped and created again,
    and the uploads folder's files are overwritten by the backup's (photos are named by
    their content, so the same name holds the same bytes).
    """
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    if not tarfile.is_tarfile(source):
        raise BackupError(f"{source} is not a gridgov backup (not a tar file)")
    with (
        tarfile.open(source, mode="r:") as tar,
        tempfile.TemporaryDirectory(prefix="gridgov-restore-") as scratch,
    ):
        manifest = _read_manifest(tar, source)
        members = {m.name: m for m in tar.getmembers()}
        if DUMP_NAME not in members:
            raise BackupError(f"{source} has no {DUMP_NAME}; the backup is incomplete")
        for name in members:
            _safe_name(name, source)
        local_pg.ensure_database(url)  # a database that does not exist yet is empty
        if not replace and not _database_is_empty(url):
            raise BackupError(
                f"the database {make_url(url).database} already has tables; restore into a "
                "new database (a DATABASE_URL naming one that does not exist yet: restore "
                "creates it), or pass --replace to drop everything in this one first"
            )
        if not replace and _has_files(upload_dir):
            raise BackupError(
                f"the uploads folder {upload_dir} already has files; restore into an empty "
                "folder (UPLOAD_DIR), or pass --replace to overwrite them"
            )
        dump = Path(scratch) / DUMP_NAME
        handle = tar.extractfile(members[DUMP_NAME])
        assert handle is not None
        with dump.open("wb") as out:
            shutil.copyfileobj(handle, out, 1 << 20)
        if replace:
            local_pg.drop_database(url)
        local_pg.ensure_database(url)
        _run(
            [
                _tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                f"--dbname={_libpq_url(url)}",
                str(dump),
            ],
            "pg_restore",
        )
        _unpack_uploads(tar, manifest, upload_dir, source)
    report = BackupReport(
        path=source,
        created_at=str(manifest["created_at"]),
        migration=manifest.get("migration"),
        tables=dict(manifest["tables"]),
        uploads=dict(manifest["uploads"]),
        upload_dir=manifest.get("upload_dir"),
    )
    _check_restored(url, upload_dir, report)
    return report


def _unpack_uploads(
    tar: tarfile.TarFile, manifest: dict[str, Any], upload_dir: Path, source: Path
) -> None:
    upload_dir.mkdir(parents=True, exist_ok=True)
    for name in manifest["uploads"]:
        relative = _safe_name(name, source)
        try:
            handle = tar.extractfile(f"{UPLOADS_PREFIX}/{relative}")
        except KeyError:
            handle = None
        if handle is None:
            raise BackupError(f"{source} lacks the upload {name} its manifest lists")
        target = upload_dir.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.restore")
        with part.open("wb") as out:
            shutil.copyfileobj(handle, out, 1 << 20)
        os.replace(part, target)


def _check_restored(url: str, upload_dir: Path, report: BackupReport) -> None:
    """Every table has the rows and every upload the sha256 the backup recorded."""
    connection = _connect(url)
    try:
        with connection.cursor() as cur:
            counts = _counts(cur)
    finally:
        connection.close()
    wrong = [
        f"{table} has {counts.get(table, 0)} rows, the backup {rows}"
        for table, rows in report.tables.items()
        if counts.get(table, 0) != rows
    ]
    wrong += [
        f"{name} differs from the backup"
        for name, digest in report.uploads.items()
        if _sha256(upload_dir / name) != digest
    ]
    if wrong:
        raise BackupError("the restore does not match the backup: " + "; ".join(wrong[:10]))
