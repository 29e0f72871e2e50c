"""The local cluster is durable by default; fast only when asked; production refuses fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from gis import db, local_pg
from gis.config import Settings
from tests.faults.processes import ServerProcess, ThrowawayCluster

SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    """A cluster initialised and started the way `gridgov db up` does, without any option."""
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the engine code as ENVIRONMENT=production (with proper secrets)."""
    settings = Settings(
        environment="production", secret_key="s" * 40, database_url=None, pg_durability="durable"
    )
    monkeypatch.setattr(db, "get_settings", lambda: settings)


def test_a_fresh_cluster_is_durable_and_fast_only_when_asked_then_durable_again(cluster):
    assert [cluster.show(name) for name in SETTINGS] == ["on", "on", "on"]

    cluster.start("fast")  # running: the setting is rewritten and reloaded
    assert [cluster.show(name) for name in SETTINGS] == ["off", "off", "off"]

    # Started again without the option (here after a stop), it is durable again, even with
    # the lines that clusters made by earlier versions carry in postgresql.conf.
    cluster.settings = cluster.settings.model_copy(update={"pg_durability": "durable"})
    local_pg.down(cluster.settings)
    conf = local_pg.data_dir(cluster.settings) / "postgresql.conf"
    with conf.open("a", encoding="utf-8") as old:
        old.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    cluster.start()
    assert [cluster.show(name) for name in SETTINGS] == ["on", "on", "on"]


def test_production_refuses_a_fast_database_and_accepts_a_durable_one(cluster, monkeypatch):
    production(monkeypatch)
    cluster.start("fast")
    fast = create_engine(cluster.url)
    try:
        with pytest.raises(db.NonDurableDatabase, match="fsync = off"):
            db.check_durable(fast)
    finally:
        fast.dispose()
    # An engine made in production checks each new connection, whatever code uses it.
    db.get_engine.cache_clear()
    try:
        engine = db.get_engine(cluster.url)
        with (
            pytest.raises(db.NonDurableDatabase, match="synchronous_commit = off"),
            engine.connect() as connection,
        ):
            connection.execute(text("SELECT 1"))

        cluster.start("durable")
        engine.dispose()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        db.check_durable(engine)  # no error
    finally:
        db.get_engine.cache_clear()


def test_production_will_not_start_the_local_cluster_fast(cluster):
    fast = cluster.settings.model_copy(
        update={"environment": "production", "pg_durability": "fast"}
    )
    with pytest.raises(local_pg.ClusterError, match="PG_DURABILITY=fast"):
        local_pg.up(fast)
    # Outside production the same request is honoured.
    cluster.start("fast")
    assert cluster.show("fsync") == "off"
    cluster.start("durable")


def test_a_production_server_refuses_to_start_on_a_fast_database(cluster, tmp_path):
    cluster.start("fast")
    # PG_DURABILITY=durable: `make test` runs with fast, which production settings refuse.
    env = {"ENVIRONMENT": "production", "SECRET_KEY": "s" * 40, "PG_DURABILITY": "durable"}
    server = ServerProcess(cluster.plain_url, tmp_path, **env)
    try:
        with pytest.raises(RuntimeError, match="refuses a database that can lose"):
            server.start()
        assert server.process is not None and server.process.returncode != 0
    finally:
        server.stop()
    cluster.start("durable")
    server = ServerProcess(cluster.plain_url, tmp_path, **env)
    try:
        server.start()  # answers /api/health
    finally:
        server.stop()
