"""`gridgov backup FILE` and `gridgov restore FILE`: the database and the uploads in one file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import clear_errors, console, errors
from gis import local_pg
from gis.backup import BackupError, BackupReport
from gis.backup import backup as write_backup
from gis.backup import restore as read_backup
from gis.config import get_settings
from gis.db import session_scope


def _fail(exc: BackupError) -> typer.Exit:
    errors.print(f"[red]错误 error:[/red] {exc}", highlight=False)
    return typer.Exit(1)


def _summary(report: BackupReport) -> str:
    return (
        f"{report.rows} rows in {len(report.tables)} tables, {len(report.uploads)} upload files "
        f"(migration {report.migration or 'none'}, taken {report.created_at})"
    )


@clear_errors
def backup(
    file: Annotated[Path, typer.Argument(help="the backup to write (a .tar file)")],
) -> None:
    """Back up the database (pg_dump custom format) and the uploads folder into one file."""
    settings = get_settings()
    if settings.uses_local_cluster:
        local_pg.up(settings)
    try:
        report = write_backup(
            url=settings.sqlalchemy_url, upload_dir=settings.upload_dir, target=file
        )
    except BackupError as exc:
        raise _fail(exc) from exc
    console.print(f"备份完成 backed up to {report.path}: {_summary(report)}", highlight=False)


@clear_errors
def restore(
    file: Annotated[Path, typer.Argument(help="a backup written by `gridgov backup`")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="drop the database's contents and overwrite uploads if not empty"
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Restore a backup into an empty database and uploads folder, then check every row
    count and every file's sha256 against the backup."""
    from events.photos import relocate_photos
    from gis.jobs import forget_error_files

    settings = get_settings()
    if settings.uses_local_cluster:
        local_pg.up(settings)
    if replace and not yes:
        typer.confirm(
            f"Drop everything in database {settings.sqlalchemy_url.rsplit('/', 1)[-1]} "
            "and replace it with the backup?",
            abort=True,
        )
    upload_dir = settings.upload_dir.resolve()
    try:
        report = read_backup(
            url=settings.sqlalchemy_url, upload_dir=upload_dir, source=file, replace=replace
        )
    except BackupError as exc:
        raise _fail(exc) from exc
    with session_scope() as session:
        moved = 0
        if report.upload_dir and Path(report.upload_dir) != upload_dir:
            moved = relocate_photos(session, old_root=Path(report.upload_dir), new_root=upload_dir)
        forget_error_files(session)  # backups leave import files out
    console.print(f"恢复完成 restored {file}: {_summary(report)}", highlight=False)
    if moved:
        console.print(f"{moved} photos now point at {upload_dir}", highlight=False)
    console.print("run `gridgov migrate` if this version of gridgov is newer than the backup")


__all__ = ["backup", "restore"]
