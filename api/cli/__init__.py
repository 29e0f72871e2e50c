"""The `gridgov` command: a thin layer over the services, one transaction per command."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import events.models  # noqa: F401  (the tables register on Base.metadata)
import gis.jobs  # noqa: F401
import grid.models  # noqa: F401
import people.models  # noqa: F401
from api.cli import hotspots, recurrence  # noqa: F401  (their commands join `analyse`)
from api.cli.analyse import analyse_app
from api.cli.audit import audit_app
from api.cli.backup import backup, restore
from api.cli.common import clear_errors, console, print_rejections, progress_bar
from api.cli.evaluation import evaluate_command
from api.cli.integrations import integration_app
from api.cli.maps import map_app
from api.cli.patrols import patrols_app
from api.cli.people import people_app
from api.cli.recut import recut_command
from api.cli.sensors import print_offline, sensors_app
from api.cli.sharing import share_app
from api.cli.tasks import tasks_app
from api.cli.worker import worker_app
from gis import local_pg, partitions
from gis.config import get_settings
from gis.crs import Crs
from gis.db import Base, check_durable, session_scope
from gis.distribution import citus_ddl, key_problems, placements
from gis.migrate import current, upgrade

app = typer.Typer(
    help="gridgov 网格化社会治理: grids, buildings, residents and events on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The project-local PostGIS cluster.", no_args_is_help=True)
seed_app = typer.Typer(help="Seed data.", no_args_is_help=True)
replica_app = typer.Typer(
    help="A hot standby of the local cluster that serves the dashboards' reads.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
db_app.add_typer(replica_app, name="replica")
app.add_typer(worker_app, name="worker")
app.command("backup")(backup)
app.command("restore")(restore)
app.command("recut")(recut_command)
app.command("evaluate")(evaluate_command)
app.add_typer(people_app, name="people")
app.add_typer(map_app, name="map")
app.add_typer(integration_app, name="integration")
app.add_typer(sensors_app, name="sensors")
app.add_typer(audit_app, name="audit")
app.add_typer(share_app, name="share")
app.add_typer(patrols_app, name="patrols")
app.add_typer(analyse_app, name="analyse")
app.add_typer(seed_app, name="seed")
app.add_typer(tasks_app, name="tasks")


def _database_url() -> str:
    return get_settings().sqlalchemy_url


@db_app.command("up")
@clear_errors
def db_up() -> None:
    """Start the local cluster (initialising it the first time) and create the database."""
    settings = get_settings()
    if not settings.uses_local_cluster:
        local_pg.ensure_database(settings.sqlalchemy_url)
        console.print("DATABASE_URL is set: using that database, no local cluster started.")
        return
    state = local_pg.up(settings)
    console.print(f"PostGIS cluster running on 127.0.0.1:{state.port} (data: {state.data_dir})")


@db_app.command("down")
@clear_errors
def db_down() -> None:
    """Stop the local cluster (and its replica); the data stays."""
    local_pg.replica_down(get_settings())
    state = local_pg.down(get_settings())
    console.print(f"PostGIS cluster stopped (data kept in {state.data_dir})")


@db_app.command("destroy")
@clear_errors
def db_destroy(
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Stop the local cluster and delete its data directory."""
    settings = get_settings()
    if not settings.uses_local_cluster:
        raise ValueError("DATABASE_URL is set: there is no local cluster to destroy")
    if not yes:
        typer.confirm("Delete the local cluster and all its data?", abort=True)
    local_pg.destroy(settings)
    console.print("local cluster deleted")


@db_app.command("status")
@clear_errors
def db_status() -> None:
    """Say whether the cluster runs and which migration the database is at."""
    settings = get_settings()
    if settings.uses_local_cluster:
        state = local_pg.status(settings)
        console.print(
            f"cluster: {'running' if state.running else 'stopped'} on port "
            f"{state.port}, data {state.data_dir}"
            f"{'' if state.initialised else ' (not initialised)'}"
        )
        if not state.running:
            raise typer.Exit(3)
    console.print(
        f"database: {settings.pg_database if settings.uses_local_cluster else 'DATABASE_URL'}"
        f", migration {current(_database_url()) or 'none'}"
    )


@db_app.command("citus-ddl")
@clear_errors
def db_citus_ddl() -> None:
    """Print the Citus statements that distribute this schema by district, in order.

    The connected database's keys are checked against Citus's rules first; a key that breaks
    them is named and nothing is printed (exit 1).
    """
    metadata = Base.metadata
    with session_scope() as session:
        problems = key_problems(session, placements(metadata))
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo("-- gridgov on Citus: run on the coordinator after `gridgov migrate`")
    for statement in citus_ddl(metadata):
        typer.echo(statement)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


