"""Soak: ten minutes of mixed traffic at 80 % of the measured intake capacity.

The app runs in one uvicorn process on a seeded demo city. First the intake capacity is
measured (POST /api/events from 8 clients, events/s). Then requests are sent open-loop at 80 %
of that rate for the soak's duration, mixed as a working day mixes them: reports from grid
workers, queue lists, event details, supervision (督办) actions and the leader's map page.
Reported: requests that failed (must be 0), p99 latency over the first and the last minute,
and the server's resident memory at both ends (a leak shows as growth).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import Engine, text

from bench.common import Figure, bench_database, percentiles, uvicorn_process
from bench.http_workloads import (
    bearer,
    drive,
    filings,
    grid_points,
    list_accounts,
    reporter,
    seed_demo,
)

SOAK_SECONDS = 600.0
LOAD = 0.8  # of the measured intake capacity
CAPACITY_REQUESTS = 400
THREADS = 32
WINDOW_S = 60.0  # "start" and "end" are the first and last minute
# (share of requests, name) of the traffic mix.
MIX = (
    (0.40, "report"),
    (0.25, "list"),
    (0.15, "detail"),
    (0.15, "supervise"),
    (0.05, "map"),
)
console = Console()


@dataclass
class Sample:
    """One request: when it was sent (s since the soak began), how long it took, what it got."""

    kind: str
    sent: float
    took: float
    status: int


@dataclass
class Soak:
    """Everything the soak observed."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lag_s: float = 0.0  # how far behind schedule the last request was sent


def _rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _open_codes(engine: Engine, limit: int = 2000) -> list[str]:
    """Codes of open, already dispatched events (targets of details and supervision)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code FROM event WHERE status IN ('dispatched', 'signed') "
                "ORDER BY reported_at DESC LIMIT :n"
            ),
            {"n": limit},
        )
        return [code for (code,) in rows]


Request = Callable[[httpx.Client], httpx.Response]


def _get(path: str) -> Request:
    return lambda client: client.get(path)


def _supervise(code: str) -> Request:
    note = {"note": "基准测试督办：请加快处置"}
    return lambda client: client.post(f"/api/events/{code}/supervise", json=note)


def _requests(
    engine: Engine, total: int, seed: int = 7
) -> list[tuple[str, dict[str, str], Request]]:
    """`total` requests in the traffic mix, each with the headers of the account that sends it."""
    rng = random.Random(seed)
    accounts = {name: bearer(actor) for name, actor in list_accounts(engine).items()}
    worker = bearer(reporter(engine))
    codes = itertools.cycle(_open_codes(engine))
    reports = iter(filings(grid_points(engine, total), "/api/events"))
    kinds, weights = zip(*((k, w) for w, k in MIX), strict=True)
    plan: list[tuple[str, dict[str, str], Request]] = []
    for _ in range(total):
        kind = rng.choices(kinds, weights)[0]
        if kind == "report":
            plan.append((kind, worker, next(reports)))
        elif kind == "list":
            who = rng.choice(["dispatcher", "grid worker", "command"])
            plan.append((kind, accounts[who], _get("/api/events")))
        elif kind == "detail":
            plan.append((kind, accounts["admin"], _get(f"/api/events/{next(codes)}")))
        elif kind == "supervise":
            plan.append((kind, accounts["admin"], _supervise(next(codes))))
        else:
            plan.append((kind, accounts["admin"], _get("/maps/leader")))
    return plan


def soak(base: str, plan: list[tuple[str, dict[str, str], Request]], rate: float) -> Soak:
    """Send `plan` open-loop at `rate` requests/s from a pool of threads."""
    result = Soak()
    lock = threading.Lock()
    slots = iter(enumerate(plan))
    started = time.monotonic()

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    slot = next(slots, None)
                if slot is None:
                    return
                index, (kind, headers, request) = slot
                due = started + index / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sent = time.monotonic()
                client.headers.clear()
                client.headers.update(headers | {"Accept": "application/json"})
                try:
                    response = request(client)
                    status = response.status_code
                    detail = response.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = 0, f"{type(exc).__name__}: {exc}"
                took = time.monotonic() - sent
                with lock:
                    result.samples.append(Sample(kind, sent - started, took, status))
                    result.lag_s = max(result.lag_s, sent - due)
                    if not 200 <= status < 300:
                        result.errors.append(f"{kind} {status} {detail}")

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def soak_workload(seconds: float = SOAK_SECONDS) -> list[Figure]:
    """At demo scale: the intake capacity, then `seconds` of mixed traffic at 80 % of it."""
    with bench_database("soak") as engine:
        seed_demo(engine)
        env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}
        with uvicorn_process("api.app:app", env, "/api/health") as (base, server):
            headers = bearer(reporter(engine))
            burst = filings(grid_points(engine, CAPACITY_REQUESTS), "/api/events")
            capacity = drive(base, headers, burst, 8, 201).rate
            rate = LOAD * capacity
            plan = _requests(engine, int(rate * seconds))
            console.print(
                f"  intake capacity {capacity:.1f} events/s; soaking {len(plan):,} requests at "
                f"{rate:.1f}/s for {seconds:.0f} s"
            )
            rss_start = _rss_mib(server.pid)
            result = soak(base, plan, rate)
            rss_end = _rss_mib(server.pid)
    end = max(s.sent for s in result.samples)
    window = min(WINDOW_S, end / 2)
    first = [s.took for s in result.samples if s.sent < window]
    last = [s.took for s in result.samples if s.sent >= end - window]
    p99_start, p99_end = percentiles(first)[1], percentiles(last)[1]
    console.print(
        f"  {len(result.errors)} errors of {len(result.samples):,}; p99 {p99_start:.0f} ms in the "
        f"first minute, {p99_end:.0f} ms in the last; server RSS {rss_start:.0f} → "
        f"{rss_end:.0f} MiB; at most {result.lag_s:.1f} s behind schedule"
    )
    for error in result.errors[:5]:
        console.print(f"  [red]{error}[/red]")
    name = f"soak, {seconds / 60:.0f} min mixed traffic at {LOAD:.0%} of intake capacity"
    return [
        Figure(
            name,
            "failed requests",
            len(result.errors),
            "requests",
            "requests sent",
            len(result.samples),
        ),
        Figure(name, "p99, last minute", p99_end, "ms", "p99, first minute", p99_start),
        Figure(name, "server RSS at the end", rss_end, "MiB", "server RSS at the start", rss_start),
        Figure(
            name,
            "requests/s sent",
            len(result.samples) / end,
            "requests/s",
            "intake capacity (POST /api/events, 8 clients)",
            capacity,
        ),
    ]


__all__ = ["soak_workload"]
