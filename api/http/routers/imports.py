"""File imports as jobs (admins upload, then follow progress and fetch the error file) and
exports of the resident ledger, grids and buildings; the ledger template."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile as StarletteUpload

from api.http.auth import ADMIN, ALL_STAFF, allow
from api.http.bodies import validate_fields
from api.http.deps import ReadSessionDep, SessionDep
from api.http.errors import ApiError
from api.import_jobs import ImportRunner, open_private
from api.schemas import ImportForm, JobRead
from events.directory import districts_seen
from gis.clock import local_today
from gis.crs import Crs
from gis.jobs import ImportJob, JobStatus, error_file_expired, get_job, list_jobs
from grid import io as grid_io
from people import ledger
from people.access import READ_PERSONS, Actor

router = APIRouter(prefix="/api", tags=["imports 导入导出"])

Admin = Annotated[Actor, allow(ADMIN)]
JobId = Annotated[int, PathParam(ge=1, le=2_147_483_647)]

KIND_LABELS: Final = {"residents": "实有人口台账", "grids": "网格", "buildings": "建筑"}
# Accepted suffixes per kind; shapefiles come in several files, so they are not uploaded.
SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "residents": (".csv", ".xlsx"),
    "grids": (".geojson", ".json", ".gpkg", ".csv"),
    "buildings": (".geojson", ".json", ".gpkg", ".csv"),
}
MEDIA_TYPES: Final = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".geojson": "application/geo+json",
    ".gpkg": "application/geopackage+sqlite3",
}
CHUNK: Final = 1 << 20
# A ledger's sheets inflate to a few times the workbook; far more is a zip bomb.
MAX_XLSX_EXPANDED: Final = 2 * 1024 * CHUNK
_runner_lock = threading.Lock()


def runner_of(request: Request) -> ImportRunner:
    """The app's import runner: background threads, unless one was installed on `app.state`
    (tests install an inline runner, as their data is never committed for other sessions)."""
    with _runner_lock:
        runner: ImportRunner | None = getattr(request.app.state, "import_runner", None)
        if runner is None:
            runner = ImportRunner()
            request.app.state.import_runner = runner
    return runner


def _job_read(job: ImportJob) -> JobRead:
    status_ = JobStatus(job.status)
    return JobRead(
        id=job.id,
        kind=job.kind,
        kind_label=KIND_LABELS[job.kind],
        filename=job.filename,
        status=status_.value,
        status_label=status_.label,
        total=job.total,
        processed=job.processed,
        imported=job.imported,
        rejected=job.rejected,
        error_report_url=f"/api/imports/{job.id}/errors" if job.error_path else None,
        error_report_expires_at=job.error_expires_at if job.error_path else None,
        message=job.message,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _load_job(session: Session, job_id: int) -> ImportJob:
    job = get_job(session, job_id=job_id)
    if job is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, f"import job {job_id} does not exist")
    return job


# --- checks on the upload ----------------------------------------------------------------------


def _too_large(limit: int) -> ApiError:
    return ApiError(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the file is larger than {limit // (1024 * 1024)} MB; split it into smaller files "
        "(by street or community) and import them one after the other",
        field="file",
    )


def _check_suffix(kind: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in SUFFIXES[kind]:
        return suffix
    hint = ""
    if suffix == ".xls":
        hint = " (an old Excel .xls file: save it as .xlsx)"
    elif suffix in (".shp", ".zip", ".dbf", ".shx"):
        hint = " (a shapefile has several parts: save it as GeoPackage or GeoJSON first)"
    raise ApiError(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"{filename or 'the file'} is not a file type {kind} are imported from{hint}; "
        f"use one of {', '.join(SUFFIXES[kind])}",
        field="file",
    )


def _save(source: IO[bytes], target: Path, limit: int) -> int:
    """Copy the upload to `target` (private), refusing it (413) once it passes `limit` bytes."""
    size = 0
    with open_private(target) as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                target.unlink(missing_ok=True)
                raise _too_large(limit)
            out.write(chunk)
    return size


def _check_content(path: Path, filename: str, suffix: str) -> None:
    """Refuse (415) a file whose first bytes do not match its suffix."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    zipped = head.startswith(b"PK\x03\x04")
    if suffix == ".xlsx":
        ok, expected = zipped, "an Excel .xlsx workbook"
    elif suffix == ".gpkg":
        ok, expected = head.startswith(b"SQLite format 3\x00"), "a GeoPackage"
    elif suffix in (".geojson", ".json"):
        ok, expected = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"), "GeoJSON"
    else:
        ok, expected = not zipped and b"\x00" not in head, "CSV text"
    if not ok:
        raise ApiError(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"{filename} is named {suffix} but its content is not {expected}; "
            "save it again in that format, or give it the suffix of what it is",
            field="file",
        )
    if suffix == ".xlsx":
        _check_workbook(path, filename)
    elif suffix == ".gpkg":
        _check_geopackage(path, filename)


