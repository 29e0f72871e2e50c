"""HTTP workloads: event intake over loopback, and the scoped event list.

The app runs in uvicorn (one process, as `gridgov serve` runs it) against the workload's
database, as `bench.app:app`, which also serves POST /api/bench/insert-event: the same
authentication, body parsing and validation, then only the INSERT of the event row. Both
endpoints are driven by the same clients in the same run, so the ratio is what locating,
routing, deadlines, history and outbox cost per report over HTTP.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bench.common import (
    Figure,
    admin_actor,
    bench_database,
    percentiles,
    uvicorn_server,
)

CLIENTS = (1, 8, 32)
# Requests per endpoint at each concurrency: enough for a p99 that is not one outlier.
REQUESTS = {1: 200, 8: 480, 32: 960}
WARM_UP = 30
LIST_REQUESTS = 200  # per list variant
CATEGORIES = ("0102", "0201", "0601", "0701", "1001", "0404")
console = Console()


@contextmanager
def serve(engine: Engine) -> Iterator[str]:
    """The app in uvicorn on a free loopback port, on `engine`'s database; yields its base URL."""
    env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    with uvicorn_server("bench.app:app", env, "/api/health") as base:
        yield base


def bearer(actor: Any) -> dict[str, str]:
    from api.http.auth import issue_token

    token, _ = issue_token(actor)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Run:
    """Latencies (s) of one batch of requests and its wall time."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")


def drive(
    base: str,
    headers: dict[str, str],
    requests: list[Callable[[httpx.Client], httpx.Response]],
    clients: int,
    expect: int,
) -> Run:
    """Send `requests` from `clients` threads (each its own keep-alive connection)."""
    run = Run()
    lock = threading.Lock()
    queue = iter(requests)

    def client_loop() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    return
                started = time.perf_counter()
                response = job(client)
                took = time.perf_counter() - started
                with lock:
                    if response.status_code == expect:
                        run.latencies.append(took)
                    else:
                        run.failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall = time.perf_counter() - started
    if run.failures:
        raise RuntimeError(f"{len(run.failures)} requests failed, e.g. {run.failures[0]}")
    return run


def grid_points(engine: Engine, n: int) -> list[tuple[float, float]]:
    """`n` points inside the city's grids (several per grid, deterministic)."""
    with engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grid")).scalar_one()
        per_grid = max(1, -(-n // grids))
        rows = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, :k, 7)))"
                ".geom AS p, code FROM grid) s ORDER BY md5(code || ST_AsText(p)) LIMIT :n"
            ),
            {"k": per_grid, "n": n},
        ).all()
    return [(float(x), float(y)) for x, y in rows]


def filings(points: list[tuple[float, float]], path: str) -> list[Any]:
    """One POST per point, each with its own idempotency key."""

    def request(i: int, lon: float, lat: float) -> Callable[[httpx.Client], httpx.Response]:
        body = {
            "category": CATEGORIES[i % len(CATEGORIES)],
            "lon": lon,
            "lat": lat,
            "description": "基准测试上报：HTTP 并发",
            "address": "西陵区基准路1号",
        }
        key = uuid.uuid4().hex
        return lambda client: client.post(path, json=body, headers={"Idempotency-Key": key})

    return [request(i, lon, lat) for i, (lon, lat) in enumerate(points)]


def _account(session: Session, username: str, full_name: str, role: str, **scope: Any) -> Any:
    """The bench account `username`, created on first use (password never used: tokens)."""
    from people.access import load_actor
    from people.models import Staff
    from people.staff import create_staff

    found = session.scalar(select(Staff.id).where(Staff.username == username))
    if found is not None:
        return load_actor(session, staff_id=found)
    return create_staff(
        session,
        username=username,
        password="bench-password",
        full_name=full_name,
        role=role,
        **scope,
    )


def reporter(engine: Engine) -> Any:
    """A grid worker covering every grid, so every point is in their grids."""
    with Session(engine) as session:
        grids = list(session.scalars(text("SELECT code FROM grid ORDER BY code")))
        actor = _account(
            session, "bench-http-worker", "基准网格员", "grid_worker", grid_codes=grids
        )
        session.commit()
    return actor


def intake_figures(engine: Engine, base: str, label: str) -> list[Figure]:
    """POST /api/events against POST /api/bench/insert-event at 1, 8 and 32 clients."""
    headers = bearer(reporter(engine))
    total = sum(REQUESTS.values()) * 2 + WARM_UP * 2
    points = grid_points(engine, total)
    cursor = 0

    def take(n: int) -> list[tuple[float, float]]:
        nonlocal cursor
        cursor += n
        return points[cursor - n : cursor]

    for path in ("/api/events", "/api/bench/insert-event"):
        drive(base, headers, filings(take(WARM_UP), path), 4, 201)
    figures = []
    baseline = "POST /api/bench/insert-event (auth, parse, insert the row only)"
    for clients in CLIENTS:
        n = REQUESTS[clients]
        full = drive(base, headers, filings(take(n), "/api/events"), clients, 201)
        bare = drive(base, headers, filings(take(n), "/api/bench/insert-event"), clients, 201)
        (p50, p99), (b50, b99) = percentiles(full.latencies), percentiles(bare.latencies)
        name = f"POST /api/events, {clients} client{'s' if clients > 1 else ''} ({label})"
        console.print(
            f"  {clients:>2} clients: {full.rate:6.1f} events/s (p50 {p50:.1f} ms, p99 "
            f"{p99:.1f} ms) vs insert-only {bare.rate:6.1f}/s (p50 {b50:.1f}, p99 {b99:.1f})"
        )
        figures += [
            Figure(name, "events/s", full.rate, "events/s", baseline, bare.rate),
            Figure(name, "p50", p50, "ms", baseline, b50),
            Figure(name, "p99", p99, "ms", baseline, b99),
        ]
    return figures