@replica_app.command("up")
@clear_errors
def replica_up() -> None:
    """Start a hot standby of the local cluster (pg_basebackup + streaming) on PG_REPLICA_PORT."""
    settings = get_settings()
    state = local_pg.replica_up(settings)
    console.print(
        f"read replica running on 127.0.0.1:{state.port} (data: {state.data_dir}), streaming "
        f"from 127.0.0.1:{settings.pg_port}; `gridgov serve` reads the dashboards from it, "
        f"other servers with DATABASE_REPLICA_URL={_plain(settings.local_replica_url)}"
    )


@replica_app.command("down")
@clear_errors
def replica_down() -> None:
    """Stop the local replica (dashboards then read from the primary)."""
    state = local_pg.replica_down(get_settings())
    console.print(f"read replica stopped (data in {state.data_dir})")


@replica_app.command("status")
@clear_errors
def replica_status() -> None:
    """Say whether the local replica runs and how far behind the primary it is."""
    from gis.db import get_replica_engine, get_request_engine
    from gis.replica import ReplicaRouter

    settings = get_settings()
    if not settings.uses_local_cluster:
        raise ValueError("DATABASE_URL is set: there is no local replica")
    state = local_pg.replica_status(settings)
    console.print(
        f"replica: {'running' if state.running else 'stopped'} on port {state.port}, data "
        f"{state.data_dir}{'' if state.initialised else ' (not initialised)'}"
    )
    if not state.running:
        raise typer.Exit(3)
    router = ReplicaRouter(
        get_request_engine(),
        get_replica_engine(settings.local_replica_url),
        max_lag_s=settings.replica_max_lag_s,
        check_s=0,
    )
    health = router.health()
    lag = "" if health.lag_s is None else f", lag {health.lag_s:.1f} s"
    console.print(f"state: {health.state}{lag} (bound {settings.replica_max_lag_s:g} s)")
    if health.detail:
        console.print(health.detail)


@db_app.command("partitions")
@clear_errors
def db_partitions(
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="also drop outbox months older than OUTBOX_RETENTION_MONTHS whose rows are "
            "all delivered or dead",
        ),
    ] = False,
) -> None:
    """Create the monthly partitions of event, event_step and outbox ahead (run it daily).

    Months are created through PARTITION_MONTHS_AHEAD (6) after the current one; a row whose
    month has no partition is refused, so a stopped timer shows in `GET /api/health` first.
    """
    with session_scope() as session:
        created = partitions.ensure(session)
        dropped = partitions.prune(session) if prune else []
        covered = partitions.coverage(session)
    console.print(
        f"已建分区到 {covered.last_month} (partitions through {covered.last_month}, "
        f"{covered.months_ahead} months ahead); created {len(created)}"
        + (f": {', '.join(created)}" if created else "")
    )
    if prune:
        console.print(
            f"dropped {len(dropped)} outbox months" + (f": {', '.join(dropped)}" if dropped else "")
        )
    if covered.warning:
        typer.echo(covered.warning, err=True)