def _broken(filename: str, what: str) -> ApiError:
    return ApiError(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"{filename} is {what}; open it in Excel or QGIS, save it again and upload the new file",
        field="file",
    )


def _check_workbook(path: Path, filename: str) -> None:
    """Refuse a damaged .xlsx (422) or one that would expand past what a ledger needs (413).

    The sizes are the archive's own declarations; reading never goes past them, so a zip bomb
    is refused here, before one byte is inflated.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _broken(
            filename, "a damaged Excel workbook (its zip archive cannot be read)"
        ) from None
    if "xl/workbook.xml" not in names:
        raise _broken(filename, "a zip archive but not an Excel .xlsx workbook")
    expanded = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if expanded > MAX_XLSX_EXPANDED or (expanded > 50 * CHUNK and expanded / packed > 200):
        raise ApiError(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{filename} expands to {expanded // CHUNK} MB when opened (from {packed // CHUNK} "
            "MB), more than a ledger holds; it is refused as a possible zip bomb — save the "
            "sheet again as .xlsx or CSV",
            field="file",
        )


def _check_geopackage(path: Path, filename: str) -> None:
    """Refuse (422) a .gpkg that is no readable GeoPackage (SQLite with gpkg_contents)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            db.execute("SELECT count(*) FROM gpkg_contents").fetchone()
    except sqlite3.Error:
        raise _broken(filename, "a damaged GeoPackage (no readable gpkg_contents table)") from None


# --- imports -----------------------------------------------------------------------------------


@dataclass
class ImportUpload:
    """An import's form as received: its fields and the file (spooled by the form parser)."""

    form: ImportForm
    file: StarletteUpload


async def read_import_form(request: Request) -> ImportUpload:
    """The import form, read only once the gate before it has admitted the caller.

    Declared as File/Form parameters, FastAPI would read (and spool to disk) the whole upload
    before any dependency ran, for anyone who asked; here the gate runs first.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise ApiError(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"a body of type '{media or 'none'}' cannot carry a file; upload the file as "
            "multipart/form-data with the fields kind and file",
        )
    form = await request.form(max_files=1, max_fields=10)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    parsed = validate_fields(ImportForm, fields)
    file = form.get("file")
    if not isinstance(file, StarletteUpload):
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "file is missing; send the file to import in the form field 'file'",
            field="file",
        )
    return ImportUpload(parsed, file)


_IMPORT_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["residents", "grids", "buildings"]},
                        "file": {"type": "string", "format": "binary"},
                        "crs": {
                            "type": "string",
                            "enum": [c.value for c in Crs],
                            "default": Crs.CGCS2000.value,
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/imports",
    response_model=JobRead,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_IMPORT_BODY,
)
def start_import(
    session: SessionDep,
    actor: Admin,
    request: Request,
    upload: Annotated[ImportUpload, Depends(read_import_form)],
) -> JobRead:
    """Upload a file to import (form fields kind, file, crs); the job runs in the background
    (follow it at its URL)."""
    kind, crs, file = upload.form.kind, upload.form.crs, upload.file
    runner = runner_of(request)
    declared = request.headers.get("content-length", "")
    # Refused before reading when the size is declared (the multipart envelope adds a little).
    if declared.isdigit() and int(declared) > runner.max_bytes + CHUNK:
        raise _too_large(runner.max_bytes)
    filename = file.filename or ""
    suffix = _check_suffix(kind, filename)
    target = runner.new_upload_path(filename)
    try:
        size = _save(file.file, target, runner.max_bytes)
        if size == 0:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{filename} is empty; choose the filled-in file and upload it again",
                field="file",
            )
        _check_content(target, filename, suffix)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    job = runner.submit(
        session,
        actor=actor,
        kind=kind,
        filename=Path(filename.replace("\\", "/")).name[:255],
        path=target,
        crs=crs.value if kind != "residents" else None,
    )
    return _job_read(job)


@router.get("/imports", response_model=list[JobRead])
def list_imports(
    session: SessionDep, actor: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[JobRead]:
    """The most recent import jobs, newest first."""
    return [_job_read(job) for job in list_jobs(session, limit=limit)]


@router.get("/imports/{job_id}", response_model=JobRead)
def get_import(session: SessionDep, actor: Admin, job_id: JobId) -> JobRead:
    """An import job's status and counts."""
    return _job_read(_load_job(session, job_id))


