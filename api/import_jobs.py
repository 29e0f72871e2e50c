"""Running import jobs: residents (people.ledger), grids and buildings (grid.importer).

In service a job runs on a background thread with sessions of its own: the import in one
transaction that also marks the job done (so a job is done exactly when its rows are
committed), and progress in short separate transactions that pollers see at once. Run
`inline`, a job runs to the end on the caller's session inside a savepoint, so tests whose
data is never committed can import into it; progress is then only stored at the end.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis import export_guard
from gis.config import get_settings
from gis.db import get_engine, session_scope
from gis.errors import DomainError
from gis.jobs import (
    ImportJob,
    JobStatus,
    Outcome,
    Owner,
    create_job,
    expired_error_files,
    fail_interrupted,
    files_in_use,
    finish_job,
    get_job,
    interrupted_jobs,
    record_heartbeat,
    record_progress,
    start_job,
    watch_client_connection,
)
from grid import importer
from grid.exceptions import ImportRejected
from people.access import Actor
from people.ledger import LedgerImportReport, import_residents

log = logging.getLogger(__name__)

# Progress is written at most this often (seconds) while a background job runs.
PROGRESS_INTERVAL_S: Final = 0.5
# Errors a user can act on: the job fails with their sentence.
FILE_ERRORS: Final = (DomainError,)
ERROR_FILE_HEADER: Final = ("行号 row", "要素 feature", "错误原因 reason")
# Uploads and error files: readable by the server's user only.
PRIVATE_DIR: Final = 0o700
PRIVATE_FILE: Final = 0o600
# Housekeeping (expired files, interrupted jobs) runs this often (seconds) in a server.
HOUSEKEEPING_INTERVAL_S: Final = 600.0

Progress = Callable[[str, int, int], None]


def safe_filename(name: str) -> str:
    """A file name safe to store: no directories, no control or shell characters."""
    base = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name).strip()
    cleaned = re.sub(r"[^\w.\-]+", "_", base).strip("._")
    return cleaned[-120:] or "upload"


class ImportRunner:
    """Stores uploads and runs their import jobs, inline or on background threads."""

    def __init__(
        self,
        *,
        inline: bool = False,
        engine: Engine | None = None,
        upload_dir: Path | None = None,
        max_bytes: int | None = None,
        workers: int = 1,
    ) -> None:
        settings = get_settings()
        self.inline = inline
        self.engine = engine
        self.upload_dir = Path(upload_dir or settings.upload_dir / "imports")
        self.max_bytes = max_bytes or int(settings.max_import_mb * 1024 * 1024)
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._active: set[int] = set()  # jobs queued or running on this runner's threads
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self.lease = timedelta(seconds=settings.import_lease_s)

    def _db(self) -> Engine:
        # The configured database's engine by its URL, resolved when used: a server's runner
        # follows the settings of the moment instead of fixing the process-wide default.
        return self.engine or get_engine(get_settings().sqlalchemy_url)

    def new_upload_path(self, filename: str) -> Path:
        """A fresh path for an uploaded file, in a private directory of its own."""
        private_dir(self.upload_dir)
        folder = self.upload_dir / uuid.uuid4().hex
        folder.mkdir(mode=PRIVATE_DIR)
        return folder / safe_filename(filename)

    def submit(
        self,
        session: Session,
        *,
        actor: Actor,
        kind: str,
        filename: str,
        path: Path,
        crs: str | None = None,
    ) -> ImportJob:
        """Queue a job for a stored upload and start it; returns the job as it stands."""
        if self.inline:
            job = create_job(
                session,
                kind=kind,
                filename=filename,
                path=str(path),
                staff_id=actor.staff_id,
                crs=crs,
            )
            self._run_inline(session, job.id, actor)
            found = get_job(session, job_id=job.id)
            assert found is not None
            return found
        # The job row is committed first, so the thread (another connection) can read it.
        with session_scope(self._db()) as own:
            job_id = create_job(
                own, kind=kind, filename=filename, path=str(path), staff_id=actor.staff_id, crs=crs
            ).id
        with self._lock:
            self._active.add(job_id)
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix="gridgov-import"
                )
            future = self._executor.submit(self._run_in_background, job_id, actor)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        found = get_job(session, job_id=job_id)
        assert found is not None
        return found

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the jobs started so far have finished."""
        with self._lock:
            pending = set(self._futures)
        wait(pending, timeout=timeout)

    def shutdown(self) -> None:
        """Let running jobs finish and stop the threads."""
        self._stop.set()
        with self._lock:
            executor, self._executor = self._executor, None
            keeper, self._keeper = self._keeper, None
        if executor is not None:
            executor.shutdown(wait=True)
        if keeper is not None:
            keeper.join(timeout=30)

    # --- housekeeping ------------------------------------------------------------------------

    def start_once(self) -> Housekeeping | None:
        """The start-up round of housekeeping alone (for processes that run no imports)."""
        try:
            return self.housekeep(at_startup=True)
        except Exception:
            log.warning("import housekeeping failed", exc_info=True)
            return None

    def start(self, *, interval_s: float = HOUSEKEEPING_INTERVAL_S) -> Housekeeping | None:
        """Tidy up after a crash now, then keep heartbeats and clean up periodically.

        Called when a server process starts; an inline runner (tests) has nothing to keep.
        Returns what the first round did, or None when it could not run (retried soon).
        """
        # Should the database not be up yet, the server starts all the same and retries soon.
        report = self.start_once()
        if report and (report.interrupted or report.files_removed):
            log.warning("import housekeeping at start-up: %s", report)
        with self._lock:
            if self._keeper is None:
                self._stop.clear()
                self._keeper = threading.Thread(
                    target=self._keep,
                    args=(interval_s, report is None),
                    name="gridgov-import-keeper",
                    daemon=True,
                )
                self._keeper.start()
        return report

    def _keep(self, interval_s: float, retry_soon: bool) -> None:
        beat = max(1.0, min(interval_s, self.lease.total_seconds() / 4))
        next_clean = time.monotonic() + (beat if retry_soon else interval_s)
        while not self._stop.wait(beat):
            try:
                with self._lock:
                    active = set(self._active)
                if active:
                    with session_scope(self._db()) as own:
                        record_heartbeat(own, job_ids=active)
                if time.monotonic() >= next_clean:
                    next_clean = time.monotonic() + interval_s
                    self.housekeep()
            except Exception:  # the database may be away for a moment: try again next time
                log.warning("import housekeeping failed; trying again later", exc_info=True)

    def housekeep(self, *, at_startup: bool = False, now: datetime | None = None) -> Housekeeping:
        """Fail interrupted jobs and delete their files, expired error files and stray uploads."""
        now = now or datetime.now(UTC)
        with self._lock:
            active = set(self._active)
        doomed: list[str] = []
        with session_scope(self._db()) as own:
            interrupted = interrupted_jobs(
                own,
                me=Owner.this_process(),
                running_here=active,
                is_alive=_process_alive,
                lease=self.lease,
                at_startup=at_startup,
                now=now,
            )
            for job in interrupted:
                doomed += [job.path, *([job.error_path] if job.error_path else [])]
                fail_interrupted(own, job=job)
            for job in expired_error_files(own, now=now):
                assert job.error_path is not None
                doomed.append(job.error_path)
            keep = {Path(p).parent.resolve() for p in files_in_use(own, now=now)}
        removed = sum(self._remove(Path(p)) for p in doomed)
        removed += self._remove_strays(keep, now)
        return Housekeeping(interrupted=[job.id for job in interrupted], files_removed=removed)

    def _remove(self, path: Path) -> int:
        """Delete a job's file; its folder too (with any half-written file a crash left in
        it) when it is one of ours, each job having a folder of its own. Returns files gone."""
        folder = path.parent
        if folder.resolve().parent == self.upload_dir.resolve() and folder.is_dir():
            gone = sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            return gone
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return int(existed)

    def _remove_strays(self, keep: set[Path], now: datetime) -> int:
        """Upload folders no job wants: an upload interrupted before its job was made, or
        files of jobs whose rows are gone. Young folders are left (their job is being made)."""
        if not self.upload_dir.is_dir():
            return 0
        removed = 0
        cutoff = now.timestamp() - self.lease.total_seconds()
        for folder in self.upload_dir.iterdir():
            if not folder.is_dir() or folder.resolve() in keep:
                continue
            with suppress(OSError):
                if folder.stat().st_mtime > cutoff:
                    continue
                removed += sum(1 for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
        return removed

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    # --- running ---------------------------------------------------------------------------

    def _run_inline(self, session: Session, job_id: int, actor: Actor) -> None:
        job = get_job(session, job_id=job_id)
        assert job is not None
        start_job(session, job_id=job_id)
        try:
            with session.begin_nested():
                outcome = run_import(session, job, actor, on_progress=None)
                if outcome.status is JobStatus.FAILED:
                    raise _Undo(outcome)
        except _Undo as undo:
            outcome = undo.outcome
        except Exception as exc:  # the job records the failure; the request still answers
            outcome = _unexpected(job_id, exc)
        finish_job(session, job_id=job_id, outcome=outcome)
        _remove_upload(job.path)

    def _run_in_background(self, job_id: int, actor: Actor) -> None:
        try:
            self._run_job(job_id, actor)
        finally:
            with self._lock:
                self._active.discard(job_id)

    def _run_job(self, job_id: int, actor: Actor) -> None:
        with session_scope(self._db()) as own:
            start_job(own, job_id=job_id)
            job = get_job(own, job_id=job_id)
            assert job is not None
            upload = job.path
        reporter = _ProgressWriter(self._db(), job_id)
        try:
            with session_scope(self._db()) as work:
                watch_client_connection(work)
                job = get_job(work, job_id=job_id)
                assert job is not None
                outcome = run_import(work, job, actor, on_progress=reporter)
                if outcome.status is JobStatus.FAILED:
                    raise _Undo(outcome)
                finish_job(work, job_id=job_id, outcome=outcome)
        except _Undo as undo:
            outcome = undo.outcome
            self._record(job_id, outcome)
        except Exception as exc:  # a thread has nobody to raise to: the job says what happened
            self._record(job_id, _unexpected(job_id, exc))
        finally:
            _remove_upload(upload)

    def _record(self, job_id: int, outcome: Outcome) -> None:
        try:
            with session_scope(self._db()) as own:
                finish_job(own, job_id=job_id, outcome=outcome)
        except Exception:
            log.exception("could not record the end of import job %s", job_id)


class _Undo(Exception):
    """Raised inside the import's transaction to roll it back and record `outcome`."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class _ProgressWriter:
    """Writes progress in its own short transactions, at most every PROGRESS_INTERVAL_S."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self.engine, self.job_id = engine, job_id
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        try:
            with session_scope(self.engine) as own:
                record_progress(own, job_id=self.job_id, processed=done, total=total)
        except Exception:  # progress is a courtesy; the import goes on without it
            log.warning("could not record the progress of import job %s", self.job_id)


def _unexpected(job_id: int, exc: Exception) -> Outcome:
    log.exception("import job %s stopped on an unexpected error", job_id, exc_info=exc)
    return Outcome(
        JobStatus.FAILED,
        f"导入意外中断 The import stopped on an unexpected error ({type(exc).__name__}); "
        "nothing was imported. Try again, and if it happens again tell the administrator: "
        "the server log has the details.",
    )


@dataclass(frozen=True)
class Housekeeping:
    """What a housekeeping round did."""

    interrupted: list[int]
    files_removed: int

    def __str__(self) -> str:
        jobs = ", ".join(map(str, self.interrupted)) or "none"
        return f"interrupted jobs marked failed: {jobs}; files deleted: {self.files_removed}"


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by this user only; tighten it if it exists."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR)  # made by an older version with the default mode
    return path


def open_private(
    path: Path, mode: str = "wb", *, encoding: str | None = None, newline: str | None = None
) -> IO[Any]:
    """Open a new file for writing that only this user can read (0600 from creation on)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    return os.fdopen(fd, mode, encoding=encoding, newline=newline)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _remove_upload(path: str) -> None:
    # The upload may hold clear ID numbers and phones: keep it no longer than the import.
    upload = Path(path)
    upload.unlink(missing_ok=True)
    with suppress(OSError):
        upload.parent.rmdir()  # only when no error file was written beside it


def run_import(
    session: Session, job: ImportJob, actor: Actor, *, on_progress: Progress | None
) -> Outcome:
    """Import the job's file on `session`; a rejected file gives a FAILED outcome."""
    path = Path(job.path)
    try:
        if job.kind == "residents":
            return _residents(session, job, actor, path, on_progress)
        return _layer(session, job, path, on_progress)
    except ImportRejected as exc:
        error_path = _write_rejections(exc.report, path)
        return Outcome(
            JobStatus.FAILED,
            str(exc),
            total=exc.report.total,
            rejected=exc.report.rejected_features,
            error_path=str(error_path),
        )
    except FILE_ERRORS as exc:
        return Outcome(JobStatus.FAILED, str(exc))


def _residents(
    session: Session, job: ImportJob, actor: Actor, path: Path, on_progress: Progress | None
) -> Outcome:
    def progress(stage: str, done: int, total: int) -> None:
        if on_progress and stage == "written":
            on_progress(stage, done, total)

    report = import_residents(
        session,
        actor=actor,
        path=path,
        on_progress=progress,
        error_path=path.with_name("errors" + path.suffix.lower()),
    )
    return Outcome(
        JobStatus.DONE,
        _ledger_message(report),
        total=report.total_rows,
        imported=report.imported,
        rejected=report.rejected_rows,
        error_path=str(report.error_file) if report.error_file else None,
    )


def _ledger_message(report: LedgerImportReport) -> str:
    text = (
        f"导入 {report.imported} 行（新增 {report.inserted}，更新 {report.updated}）"
        f" Imported {report.imported} of {report.total_rows} rows "
        f"({report.inserted} new, {report.updated} updated)"
    )
    if report.rejected_rows:
        text += (
            f"; {report.rejected_rows} rows had errors and were not imported: download the "
            "error file, correct the rows there and import it again"
        )
    return "; ".join([text, *report.warnings]) + "."


def _layer(session: Session, job: ImportJob, path: Path, on_progress: Progress | None) -> Outcome:
    crs = job.crs or "cgcs2000"
    if job.kind == "grids":
        report = importer.import_grids(session, path=path, crs=crs)
        what = "grids 网格"
    else:
        report = importer.import_buildings(session, path=path, crs=crs, on_progress=on_progress)
        what = "buildings 建筑"
    return Outcome(
        JobStatus.DONE,
        f"导入完成 Imported {report.imported} of {report.total} {what}.",
        total=report.total,
        imported=report.imported,
    )


def _write_rejections(report: importer.ImportReport, source: Path) -> Path:
    """Every rejected feature of a grid or building import as a CSV beside the upload."""
    target = source.with_name("errors.csv")
    with open_private(target, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ERROR_FILE_HEADER)
        for rejection in report.rejected:
            # Feature ids come from the uploaded file: no formula may reach a spreadsheet.
            writer.writerow(
                export_guard.neutralise_row(
                    [rejection.row or "", rejection.feature_id, rejection.reason]
                )
            )
    return target


__all__ = [
    "Housekeeping",
    "ImportRunner",
    "open_private",
    "private_dir",
    "run_import",
    "safe_filename",
]