def list_accounts(engine: Engine) -> dict[str, Any]:
    """Who lists events: an admin, the busiest unit's dispatcher, the busiest grid's worker and
    the command centre of the busiest district."""
    with Session(engine) as session:
        unit_id = session.scalar(
            text(
                "SELECT unit_id FROM event WHERE unit_id IS NOT NULL GROUP BY unit_id "
                "ORDER BY count(*) DESC LIMIT 1"
            )
        )
        grid = session.scalar(
            text(
                "SELECT grid_code FROM event WHERE grid_code IS NOT NULL GROUP BY grid_code "
                "ORDER BY count(*) DESC LIMIT 1"
            )
        )
        district = session.scalar(
            text(
                "SELECT district_code FROM event GROUP BY district_code ORDER BY count(*) DESC "
                "LIMIT 1"
            )
        )
        accounts = {
            "admin": admin_actor(session),
            "dispatcher": _account(
                session,
                "bench-http-dispatcher",
                "基准派遣员",
                "dispatcher",
                department_unit_id=unit_id,
            ),
            "grid worker": _account(
                session, "bench-http-gridworker", "基准网格员", "grid_worker", grid_codes=[grid]
            ),
            "command": _account(
                session,
                "bench-http-command",
                "基准指挥中心",
                "command",
                area_code=f"{district}000000",
            ),
        }
        session.commit()
    return accounts


# (label, account, query parameters) of the list requests measured.
LIST_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("admin, all events by deadline", "admin", {}),
    ("admin, newest first", "admin", {"sort": "-reported_at"}),
    ("admin, red light", "admin", {"light": "red"}),
    ("admin, yellow light", "admin", {"light": "yellow"}),
    ("admin, text search", "admin", {"q": "占道"}),
    ("admin, text search, one character", "admin", {"q": "井"}),
    ("dispatcher, unit queue (open)", "dispatcher", {"status": ["dispatched", "signed"]}),
    ("grid worker, my grid", "grid worker", {}),
    ("command centre, district, page 20", "command", {"page": 20}),
]


def list_figures(engine: Engine, base: str, label: str) -> list[Figure]:
    """GET /api/events p50/p99 per caller and filter, against GET /api/me (signed-in floor)."""
    accounts = {name: bearer(actor) for name, actor in list_accounts(engine).items()}

    def get(path: str, params: dict[str, Any]) -> Callable[[httpx.Client], httpx.Response]:
        return lambda client: client.get(path, params=params)

    me = drive(base, accounts["admin"], [get("/api/me", {})] * LIST_REQUESTS, 1, 200)
    m50, m99 = percentiles(me.latencies)
    baseline = "GET /api/me (sign-in check and one account read)"
    figures = []
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
    for name, who, params in LIST_VARIANTS:
        request = get("/api/events", params | {"page_size": 50})
        drive(base, accounts[who], [request] * 5, 1, 200)  # warm
        run = drive(base, accounts[who], [request] * LIST_REQUESTS, 1, 200)
        p50, p99 = percentiles(run.latencies)
        console.print(f"  GET /api/events {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        metric = f"GET /api/events: {name} ({label}, {events:,} events)"
        figures += [
            Figure(metric, "p50", p50, "ms", baseline, m50),
            Figure(metric, "p99", p99, "ms", baseline, m99),
        ]
    return figures


def http_list_figures(engine: Engine, label: str) -> list[Figure]:
    """The list figures on an already seeded database (the city workload calls this)."""
    with serve(engine) as base:
        return list_figures(engine, base, label)


def seed_demo(engine: Engine) -> None:
    """The whole demo city (grids to events) in the benchmark database, analysed."""
    from demo import seed_all
    from demo.city.scales import DEFAULT_SEED

    with Session(engine) as session:
        seed_all(session, scale="demo", seed=DEFAULT_SEED)
        session.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))


def http_workload() -> list[Figure]:
    """At demo scale: HTTP intake at 1, 8 and 32 clients, then the list (after the intake)."""
    with bench_database("http") as engine:
        seed_demo(engine)
        with serve(engine) as base:
            figures = intake_figures(engine, base, "demo city")
            figures += list_figures(engine, base, "demo city")
    return figures


__all__ = ["http_list_figures", "http_workload", "serve"]