@router.get("/imports/{job_id}/errors", response_class=FileResponse)
def import_errors(session: SessionDep, actor: Admin, job_id: JobId) -> FileResponse:
    """The rejected rows with the reason for each, to correct and import again.

    A ledger's error file holds clear ID numbers: each download writes an access-log row,
    and the file is deleted IMPORT_ERROR_FILE_DAYS after the import (410 after that).
    """
    job = _load_job(session, job_id)
    if job.error_path and error_file_expired(job):
        assert job.error_expires_at is not None
        raise ApiError(
            status.HTTP_410_GONE,
            f"the error file of import job {job_id} expired on "
            f"{job.error_expires_at:%Y-%m-%d %H:%M} UTC and was deleted, as it held personal "
            "data; import the file again to get a new error file",
        )
    if not job.error_path or not Path(job.error_path).is_file():
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            f"import job {job_id} has no error file"
            + (
                " (it is still running)"
                if job.status in (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
                else ": no row was rejected"
            ),
        )
    path = Path(job.error_path)
    if job.kind == "residents":
        ledger.record_error_file_download(
            session, actor=actor, job_id=job.id, filename=job.filename, rows=job.rejected
        )
    stem = Path(job.filename).stem or "import"
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        filename=f"{stem}.errors{path.suffix.lower()}",
    )


# --- exports -----------------------------------------------------------------------------------


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="gridgov-export-"))


def _send(path: Path, download_name: str) -> FileResponse:
    """Stream a written export and delete it afterwards."""
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        filename=download_name,
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


def _stamp() -> str:
    return local_today().strftime("%Y%m%d")


@router.get("/exports/residents", response_class=FileResponse)
def export_residents(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(READ_PERSONS)],
    grid: Annotated[str | None, Query(description="15-digit grid code")] = None,
    area: Annotated[str | None, Query(description="admin code to narrow to")] = None,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "xlsx",
) -> FileResponse:
    """The resident ledger in my scope, ID numbers and phones masked (not re-importable)."""
    folder = _scratch()
    path = folder / f"residents.{fmt}"
    try:
        ledger.export_residents(session, actor=actor, path=path, grid_code=grid, area_code=area)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _send(path, f"residents-{grid or area or 'all'}-{_stamp()}.{fmt}")


LayerFormat = Annotated[
    Literal["geojson", "gpkg", "csv"], Query(alias="format", description="file format")
]


def _export_layer(
    session: Session, actor: Actor, layer: str, area: str | None, fmt: str
) -> FileResponse:
    folder = _scratch()
    path = folder / f"{layer}.{fmt}"
    export = grid_io.export_grids if layer == "grids" else grid_io.export_buildings
    districts = districts_seen(session, actor=actor)  # another district's layer is not yours
    try:
        export(session, path=path, area_code=area, districts=districts)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _send(path, f"{layer}-{area or 'all'}-{_stamp()}.{fmt}")


@router.get("/exports/grids", response_class=FileResponse)
def export_grids(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(ALL_STAFF)],
    area: Annotated[str | None, Query(description="admin code to narrow to")] = None,
    fmt: LayerFormat = "geojson",
) -> FileResponse:
    """Grids as GeoJSON, GeoPackage or CSV with WKT (CGCS2000 lon/lat)."""
    return _export_layer(session, actor, "grids", area, fmt)


@router.get("/exports/buildings", response_class=FileResponse)
def export_buildings(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(ALL_STAFF)],
    area: Annotated[str | None, Query(description="admin code to narrow to")] = None,
    fmt: LayerFormat = "geojson",
) -> FileResponse:
    """Buildings as GeoJSON, GeoPackage or CSV with WKT (CGCS2000 lon/lat)."""
    return _export_layer(session, actor, "buildings", area, fmt)


@router.get(
    "/templates/residents.{suffix}",
    response_class=FileResponse,
    dependencies=[allow(READ_PERSONS)],
)
def resident_template(suffix: Literal["xlsx", "csv"]) -> FileResponse:
    """The empty resident ledger (Chinese headers; the .xlsx has a 说明 sheet and pick lists)."""
    folder = _scratch()
    path = ledger.write_template(folder / f"residents-template.{suffix}")
    return _send(path, f"实有人口台账模板.{suffix}")


__all__ = ["router", "runner_of"]
