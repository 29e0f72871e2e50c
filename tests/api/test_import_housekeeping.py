"""Import files and jobs after the import: private files, crash recovery, expiry, access log.

These run against committed data in a throwaway database, as the housekeeping runs on sessions
of its own (a server process at start-up and then periodically).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from api.app import create_app
from api.http.deps import get_read_session, get_session
from api.import_jobs import ImportRunner
from gis.db import session_scope
from gis.jobs import ImportJob, JobStatus, Outcome, Owner, create_job, finish_job, start_job
from people.models import PiiAccessLog
from tests.api.import_files import admin_headers, geojson, ledger_csv, person, upload
from tests.factories import (
    COMMUNITY,
    square,
)


@pytest.fixture
def runner(committed_engine: Engine, tmp_path: Path) -> Iterator[ImportRunner]:
    runner = ImportRunner(engine=committed_engine, upload_dir=tmp_path / "imports")
    yield runner
    runner.shutdown()
    with session_scope(committed_engine) as session:
        session.execute(delete(PiiAccessLog))
        session.execute(delete(ImportJob))


@pytest.fixture
def client(committed_engine: Engine, runner: ImportRunner) -> Iterator[TestClient]:
    """The real app on the committed database, with a background import runner."""
    app = create_app()

    def committed_session() -> Iterator[Session]:
        with session_scope(committed_engine) as session:
            yield session

    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        app.dependency_overrides[dependency] = committed_session
    app.state.import_runner = runner
    with TestClient(app) as test_client:
        yield test_client


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def job_file(runner: ImportRunner, name: str, content: bytes = b"id,name\n") -> Path:
    path = runner.new_upload_path(name)
    path.write_bytes(content)
    return path


def add_job(engine: Engine, path: Path, owner: Owner, *, running: bool = True) -> int:
    with session_scope(engine) as session:
        job = create_job(
            session,
            kind="residents",
            filename=path.name,
            path=str(path),
            staff_id=None,
            owner=owner,
        )
        if running:
            start_job(session, job_id=job.id)
        return job.id


def read_job(engine: Engine, job_id: int) -> ImportJob:
    with session_scope(engine) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def access_rows(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(PiiAccessLog.reason).order_by(PiiAccessLog.id)))


# --- private files -----------------------------------------------------------------------------


def test_an_error_file_with_clear_ids_is_readable_by_the_server_user_only(
    client, runner, committed_engine
):
    headers = admin_headers(committed_engine)
    content = ledger_csv(
        person(61, "私密一", house="BA-1-0101"), {**person(62, "没有房"), "房屋编码": "BA-9-9"}
    )
    job_id = upload(client, headers, "residents", "私密.csv", content).json()["id"]
    runner.wait(timeout=120)
    job = read_job(committed_engine, job_id)
    assert job.status == "done" and job.error_path
    error_file = Path(job.error_path)
    assert mode(error_file) == 0o600
    assert mode(error_file.parent) == 0o700 and mode(runner.upload_dir) == 0o700
    # The upload itself is deleted as soon as the job has ended; only the error file stays.
    assert [p.name for p in error_file.parent.iterdir()] == [error_file.name]


def test_a_grid_layer_error_file_is_private_too(client, runner, committed_engine):
    headers = admin_headers(committed_engine)
    outside = geojson([({"code": COMMUNITY + "019", "name": "界外"}, square(111.6, 31.0, 0.01))])
    job_id = upload(client, headers, "grids", "outside.geojson", outside).json()["id"]
    runner.wait(timeout=120)
    job = read_job(committed_engine, job_id)
    assert job.status == "failed" and job.error_path
    assert mode(Path(job.error_path)) == 0o600
    assert not (Path(job.error_path).parent / "outside.geojson").exists()


# --- crash recovery ----------------------------------------------------------------------------


def test_at_start_up_a_job_whose_server_died_is_failed_and_its_upload_deleted(
    runner, committed_engine
):
    upload_path = job_file(runner, "killed.csv")
    half_written = upload_path.with_name(".errors.csv.part")  # killed while writing it
    half_written.write_text("姓名,证件号码\n")
    job_id = add_job(committed_engine, upload_path, Owner(socket.gethostname(), dead_pid()))
    report = runner.start()
    assert report is not None and report.interrupted == [job_id]
    job = read_job(committed_engine, job_id)
    assert job.status == JobStatus.FAILED.value and job.finished_at
    assert "interrupted" in (job.message or "") and "中断" in (job.message or "")
    assert not upload_path.exists() and not upload_path.parent.exists()


def test_gridgov_worker_also_fails_interrupted_imports_when_it_starts(
    runner, committed_engine, tmp_path
):
    upload_path = job_file(runner, "killed.csv")
    job_id = add_job(committed_engine, upload_path, Owner(socket.gethostname(), dead_pid()))
    url = committed_engine.url.render_as_string(hide_password=False)
    env = os.environ | {"DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gridgov"), "worker", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"interrupted jobs marked failed: {job_id}" in result.stdout
    assert read_job(committed_engine, job_id).status == JobStatus.FAILED.value
    assert not upload_path.exists()


def test_a_job_another_live_process_runs_is_left_alone(runner, committed_engine):
    upload_path = job_file(runner, "alive.csv")
    job_id = add_job(committed_engine, upload_path, Owner(socket.gethostname(), os.getppid()))
    report = runner.housekeep(at_startup=True)
    assert report.interrupted == []
    assert read_job(committed_engine, job_id).status == JobStatus.RUNNING.value
    assert upload_path.is_file()


def test_a_job_on_another_host_is_failed_only_once_its_heartbeat_is_older_than_the_lease(
    runner, committed_engine
):
    upload_path = job_file(runner, "elsewhere.csv")
    job_id = add_job(committed_engine, upload_path, Owner("another-host", 4242))
    assert runner.housekeep().interrupted == []
    assert upload_path.is_file()
    later = datetime.now(UTC) + runner.lease + timedelta(seconds=1)
    assert runner.housekeep(now=later).interrupted == [job_id]
    assert read_job(committed_engine, job_id).status == JobStatus.FAILED.value
    assert not upload_path.exists()


def test_a_running_job_keeps_its_heartbeat_fresh(runner, committed_engine):
    upload_path = job_file(runner, "beating.csv")
    job_id = add_job(committed_engine, upload_path, Owner.this_process())
    with session_scope(committed_engine) as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
    runner._active.add(job_id)  # as if this runner's thread were running it
    runner.start(interval_s=0.2)
    deadline = time.monotonic() + 10
    hour_ago = datetime.now(UTC) - timedelta(minutes=59)
    while (read_job(committed_engine, job_id).heartbeat_at or hour_ago) <= hour_ago:
        assert time.monotonic() < deadline, "the heartbeat was not renewed"
        time.sleep(0.1)
    runner._active.discard(job_id)
    assert read_job(committed_engine, job_id).status == JobStatus.RUNNING.value


def test_stray_upload_folders_are_removed_once_older_than_the_lease(runner, committed_engine):
    old = job_file(runner, "abandoned.csv")
    young = job_file(runner, "arriving.csv")
    long_ago = time.time() - runner.lease.total_seconds() - 60
    os.utime(old.parent, (long_ago, long_ago))
    report = runner.housekeep()
    assert report.files_removed == 1
    assert not old.parent.exists() and young.is_file()


# --- expiry and the access log -----------------------------------------------------------------


def finished_with_errors(runner: ImportRunner, engine: Engine, kind: str = "residents") -> int:
    upload_path = job_file(runner, "done.csv")
    errors = upload_path.with_name("done.errors.csv")
    errors.write_text("姓名,证件号码,错误原因\n某人,420502198506150011,房屋不存在\n")
    upload_path.unlink()
    with session_scope(engine) as session:
        job = create_job(
            session, kind=kind, filename="done.csv", path=str(upload_path), staff_id=None
        )
        finish_job(
            session,
            job_id=job.id,
            outcome=Outcome(
                JobStatus.DONE, "导入 1 行", total=2, imported=1, rejected=1, error_path=str(errors)
            ),
        )
        return job.id


def test_downloading_a_ledger_error_file_writes_an_access_log_row(client, runner, committed_engine):
    headers = admin_headers(committed_engine)
    job_id = finished_with_errors(runner, committed_engine)
    job = client.get(f"/api/imports/{job_id}", headers=headers).json()
    expires = datetime.fromisoformat(job["error_report_expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert access_rows(committed_engine) == []
    response = client.get(job["error_report_url"], headers=headers)
    assert response.status_code == 200 and "420502198506150011" in response.text
    [reason] = access_rows(committed_engine)
    assert f"import job {job_id}" in reason and "done.csv" in reason


def test_a_layer_error_file_holds_no_personal_data_and_is_not_access_logged(
    client, runner, committed_engine
):
    headers = admin_headers(committed_engine)
    job_id = finished_with_errors(runner, committed_engine, kind="grids")
    assert client.get(f"/api/imports/{job_id}/errors", headers=headers).status_code == 200
    assert access_rows(committed_engine) == []


def test_an_expired_error_file_is_deleted_and_its_download_answers_410(
    client, runner, committed_engine
):
    headers = admin_headers(committed_engine)
    expired = finished_with_errors(runner, committed_engine)
    current = finished_with_errors(runner, committed_engine)
    with session_scope(committed_engine) as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == expired)
            .values(error_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        paths = {
            job.id: Path(job.error_path or "")
            for job in session.scalars(
                select(ImportJob).where(ImportJob.id.in_([expired, current]))
            )
        }
    report = runner.housekeep()
    assert report.files_removed == 1
    assert not paths[expired].exists() and not paths[expired].parent.exists()
    assert paths[current].is_file()
    gone = client.get(f"/api/imports/{expired}/errors", headers=headers)
    assert gone.status_code == 410, gone.text
    message = gone.json()["error"]["message"]
    assert "已过期" in message and "expired" in message and "import the file again" in message
    assert client.get(f"/api/imports/{current}/errors", headers=headers).status_code == 200
    # Only the download that happened is in the access log.
    assert len(access_rows(committed_engine)) == 1
    with session_scope(committed_engine) as session:
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 2
