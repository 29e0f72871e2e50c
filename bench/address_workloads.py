"""Address search (地址匹配): p50/p99 against a bare indexed lookup of the text's key in the
standard addresses (标准地址)."""

from __future__ import annotations

import time

from rich.console import Console
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, bench_database, percentiles, seed_city
from grid.address_text import parse_address

console = Console()

# Buildings spread over the city by id, each with its admin names and one of its houses.
_SAMPLE = text(
    """
    SELECT b.code, b.address, b.name, d.name, s.name, h.unit, h.room
    FROM building b
    JOIN admin_unit d ON d.code = substr(b.grid_code, 1, 6) || '000000'
    JOIN admin_unit s ON s.code = substr(b.grid_code, 1, 9) || '000'
    LEFT JOIN LATERAL (
        SELECT unit, room FROM house WHERE building_id = b.id ORDER BY id DESC LIMIT 1
    ) h ON true
    WHERE b.id % :step = 0 AND b.address IS NOT NULL
    ORDER BY b.id
    LIMIT :n
    """
)


def _queries(session: Session, n: int) -> list[tuple[str, str, str]]:
    """(what a caller says, the stored address, the building code) for `n` buildings: door
    plates (夷陵大道121号) and community + building + unit + room (前进里社区12栋3单元502)."""
    total = session.execute(text("SELECT count(*) FROM building")).scalar_one()
    rows = session.execute(_SAMPLE, {"step": max(1, total // n), "n": n}).all()
    out = []
    for i, (code, address, name, district, street, unit, room) in enumerate(rows):
        said = address.removeprefix(district).removeprefix(street)
        if i % 2 and name and unit:
            said = f"{name}{unit}单元{int(room)}"
        elif i % 4 == 2:
            said = district + said
        out.append((said, address, code))
    return out


def _key(said: str) -> str:
    """The door plate or estate + building key the parser reads from `said` (no admin names)."""
    parsed = parse_address(said, [])
    return parsed.road_key or parsed.building_key or said


def address_figures(engine: Engine, label: str, n: int = 2000) -> list[Figure]:
    """search_addresses p50/p99 against one indexed lookup of the text's key (parsed outside
    the timing) in `std_address`, on the same buildings."""
    from grid.addresses import search_addresses

    ours, bare, hits = [], [], 0
    lookup = text(
        "SELECT code FROM std_address WHERE level IN ('door', 'building') AND match_key = :key"
    )
    with Session(engine) as session:
        queries = _queries(session, n)
        keys = [_key(said) for said, _, _ in queries]
        for (said, _, _), key in zip(queries[:50], keys, strict=False):  # warm both
            search_addresses(session, q=said)
            session.execute(lookup, {"key": key}).all()
        for (said, _, code), key in zip(queries, keys, strict=True):
            t0 = time.perf_counter()
            session.execute(lookup, {"key": key}).all()
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            found = search_addresses(session, q=said).candidates
            ours.append(time.perf_counter() - t0)
            hits += bool(found) and found[0].building_code == code
        buildings = session.execute(text("SELECT count(*) FROM building")).scalar_one()
    console.print(f"  address search: top-1 right for {hits} of {len(queries)} sampled texts")
    (p50, p99), (b50, b99) = percentiles(ours), percentiles(bare)
    name = f"address search @ {buildings:,} buildings ({label})"
    baseline = "bare indexed lookup of the parsed key in std_address"
    return [
        Figure(name, "p50", p50, "ms", baseline, b50),
        Figure(name, "p99", p99, "ms", baseline, b99),
    ]


def address_workload() -> list[Figure]:
    """Address search on the demo city (11,000 buildings)."""
    with bench_database("addresses") as engine:
        seed_city(engine, "demo")
        return address_figures(engine, "demo city")


def address_city_workload() -> list[Figure]:
    """Address search at city scale (600,000 buildings); seeding the city takes minutes."""
    with bench_database("addresses_city") as engine:
        started = time.perf_counter()
        seed_city(engine, "city")
        console.print(f"  city seeded in {time.perf_counter() - started:.0f} s")
        return address_figures(engine, "city")
