"""Vector tiles of the buildings layer at z14–z16, ours against tipg on the same table.

Both servers run as uvicorn subprocesses on loopback against the same database in the same
run, and get the same tiles over HTTP: every tile at each zoom that holds a building centroid
(a seeded sample when there are more than `MAX_TILES`). tipg serves table `building` with the
same properties, extent, buffer and feature limit; ours also checks the bearer token (one
account lookup per tile), as it does in service.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import mapbox_vector_tile
import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.common import (
    Figure,
    admin_actor,
    bench_database,
    percentiles,
    seed_city,
    uvicorn_server,
)

ZOOMS = (14, 15, 16)
MAX_TILES = 150  # per zoom
MIN_SAMPLES = 300  # timed requests per zoom and server (tiles repeated in rounds)
CONCURRENCY = 4  # clients for the tiles/s figure
PROPERTIES = "code,floors,use,grid_code"

Tile = tuple[int, int, int]


def tile_of(lon: np.ndarray, lat: np.ndarray, z: int) -> tuple[np.ndarray, np.ndarray]:
    """XYZ tile columns and rows of lon/lat degrees at zoom z (Web Mercator)."""
    n = 2**z
    x = np.floor((lon + 180) / 360 * n).astype(np.int64)
    y = np.floor((1 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2 * n).astype(np.int64)
    return x, y


def built_up_tiles(engine: Engine, seed: int = 11) -> dict[int, list[Tile]]:
    """Per zoom, the tiles holding a building centroid (a seeded sample of MAX_TILES at most)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM building) s")
        ).all()
    points = np.array(rows, dtype=float)
    rng = np.random.default_rng(seed)
    chosen: dict[int, list[Tile]] = {}
    for z in ZOOMS:
        x, y = tile_of(points[:, 0], points[:, 1], z)
        tiles = sorted({(z, int(a), int(b)) for a, b in zip(x, y, strict=True)})
        if len(tiles) > MAX_TILES:
            picked = rng.choice(len(tiles), MAX_TILES, replace=False)
            tiles = [tiles[i] for i in sorted(picked)]
        chosen[z] = tiles
    return chosen


def _fetch(client: httpx.Client, url: str) -> bytes:
    response = client.get(url)
    response.raise_for_status()
    return response.content


def _latencies(
    ours: tuple[httpx.Client, str], theirs: tuple[httpx.Client, str], tiles: Sequence[Tile]
) -> tuple[list[float], list[float]]:
    """Sequential request times of both servers, interleaved tile by tile so drift hits both."""
    rounds = max(1, -(-MIN_SAMPLES // len(tiles)))
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        for z, x, y in tiles:
            order = ((0, ours), (1, theirs)) if (r + x + y) % 2 else ((1, theirs), (0, ours))
            for slot, (client, template) in order:
                started = time.perf_counter()
                _fetch(client, template.format(z=z, x=x, y=y))
                times[slot].append(time.perf_counter() - started)
    return times


def _throughput(template: str, headers: dict[str, str], tiles: Sequence[Tile]) -> float:
    """Tiles per second with CONCURRENCY clients working through the tiles in rounds."""
    rounds = max(1, -(-MIN_SAMPLES // len(tiles)))
    urls = [template.format(z=z, x=x, y=y) for _ in range(rounds) for z, x, y in tiles]
    shares = [urls[i::CONCURRENCY] for i in range(CONCURRENCY)]

    def work(share: list[str]) -> None:
        with httpx.Client(headers=headers, timeout=60) as client:
            for url in share:
                _fetch(client, url)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(work, shares))
    return len(urls) / (time.perf_counter() - started)


def _feature_count(data: bytes) -> int:
    layers = mapbox_vector_tile.decode(data)
    return sum(len(layer["features"]) for layer in layers.values())


def tile_figures(engine: Engine, label: str) -> list[Figure]:
    """Latency p50/p99, tiles/s and bytes per tile at z14–z16, ours against tipg."""
    from api.http.auth import issue_token

    url = make_url(engine.url.render_as_string(hide_password=False))
    with Session(engine) as session:
        token, _ = issue_token(admin_actor(session, "bench-tiles"))
        session.commit()
    with engine.connect() as conn:
        buildings = conn.execute(text("SELECT count(*) FROM building")).scalar_one()
    tiles = built_up_tiles(engine)
    ours_env = {"DATABASE_URL": url.render_as_string(hide_password=False)}
    tipg_env = {
        "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.building"]',
        "TIPG_TILE_BUFFER": "64",
        "TIPG_TILE_RESOLUTION": "4096",
        "TIPG_MAX_FEATURES_PER_TILE": "20000",
        "TIPG_DEBUG": "FALSE",
    }
    auth = {"Authorization": f"Bearer {token}"}
    figures: list[Figure] = []
    with (
        uvicorn_server("api.app:app", ours_env, "/api/health") as ours_base,
        uvicorn_server("tipg.main:app", tipg_env, "/healthz") as tipg_base,
        httpx.Client(headers=auth, timeout=60) as ours_client,
        httpx.Client(timeout=60) as tipg_client,
    ):
        ours_url = ours_base + "/tiles/buildings/{z}/{x}/{y}.mvt"
        tipg_url = (
            tipg_base
            + "/collections/public.building/tiles/WebMercatorQuad/{z}/{x}/{y}"
            + f"?properties={PROPERTIES}"
        )
        for z in ZOOMS:
            chosen = tiles[z]
            # Warm both (plans, caches, pools) and check they draw the same buildings.
            ours_bytes = theirs_bytes = ours_features = theirs_features = 0
            for _, x, y in chosen:
                mine = _fetch(ours_client, ours_url.format(z=z, x=x, y=y))
                other = _fetch(tipg_client, tipg_url.format(z=z, x=x, y=y))
                ours_bytes, theirs_bytes = ours_bytes + len(mine), theirs_bytes + len(other)
                ours_features += _feature_count(mine)
                theirs_features += _feature_count(other)
            ours_times, tipg_times = _latencies(
                (ours_client, ours_url), (tipg_client, tipg_url), chosen
            )
            ours_rate = _throughput(ours_url, auth, chosen)
            tipg_rate = _throughput(tipg_url, {}, chosen)
            (p50, p99), (b50, b99) = percentiles(ours_times), percentiles(tipg_times)
            name = f"buildings tile z{z} ({len(chosen)} tiles, {label}, {buildings} buildings)"
            baseline = "tipg, same table and tiles"
            n = len(chosen)
            figures += [
                Figure(name, "p50", p50, "ms", baseline, b50),
                Figure(name, "p99", p99, "ms", baseline, b99),
                Figure(
                    name,
                    f"tiles/s ({CONCURRENCY} clients)",
                    ours_rate,
                    "tiles/s",
                    baseline,
                    tipg_rate,
                ),
                Figure(name, "bytes/tile", ours_bytes / n, "B", baseline, theirs_bytes / n),
                Figure(name, "features/tile", ours_features / n, "", baseline, theirs_features / n),
            ]
    return figures


def tile_workload() -> list[Figure]:
    """The demo city (6,000 buildings): buildings tiles, ours against tipg."""
    with bench_database("tiles") as engine:
        seed_city(engine, "demo")
        return tile_figures(engine, "demo city")
