"""Import jobs (导入任务): an uploaded file, what is being done with it and how far it has got.

A job row is written when the file arrives; whoever runs the import moves it from `queued`
through `running` to `done` or `failed`, with row counts and, where rows were rejected, the
path of the error file. The job knows nothing of what it imports (grids, buildings, residents):
the caller that runs it does.

Each unfinished job names its owner (host and process id) and carries a heartbeat the owner
renews while it runs, so a job whose server was killed is recognised later (owner process gone,
or heartbeat older than the lease) and marked failed instead of staying `running` forever.
An error file expires (`error_expires_at`, IMPORT_ERROR_FILE_DAYS after the job ended).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
    Text,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from gis.codes import LabelledEnum
from gis.config import get_settings
from gis.db import Base
from gis.distribution import Placement, placed

__all__ = [
    "IMPORT_KINDS",
    "ImportJob",
    "JobStatus",
    "Outcome",
    "Owner",
    "create_job",
    "error_file_expired",
    "expired_error_files",
    "fail_interrupted",
    "files_in_use",
    "finish_job",
    "forget_error_files",
    "get_job",
    "interrupted_jobs",
    "list_jobs",
    "record_heartbeat",
    "record_progress",
    "start_job",
    "watch_client_connection",
]

IMPORT_KINDS: Final = ("residents", "grids", "buildings")


class JobStatus(LabelledEnum):
    """import job status"""

    QUEUED = "queued", "排队中"
    RUNNING = "running", "导入中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class ImportJob(Base):
    """An uploaded file being imported, with its progress and outcome."""

    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("kind IN ('residents', 'grids', 'buildings')", name="kind"),
        placed(Placement.LOCAL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED.value)
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded, shown to people
    path: Mapped[str] = mapped_column(String(500))  # where the upload is stored
    crs: Mapped[str | None] = mapped_column(String(10), default=None)  # of lon/lat layers
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True, default=None
    )
    total: Mapped[int] = mapped_column(default=0)  # rows/features in the file (estimate first)
    processed: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    error_path: Mapped[str | None] = mapped_column(String(500), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Who runs the job (a server process) and when it last said it was still at it.
    owner_host: Mapped[str | None] = mapped_column(String(255), default=None)
    owner_pid: Mapped[int | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The error file (rejected rows with clear ID numbers) is deleted at this time.
    error_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


UNFINISHED: Final = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True)
class Owner:
    """The process that runs a job: host name and process id."""

    host: str
    pid: int

    @classmethod
    def this_process(cls) -> Owner:
        """The calling process."""
        return cls(socket.gethostname()[:255], os.getpid())

    def __str__(self) -> str:
        return f"{self.host} pid {self.pid}"


@dataclass(frozen=True)
class Outcome:
    """How a job ended."""

    status: JobStatus
    message: str
    total: int = 0
    imported: int = 0
    rejected: int = 0
    error_path: str | None = None


def create_job(
    session: Session,
    *,
    kind: str,
    filename: str,
    path: str,
    staff_id: int | None,
    crs: str | None = None,
    owner: Owner | None = None,
) -> ImportJob:
    """A queued job for an uploaded file, owned by `owner` (default: this process)."""
    if kind not in IMPORT_KINDS:
        raise ValueError(f"kind '{kind}' is not one of {', '.join(IMPORT_KINDS)}")
    owner = owner or Owner.this_process()
    job = ImportJob(
        kind=kind,
        filename=filename,
        path=path,
        staff_id=staff_id,
        crs=crs,
        owner_host=owner.host,
        owner_pid=owner.pid,
        heartbeat_at=datetime.now(UTC),
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, job_id: int) -> ImportJob | None:
    """The job with this id, read afresh (its runner updates it from elsewhere)."""
    return session.scalar(
        select(ImportJob).where(ImportJob.id == job_id).execution_options(populate_existing=True)
    )


def list_jobs(session: Session, *, limit: int = 50) -> list[ImportJob]:
    """The most recent jobs, newest first."""
    stmt = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def _set(session: Session, job_id: int, **values: Any) -> None:
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()


def start_job(session: Session, *, job_id: int) -> None:
    """Mark the job running."""
    now = datetime.now(UTC)
    _set(session, job_id, status=JobStatus.RUNNING.value, started_at=now, heartbeat_at=now)


def record_heartbeat(session: Session, *, job_ids: Collection[int]) -> None:
    """Say that this process still runs these jobs."""
    if job_ids:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id.in_(list(job_ids)), ImportJob.status.in_(UNFINISHED))
            .values(heartbeat_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )


def record_progress(session: Session, *, job_id: int, processed: int, total: int) -> None:
    """Store how many rows have been processed out of how many."""
    _set(session, job_id, processed=processed, total=max(total, processed))


def finish_job(session: Session, *, job_id: int, outcome: Outcome) -> None:
    """Store how the job ended; its error file expires IMPORT_ERROR_FILE_DAYS from now."""
    done = outcome.status is JobStatus.DONE
    now = datetime.now(UTC)
    keep = timedelta(days=get_settings().import_error_file_days)
    _set(
        session,
        job_id,
        status=outcome.status.value,
        message=outcome.message,
        total=outcome.total,
        processed=outcome.total if done else ImportJob.processed,
        imported=outcome.imported,
        rejected=outcome.rejected,
        error_path=outcome.error_path,
        error_expires_at=now + keep if outcome.error_path else None,
        finished_at=now,
    )


def files_in_use(session: Session, *, now: datetime | None = None) -> set[str]:
    """Paths still wanted: uploads and error files of unfinished jobs, unexpired error files."""
    now = now or datetime.now(UTC)
    unfinished = session.execute(
        select(ImportJob.path, ImportJob.error_path).where(ImportJob.status.in_(UNFINISHED))
    )
    wanted = {p for row in unfinished for p in row if p}
    wanted.update(
        p
        for p in session.scalars(
            select(ImportJob.error_path).where(
                ImportJob.error_path.is_not(None), ImportJob.error_expires_at > now
            )
        )
        if p
    )
    return wanted


def forget_error_files(session: Session) -> int:
    """Expire now every error file a job names (after a restore: backups leave them out)."""
    now = datetime.now(UTC)
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.error_path.is_not(None))
        .where(or_(ImportJob.error_expires_at.is_(None), ImportJob.error_expires_at > now))
        .values(error_expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def watch_client_connection(session: Session) -> None:
    """Have PostgreSQL check, while this transaction's statements run, that we are still there.

    Should the server running an import be killed, its backend then rolls the import back
    within a second instead of holding the rows' locks until it next writes to the dead
    socket (a retry of the same file would wait for it). PostgreSQL 14 and later.
    """
    version = session.execute(text("SHOW server_version_num")).scalar_one()
    if int(version) >= 140000:
        session.execute(text("SET LOCAL client_connection_check_interval = '1s'"))


def interrupted_jobs(
    session: Session,
    *,
    me: Owner,
    running_here: Collection[int],
    is_alive: Callable[[int], bool],
    lease: timedelta,
    at_startup: bool = False,
    now: datetime | None = None,
) -> list[ImportJob]:
    """Unfinished jobs nobody runs any more, locked for update.

    A job is interrupted when its heartbeat is older than `lease`, or when its owner is on
    this host and that process is gone, or, `at_startup`, is this very process (which has
    not started any job yet: a restarted container reuses process ids). Jobs in
    `running_here` are never interrupted.
    """
    now = now or datetime.now(UTC)
    stmt = select(ImportJob).where(ImportJob.status.in_(UNFINISHED))
    if running_here:
        stmt = stmt.where(ImportJob.id.not_in(list(running_here)))
    stmt = (
        stmt.order_by(ImportJob.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    found = []
    for job in session.scalars(stmt):
        stale = job.heartbeat_at is None or job.heartbeat_at < now - lease
        gone = (
            job.owner_host is None
            or job.owner_pid is None
            or (
                job.owner_host == me.host
                and ((at_startup and job.owner_pid == me.pid) or not is_alive(job.owner_pid))
            )
        )
        if stale or gone:
            found.append(job)
    return found


def fail_interrupted(session: Session, *, job: ImportJob) -> None:
    """Mark an interrupted job failed, saying why and that nothing of it was imported."""
    owner = f"{job.owner_host} pid {job.owner_pid}" if job.owner_host else "an older version"
    _set(
        session,
        job.id,
        status=JobStatus.FAILED.value,
        message=(
            "导入被中断 The import was interrupted: the server process running it "
            f"({owner}) stopped before it finished. Nothing from this file was imported "
            "and the uploaded file was deleted; upload it again to import it."
        ),
        error_path=None,
        error_expires_at=None,
        finished_at=datetime.now(UTC),
    )


def expired_error_files(session: Session, *, now: datetime | None = None) -> list[ImportJob]:
    """Finished jobs whose error file has passed its expiry time."""
    now = now or datetime.now(UTC)
    stmt = select(ImportJob).where(
        ImportJob.error_path.is_not(None), ImportJob.error_expires_at <= now
    )
    return list(session.scalars(stmt))


def error_file_expired(job: ImportJob, *, now: datetime | None = None) -> bool:
    """Whether the job's error file has expired (and was or will be deleted)."""
    return job.error_expires_at is not None and job.error_expires_at <= (now or datetime.now(UTC))