@db_app.command("reset")
@clear_errors
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Drop the database, create it again and migrate it (all data is lost)."""
    url = _database_url()
    if not yes:
        typer.confirm(f"Drop every row in {url.rsplit('/', 1)[-1]}?", abort=True)
    if get_settings().uses_local_cluster:
        local_pg.up(get_settings())
    local_pg.drop_database(url)
    local_pg.ensure_database(url)
    upgrade(url)
    console.print("database reset and migrated")


@app.command("migrate")
@clear_errors
def migrate() -> None:
    """Apply every pending migration, load the reference data, and give every building and
    house still without one its standard address (标准地址; a city's first time takes minutes)."""
    from events.reference import load_reference_data
    from grid.std_address import attach_all

    url = _database_url()
    upgrade(url)
    with session_scope() as session:
        categories, days = load_reference_data(session)
    with session_scope() as session:
        attached = attach_all(session)
    console.print(
        f"database at migration {current(url)}; reference data: {categories} new "
        f"event categories, {days} new calendar days; standard addresses for "
        f"{attached.buildings} buildings and {attached.houses} houses"
    )


class Scale(StrEnum):
    demo = "demo"
    city = "city"


@seed_app.command("demo")
@clear_errors
def seed_demo(
    scale: Annotated[
        Scale, typer.Option(help="demo ≈ 200 grids; city ≈ 20,000 grids")
    ] = Scale.demo,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same city")] = 42,
    replace: Annotated[
        bool, typer.Option(help="delete an existing demo city first (only before people exist)")
    ] = False,
) -> None:
    """Seed the synthetic Yichang demo city, its residents, units and events (idempotent)."""
    from demo import seed_all

    with progress_bar() as report, session_scope() as session:
        summary = seed_all(
            session, scale=scale.value, seed=seed, replace=replace, on_progress=report
        )
    city, people, events = summary.city, summary.people, summary.events
    what = "already present" if city.already_present else "seeded"
    console.print(
        f"demo city {what}: {city.districts} districts, {city.streets} streets, "
        f"{city.communities} communities, {city.grids} grids, "
        f"{city.buildings} buildings, {city.houses} houses"
    )
    what = "already present" if people.already_present else "seeded"
    console.print(
        f"people {what}: {people.residents} residents ({people.floating} floating), "
        f"{people.households} households, {people.special_groups} special-group members, "
        f"{people.organisations} organisations, {people.staff} staff accounts"
    )
    console.print(
        f"events: {events} new (department units, dispatchers and 60 days of "
        "events; 0 when already present)"
    )
    if summary.replies:
        console.print(f"12345 cases answered and called back: {summary.replies}")
    if summary.tier_centres or summary.judged:
        console.print(
            f"tier centres (社区/街道/市): {summary.tier_centres}; cases waiting for 立案 or "
            f"refused: {summary.judged}"
        )
    if summary.parts:
        console.print(f"city parts (城市部件) with their owner units: {summary.parts}")
    if summary.rentals:
        console.print(f"rentals (出租屋) with their tenants: {summary.rentals}")
    from people.task_rules import generate_tasks

    with session_scope() as session:  # what the daily `gridgov tasks generate` would raise
        raised = sum(run.raised for run in generate_tasks(session).values())
    console.print(f"grid workers' tasks (网格员任务) raised by the ledger rules: {raised}")
    if summary.open311_key:
        console.print("Open311 API key for the demo: gridgov-demo-key")


@app.command("escalate")
@clear_errors
def escalate(
    every: Annotated[
        float | None, typer.Option(help="repeat every so many seconds (default: run once)")
    ] = None,
) -> None:
    """Issue supervision orders (督办单) for stages that turned yellow or red, escalate orders
    unanswered at their deadline to the leader, and file 设备离线 tasks for silent devices; run
    from cron or with --every."""
    import time
    from datetime import UTC, datetime

    from events.escalation import escalate_overdue
    from events.sensors import mark_offline
    from events.supervision import escalate_unanswered

    while True:
        with session_scope() as session:
            report = escalate_overdue(session, now=datetime.now(UTC))
        console.print(
            f"{datetime.now():%H:%M:%S} checked {report.checked} running stages and sub-tasks: "
            f"{len(report.yellow)} yellow, {len(report.red)} red, {len(report.listed)} listed "
            f"(督办单 issued: 一般/重点/挂牌督办), {len(report.subtasks)} to assisting units "
            f"(协办), {report.notifications} notifications queued"
        )
        with session_scope() as session:
            unanswered = escalate_unanswered(session, now=datetime.now(UTC))
        console.print(
            f"{datetime.now():%H:%M:%S} {len(unanswered.escalated)} supervision orders "
            f"unanswered at their deadline escalated to the leader"
        )
        with session_scope() as session:
            offline = mark_offline(session, now=datetime.now(UTC))
        print_offline(offline)
        if every is None:
            return
        time.sleep(every)


class Layer(StrEnum):
    grids = "grids"
    buildings = "buildings"


class ImportLayer(StrEnum):
    grids = "grids"
    buildings = "buildings"
    parts = "parts"  # city parts (城市部件): points, CSV with lon and lat columns too
    addresses = "addresses"  # door plates (门牌): road, number, lon/lat, optional building_code


@app.command("import")
@clear_errors
def import_file(
    layer: ImportLayer,
    path: Annotated[
        Path, typer.Argument(help=".geojson, .gpkg, .shp or .csv (WKT, or lon/lat for parts)")
    ],
    crs: Annotated[
        Crs, typer.Option(help="lon/lat system of a file that declares none")
    ] = Crs.CGCS2000,
) -> None:
    """Import grids, buildings, city parts or door plates (门牌); nothing is written if any
    feature is rejected."""
    from grid import address_import, importer, parts
    from grid.exceptions import ImportRejected

    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with progress_bar() as report, session_scope() as session:
            if layer is ImportLayer.grids:
                result = importer.import_grids(session, path=path, crs=crs.value)
            elif layer is ImportLayer.addresses:
                result = address_import.import_addresses(session, path=path, crs=crs.value)
            elif layer is ImportLayer.parts:
                result = parts.import_parts(session, path=path, crs=crs.value, on_progress=report)
            else:
                result = importer.import_buildings(
                    session, path=path, crs=crs.value, on_progress=report
                )
    except ImportRejected as exc:
        print_rejections(exc.report)
        raise
    console.print(f"imported {result.imported} of {result.total} {layer.value}")


@app.command("export")
@clear_errors
def export_file(
    layer: Layer,
    path: Annotated[Path, typer.Argument(help=".geojson, .gpkg, .shp or .csv (WKT)")],
    area: Annotated[str | None, typer.Option(help="only this district/street/community")] = None,
) -> None:
    """Export grids or buildings; the format follows the file suffix."""
    from grid import io

    with session_scope() as session:
        export = io.export_grids if layer is Layer.grids else io.export_buildings
        count = export(session, path=path, area_code=area)
    console.print(f"exported {count} {layer.value} to {path}")


@app.command("locate")
@clear_errors
def locate(
    lon: float,
    lat: float,
    crs: Annotated[
        Crs, typer.Option(help="cgcs2000/wgs84, gcj02 (Gaode/Tencent), bd09")
    ] = Crs.WGS84,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Say which grid, community, street and building a point belongs to."""
    from grid.service import locate_point

    with session_scope() as session:
        result = locate_point(session, lon=lon, lat=lat, crs=crs)
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    table = Table(show_header=False)
    table.add_row("位置 point", f"{result.lon:.7f}, {result.lat:.7f} (CGCS2000)")
    table.add_row("匹配 match", result.match)
    for label, ref in (
        ("网格 grid", result.grid),
        ("社区 community", result.community),
        ("街道 street", result.street),
        ("区县 district", result.district),
    ):
        table.add_row(label, f"{ref.code} {ref.name}" if ref else "—")
    if result.distance_to_grid_m:
        table.add_row("距网格 to grid", f"{result.distance_to_grid_m:.1f} m")
    building = result.building
    table.add_row(
        "建筑 building",
        f"{building.code} {building.name or ''} ({building.distance_m:.1f} m)"
        if building
        else "— (none within 50 m)",
    )
    console.print(table)


@app.command("address")
@clear_errors
def address(
    text: Annotated[str, typer.Argument(help="the address as said, e.g. 前进里社区12栋3单元502")],
    limit: Annotated[int, typer.Option(help="candidates to show (1..20)")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Find the buildings (and house) an address text means (地址匹配), best first."""
    from grid.addresses import search_addresses

    with session_scope() as session:
        result = search_addresses(session, q=text, limit=limit)
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    if not result.candidates:
        console.print(f"no building matches “{text}” (没有匹配的建筑)")
        return
    table = Table("score", "building 建筑", "house 房屋", "grid 网格", "why 依据")
    for c in result.candidates:
        building = f"{c.building_code or '门牌'} {c.building_name or ''}\n{c.address or ''}"
        table.add_row(f"{c.score:.2f}", building, c.room or "—", c.grid_code or "—", c.why)
    console.print(table)


@app.command("serve")
@clear_errors
def serve(
    host: Annotated[str | None, typer.Option(help="default: settings HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default: settings PORT (8000)")] = None,
    reload: bool = False,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes (they share all state in PostgreSQL)")
    ] = 1,
) -> None:
    """Serve the API and pages (only on loopback while the secrets are development ones)."""
    import uvicorn

    from api.http.access_log import uvicorn_log_config

    settings = get_settings()
    check_durable()  # in production: refuse a database that may lose acknowledged writes
    host, port = host or settings.host, port or settings.port
    refusal = settings.serving_refusal(host)
    if refusal is not None:
        raise ValueError(refusal)
    if settings.database_replica_url:
        console.print("dashboards read from DATABASE_REPLICA_URL (the primary when it lags)")
    elif settings.uses_local_cluster and local_pg.replica_status(settings).running:
        # The worker processes inherit the environment, so they use it too.
        os.environ["DATABASE_REPLICA_URL"] = _plain(settings.local_replica_url)
        get_settings.cache_clear()
        console.print(
            f"dashboards read from the local replica on 127.0.0.1:{settings.pg_replica_port} "
            "(the primary when it lags or stops)"
        )
    base = f"http://{host}:{port}"
    console.print(f"gridgov on {base}/  —  API docs {base}/docs  —  grids {base}/api/grids")
    uvicorn.run(
        "api.app:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        # The access log hides api_key, token and password values (see api/http/access_log.py).
        log_config=uvicorn_log_config(),
    )
