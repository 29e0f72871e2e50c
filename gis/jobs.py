"""Import jobs (导入任务): an uploaded file, what is being done with it and how far it has got.

A job row is written when the file arrives; whoever runs the import moves it from `queued`
through `running` to `done` or `failed`, with row counts and, where rows were rejected, the
path of the error file. The job knows nothing of what it imports (grids, buildings, residents):
the caller that runs it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from gis.codes import LabelledEnum
from gis.db import Base

__all__ = [
    "IMPORT_KINDS",
    "ImportJob",
    "JobStatus",
    "Outcome",
    "create_job",
    "finish_job",
    "get_job",
    "list_jobs",
    "record_progress",
    "start_job",
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
) -> ImportJob:
    """A queued job for an uploaded file."""
    if kind not in IMPORT_KINDS:
        raise ValueError(f"kind '{kind}' is not one of {', '.join(IMPORT_KINDS)}")
    job = ImportJob(kind=kind, filename=filename, path=path, staff_id=staff_id, crs=crs)
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
    _set(session, job_id, status=JobStatus.RUNNING.value, started_at=datetime.now(UTC))


def record_progress(session: Session, *, job_id: int, processed: int, total: int) -> None:
    """Store how many rows have been processed out of how many."""
    _set(session, job_id, processed=processed, total=max(total, processed))


def finish_job(session: Session, *, job_id: int, outcome: Outcome) -> None:
    """Store how the job ended."""
    done = outcome.status is JobStatus.DONE
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
        finished_at=datetime.now(UTC),
    )
