"""The project-local PostGIS cluster: a data directory inside the project, on loopback.

PostgreSQL refuses to run as root, so when we are root every server command runs as the
`postgres` user and the data directory belongs to it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from gis.config import Settings

SERVER_USER = "postgres"


class ClusterError(RuntimeError):
    """The local cluster could not be set up; the message says what to do."""


@dataclass(frozen=True)
class ClusterStatus:
    """Where the cluster lives and whether it answers."""

    data_dir: Path
    port: int
    initialised: bool
    running: bool


def _bin_dir() -> Path:
    """The newest PostgreSQL server binaries on this machine (override with PG_BIN)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise ClusterError(
        "PostgreSQL server binaries were not found; install postgresql-15 and "
        "postgresql-15-postgis-3 (make demo does this when run as root) or set DATABASE_URL"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _run(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a server command, as the `postgres` user when we are root."""
    if _as_root():
        args = ["runuser", "-u", SERVER_USER, "--", *args]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise ClusterError(f"{Path(args[-1]).name}: {(result.stderr or result.stdout).strip()}")
    return result


def data_dir(settings: Settings) -> Path:
    """The data directory; outside the project only when `postgres` cannot reach the project."""
    return _reachable(settings.pg_data_dir, settings.pg_port)


def _reachable(wanted: Path, port: int) -> Path:
    """`wanted`, or a directory of the server user's when it cannot reach `wanted`."""
    wanted = wanted.resolve()
    if not _as_root():
        return wanted
    probe = subprocess.run(
        ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(wanted.parent)], check=False
    )
    if probe.returncode == 0:
        return wanted
    # e.g. a checkout under /root (mode 700): the server user cannot traverse it.
    return Path("/var/lib/postgresql/gridgov") / f"{wanted.parent.name}-{port}"


def status(settings: Settings) -> ClusterStatus:
    """Whether the cluster exists and is running."""
    return _status(data_dir(settings), settings.pg_port)


def _status(directory: Path, port: int) -> ClusterStatus:
    initialised = (directory / "PG_VERSION").exists()
    running = False
    if initialised:
        running = (
            _run(
                [str(_bin_dir() / "pg_ctl"), "status", "-D", str(directory)], check=False
            ).returncode
            == 0
        )
    return ClusterStatus(directory, port, initialised, running)


def _initialise(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if _as_root():
        shutil.chown(directory, SERVER_USER, SERVER_USER)
    directory.chmod(0o700)
    _run(
        [
            str(_bin_dir() / "initdb"),
            "-D",
            str(directory),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
    )
    with (directory / "postgresql.conf").open("a", encoding="utf-8") as conf:
        # Durability is not set here: see write_durability (rewritten at every `db up`).
        conf.write(
            "\n# gridgov local cluster\nlisten_addresses = '127.0.0.1'\nshared_buffers = 512MB\n"
            "work_mem = 64MB\nmaintenance_work_mem = 512MB\nmax_wal_size = 4GB\n"
        )


# fsync, synchronous_commit and full_page_writes: durable unless fast is chosen explicitly.
DURABILITY_FILE = "gridgov-durability.conf"
DURABILITY: dict[str, dict[str, str]] = {
    "durable": {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"},
    "fast": {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
}
_INCLUDE = f"include_if_exists = '{DURABILITY_FILE}'"


def write_durability(directory: Path, mode: str) -> None:
    """Write the durability settings of `mode` into the cluster's own include file.

    postgresql.conf includes the file last, so it also overrides the `fsync = off` lines
    that clusters initialised by earlier versions carry; a cluster started without
    PG_DURABILITY=fast is therefore durable again.
    """
    conf = directory / "postgresql.conf"
    lines = conf.read_text(encoding="utf-8").splitlines()
    if not lines or lines[-1].strip() != _INCLUDE:
        lines = [line for line in lines if line.strip() != _INCLUDE]
        conf.write_text("\n".join([*lines, _INCLUDE]) + "\n", encoding="utf-8")
    note = (
        "# durable: an acknowledged commit survives a crash\n"
        if mode == "durable"
        else "# fast: for the test suite and benchmarks only; a crash loses recent commits\n"
    )
    included = directory / DURABILITY_FILE
    included.write_text(
        "# written by `gridgov db up` (PG_DURABILITY); edits are overwritten\n"
        + note
        + "".join(f"{name} = {value}\n" for name, value in DURABILITY[mode].items()),
        encoding="utf-8",
    )
    if _as_root():
        shutil.chown(included, SERVER_USER, SERVER_USER)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def up(settings: Settings) -> ClusterStatus:
    """Initialise (first time) and start the cluster; reuse it when it is already running.

    Either way the cluster then runs with the durability of `settings.pg_durability`.
    """
    if settings.environment == "production" and settings.pg_durability != "durable":
        raise ClusterError(
            "PG_DURABILITY=fast may lose acknowledged writes in a crash; production runs the "
            "cluster durable (unset PG_DURABILITY)"
        )
    current = status(settings)
    if current.initialised:
        write_durability(current.data_dir, settings.pg_durability)
    if current.running:
        # fsync, synchronous_commit and full_page_writes change on a reload.
        _run([str(_bin_dir() / "pg_ctl"), "reload", "-D", str(current.data_dir)])
        return current
    if not current.initialised:
        _initialise(current.data_dir)
        write_durability(current.data_dir, settings.pg_durability)
    if _port_in_use(settings.pg_port):
        raise ClusterError(
            f"port {settings.pg_port} is taken by another server; set PG_PORT to a free port "
            "or DATABASE_URL to use that server"
        )
    _start(current.data_dir, settings.pg_port)
    _wait_ready(settings.pg_port)
    ensure_database(settings.local_database_url)
    return status(settings)


def _start(directory: Path, port: int) -> None:
    _run(
        [
            str(_bin_dir() / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(directory),
            "-l",
            str(directory / "server.log"),
            "-o",
            f"-p {port} -k {directory}",
        ]
    )


def _wait_ready(port: int, timeout_s: float = 30.0, what: str = "the local cluster") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres"
            ).close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.3)
    raise ClusterError(f"{what} did not accept connections on port {port}")


def down(settings: Settings) -> ClusterStatus:
    """Stop the cluster if it runs; the data stays."""
    current = status(settings)
    if current.running:
        _run([str(_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(current.data_dir)])
    return status(settings)


def destroy(settings: Settings) -> None:
    """Stop the cluster and delete its data directory (and its local replica's)."""
    replica_destroy(settings)
    current = down(settings)
    if current.data_dir.exists():
        shutil.rmtree(current.data_dir)


@contextmanager
def _autocommit_cursor(url: str, *, maintenance: bool) -> Iterator[tuple[Any, str]]:
    """A cursor on the database of `url` (or on `postgres` for maintenance), and that name."""
    params = psycopg2.extensions.parse_dsn(url.replace("postgresql+psycopg2://", "postgresql://"))
    dbname = params.pop("dbname")
    conn = psycopg2.connect(dbname="postgres" if maintenance else dbname, **params)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            yield cur, dbname
    finally:
        conn.close()


def ensure_database(url: str) -> None:
    """Create the database named in `url` (if missing) and the postgis extension in it."""
    with _autocommit_cursor(url, maintenance=True) as (cur, dbname):
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    with _autocommit_cursor(url, maintenance=False) as (cur, _):
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(url: str) -> None:
    """Drop the database named in `url`, disconnecting its sessions first."""
    with _autocommit_cursor(url, maintenance=True) as (cur, dbname):
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        cur.execute(statement.format(sql.Identifier(dbname)))


# -- the local hot standby (`gridgov db replica up`) -------------------------------------------


def replica_dir(settings: Settings) -> Path:
    """The local replica's data directory (PG_REPLICA_DATA_DIR)."""
    return _reachable(settings.pg_replica_data_dir, settings.pg_replica_port)


def replica_status(settings: Settings) -> ClusterStatus:
    """Whether the local replica exists and is running."""
    return _status(replica_dir(settings), settings.pg_replica_port)


# Written to the standby's postgresql.auto.conf after the base backup: its name in the
# primary's pg_stat_replication, and feedback so that replaying vacuum on the standby does not
# cancel a dashboard query that still reads the old rows.
STANDBY_SETTINGS = "cluster_name = 'gridgov-replica'\nhot_standby_feedback = on\n"


def replica_up(settings: Settings) -> ClusterStatus:
    """Start a hot standby of the local cluster on PG_REPLICA_PORT; reuse it when it runs.

    The primary is configured for streaming replication first if it needs it. A stopped
    standby is rebuilt from a fresh base backup: without a replication slot the primary may
    have recycled the WAL it would need (a slot would instead pile WAL up on the primary for
    as long as the replica is down).
    """
    if not settings.uses_local_cluster:
        raise ClusterError(
            "DATABASE_URL 指向外部数据库: the local replica streams from the project-local "
            "cluster, but DATABASE_URL points at a database managed elsewhere; set up a standby "
            "of that server there and point DATABASE_REPLICA_URL at it"
        )
    if settings.pg_replica_port == settings.pg_port:
        raise ClusterError(
            f"PG_REPLICA_PORT and PG_PORT are both {settings.pg_port}; give the replica a port "
            "of its own"
        )
    primary = status(settings)
    if not primary.running:
        raise ClusterError("the local cluster is not running; start it with `gridgov db up`")
    current = replica_status(settings)
    if current.running:
        return current
    if _port_in_use(settings.pg_replica_port):
        raise ClusterError(
            f"port {settings.pg_replica_port} is taken by another server; set PG_REPLICA_PORT "
            "to a free port"
        )
    _prepare_primary(settings, primary.data_dir)
    _base_backup(settings, current.data_dir)
    _start(current.data_dir, settings.pg_replica_port)
    _wait_ready(settings.pg_replica_port, what="the local replica")
    return replica_status(settings)


def _prepare_primary(settings: Settings, directory: Path) -> None:
    """Let the primary stream WAL to a standby on 127.0.0.1 (PostgreSQL 15's defaults do)."""
    with _autocommit_cursor(settings.local_database_url, maintenance=True) as (cur, _):
        cur.execute("SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int")
        wal_level, senders = cur.fetchone()
        restart = wal_level == "minimal" or senders < 1
        if restart:
            cur.execute("ALTER SYSTEM SET wal_level = 'replica'")
            cur.execute("ALTER SYSTEM SET max_wal_senders = 10")
        if not _replication_allowed(settings.pg_port):
            with (directory / "pg_hba.conf").open("a", encoding="utf-8") as hba:
                hba.write("\n# gridgov local replica\nhost replication all 127.0.0.1/32 trust\n")
            cur.execute("SELECT pg_reload_conf()")
    if restart:
        _run([str(_bin_dir() / "pg_ctl"), "restart", "-w", "-m", "fast", "-D", str(directory)])
        _wait_ready(settings.pg_port)


def _replication_allowed(port: int) -> bool:
    """Whether pg_hba.conf lets a standby on 127.0.0.1 connect for replication."""
    try:
        psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", replication="true"
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def _base_backup(settings: Settings, directory: Path) -> None:
    """Copy the primary into an empty `directory` as a standby (`pg_basebackup -R`)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if _as_root():
        shutil.chown(directory, SERVER_USER, SERVER_USER)
    directory.chmod(0o700)
    _run(
        [
            str(_bin_dir() / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(settings.pg_port),
            "-U",
            "postgres",
            "--no-password",
            "-D",
            str(directory),
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
        ]
    )
    # The primary's own log came with the copy.
    (directory / "server.log").unlink(missing_ok=True)
    with (directory / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
        conf.write(STANDBY_SETTINGS)


def replica_down(settings: Settings) -> ClusterStatus:
    """Stop the local replica if it runs (the next `replica up` copies the primary afresh)."""
    current = replica_status(settings)
    if current.running:
        _run([str(_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(current.data_dir)])
    return replica_status(settings)


def replica_destroy(settings: Settings) -> None:
    """Stop the local replica and delete its data directory."""
    current = replica_down(settings)
    if current.data_dir.exists():
        shutil.rmtree(current.data_dir)
