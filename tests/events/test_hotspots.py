"""Gi* hot spots: z-scores against Ord & Getis (1995) worked out by hand, classes, islands,
equal counts, emerging hot spots, and the district's grids in the database."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update

from events.exceptions import Forbidden, InvalidReport, NotFound
from events.hotspots import (
    cached_adjacency,
    classify,
    gi_star,
    grid_adjacency,
    hotspots,
    trend,
)
from grid.models import Grid
from tests.events.hotspot_city import MONDAY, build_hotspot_city, cell, code
from tests.factories import COMMUNITY, add_grid, ewkb, square


def lattice(rows: int, cols: int) -> list[list[int]]:
    """Queen neighbours of a rows×cols lattice numbered row by row (self not included)."""
    out: list[list[int]] = []
    for r in range(rows):
        for c in range(cols):
            out.append(
                [
                    rr * cols + cc
                    for rr in range(max(r - 1, 0), min(r + 2, rows))
                    for cc in range(max(c - 1, 0), min(c + 2, cols))
                    if (rr, cc) != (r, c)
                ]
            )
    return out


def ord_getis_z(x: np.ndarray, neighbours: list[list[int]]) -> np.ndarray:
    """Gi* by the textbook formula (Ord & Getis 1995, binary weights, self included)."""
    n = len(x)
    w = np.zeros((n, n))
    for i, js in enumerate(neighbours):
        w[i, i] = 1.0
        w[i, js] = 1.0
    mean = x.sum() / n
    s = math.sqrt((x**2).sum() / n - mean**2)
    wi = w.sum(axis=1)
    s1 = (w**2).sum(axis=1)
    return (w @ x - mean * wi) / (s * np.sqrt((n * s1 - wi**2) / (n - 1)))


def test_z_scores_match_the_ord_getis_formula_on_a_4x4_lattice():
    x = np.array([7, 5, 0, 1, 6, 3, 0, 0, 2, 0, 1, 4, 0, 0, 3, 9], dtype=float)
    z, p = gi_star(x, lattice(4, 4))
    assert np.max(np.abs(z - ord_getis_z(x, lattice(4, 4)))) < 1e-9
    assert np.allclose(p, [math.erfc(abs(v) / math.sqrt(2)) for v in z], atol=1e-12)


def test_a_corner_block_of_a_4x4_lattice_is_a_hot_spot_with_z_root_15():
    # Counts 5 in the 2×2 corner block, 0 elsewhere: x̄ = 1.25, S = √75/4; corner cell:
    # Σwx = 20, W = 4, z = (20 − 5) / (S √((64 − 16)/15)) = 15 / √15 = √15.
    x = np.zeros(16)
    x[[0, 1, 4, 5]] = 5
    z, p = gi_star(x, lattice(4, 4))
    assert abs(z[0] - math.sqrt(15)) < 1e-9
    assert classify(z[0], p[0]) == "热点99"


def test_the_centre_of_a_5x5_lattice_is_significant_and_a_corner_is_not():
    # One event in each of the centre 3×3 block: n = 25, x̄ = 0.36, S = 0.48. Centre: Σwx = 9,
    # W = 9, z = (9 − 3.24) / (0.48 √((225 − 81)/24)) = 5.76 / (0.48 √6) = 2√6 ≈ 4.90.
    # Corner: Σwx = 1, W = 4, z = (1 − 1.44) / (0.48 √((100 − 16)/24)) = −0.44 / (0.48 √3.5).
    x = np.zeros(25)
    for r in (1, 2, 3):
        for c in (1, 2, 3):
            x[r * 5 + c] = 1
    z, p = gi_star(x, lattice(5, 5))
    assert abs(z[12] - 2 * math.sqrt(6)) < 1e-9
    assert abs(z[0] - (-0.44 / (0.48 * math.sqrt(3.5)))) < 1e-9
    assert classify(z[12], p[12]) == "热点99"
    assert classify(z[0], p[0]) == "不显著"


@pytest.mark.parametrize("value", [0, 3])
def test_equal_counts_have_no_hot_spot_and_no_division_by_zero(value):
    z, p = gi_star(np.full(9, float(value)), lattice(3, 3))
    assert z.tolist() == [0.0] * 9 and p.tolist() == [1.0] * 9
    assert {classify(a, b) for a, b in zip(z, p, strict=True)} == {"不显著"}


def test_an_island_is_never_significant_and_leaves_the_others_finite():
    neighbours = [*lattice(3, 3), []]  # a 10th grid with no neighbour
    x = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 40], dtype=float)
    z, p = gi_star(x, neighbours)
    assert np.all(np.isfinite(z)) and abs(z - ord_getis_z(x, neighbours)).max() < 1e-9
    assert p[9] < 0.01  # the formula alone would call it hot …
    assert classify(z[9], p[9], island=True) == "不显著"  # … an island is not a cluster


@pytest.mark.parametrize(
    ("z", "p", "expected"),
    [
        (2.6, 0.0099, "热点99"),
        (2.5, 0.01, "热点95"),  # at the limit: p < 0.01 is needed for 99%
        (2.0, 0.0499, "热点95"),
        (1.9, 0.05, "热点90"),
        (1.7, 0.0999, "热点90"),
        (1.6, 0.10, "不显著"),
        (-2.6, 0.0099, "冷点99"),
        (-1.7, 0.0999, "冷点90"),
    ],
)
def test_classes_follow_the_p_value_thresholds(z, p, expected):
    assert classify(z, p) == expected


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        ("热点95", "不显著", "新出现"),
        ("热点90", "热点99", "持续"),
        ("不显著", "热点95", "消退"),
        ("冷点99", "热点90", "消退"),
        ("不显著", "冷点95", None),
    ],
)
def test_emerging_hot_spots_compare_with_the_period_before(now, before, expected):
    assert trend(now, before) == expected


# --- in the database: a 5×5 lattice of grids -------------------------------------------------


@pytest.fixture
def lattice_city(session):
    return build_hotspot_city(session)


WEEK = (MONDAY - timedelta(hours=10), MONDAY - timedelta(hours=10) + timedelta(days=7))


def test_adjacency_of_the_lattice_is_queen_contiguity(lattice_city):
    adjacency = grid_adjacency(lattice_city["session"], district_code="420502")
    assert adjacency.codes == [code(r, c) for r in range(5) for c in range(5)]
    assert [sorted(n) for n in adjacency.neighbours] == lattice(5, 5)


def test_the_centre_grid_is_a_hot_spot_of_category_01_this_week(lattice_city):
    report = hotspots(
        lattice_city["session"],
        actor=lattice_city["leader"],
        district="420502",
        start=WEEK[0],
        end=WEEK[1],
        category="01",
    )
    by_code = {g.code: g for g in report.grids}
    centre, corner = by_code[code(2, 2)], by_code[code(0, 0)]
    assert (centre.count, corner.count, by_code[code(4, 4)].count) == (1, 0, 0)
    assert abs(centre.z - 2 * math.sqrt(6)) < 1e-9 and centre.hot_class == "热点99"
    assert centre.trend == "新出现" and corner.previous_count == 1
    assert report.grids_total == 25 and report.events_total == 9
    assert report.classes["热点99"] == sum(g.hot_class == "热点99" for g in report.grids) >= 1


def test_all_categories_count_the_other_corner_too(lattice_city):
    report = hotspots(
        lattice_city["session"],
        actor=lattice_city["admin"],
        district="420502",
        start=WEEK[0],
        end=WEEK[1],
    )
    assert report.events_total == 10 and report.category_name == "全部类别"
    assert {g.code: g.count for g in report.grids}[code(4, 4)] == 1


def test_an_empty_period_gives_no_hot_spot(lattice_city):
    report = hotspots(
        lattice_city["session"],
        actor=lattice_city["admin"],
        district="420502",
        start=WEEK[0] + timedelta(days=70),
        end=WEEK[1] + timedelta(days=70),
    )
    assert report.events_total == 0 and report.classes["不显著"] == 25


def test_scope_roles_and_bad_input(lattice_city):
    s, window = lattice_city["session"], {"start": WEEK[0], "end": WEEK[1]}
    with pytest.raises(Forbidden):
        hotspots(s, actor=lattice_city["street_leader"], district="420502", **window)
    with pytest.raises(Forbidden):
        hotspots(s, actor=lattice_city["dispatcher"], district="420502", **window)
    with pytest.raises(NotFound):
        hotspots(s, actor=lattice_city["admin"], district="420599", **window)
    for bad in ("1", "010", "99", "abc"):
        with pytest.raises(InvalidReport):
            hotspots(s, actor=lattice_city["admin"], district="420502", category=bad, **window)
    with pytest.raises(InvalidReport):
        hotspots(s, actor=lattice_city["admin"], district="42050", **window)


def test_the_adjacency_is_reused_until_a_grid_changes(lattice_city):
    session = lattice_city["session"]
    first = cached_adjacency(session, district_code="420502")
    assert cached_adjacency(session, district_code="420502") is first
    # A grid far from the lattice (an island) joins the district: built again, with it.
    add_grid(session, COMMUNITY + "099", square(111.30, 30.70, 0.002))
    second = cached_adjacency(session, district_code="420502")
    assert second is not first and second.codes[-1] == COMMUNITY + "099"
    assert second.neighbours[-1] == []
    # Reshaped: the island moved onto the lattice's east edge becomes a neighbour.
    session.execute(
        update(Grid).where(Grid.code == COMMUNITY + "099").values(geom=ewkb(cell(2, 5)))
    )
    third = cached_adjacency(session, district_code="420502")
    assert sorted(third.codes[i] for i in third.neighbours[-1]) == [
        code(1, 4),
        code(2, 4),
        code(3, 4),
    ]


def test_an_island_grid_in_the_district_is_flagged_and_not_significant(lattice_city):
    session = lattice_city["session"]
    add_grid(session, COMMUNITY + "099", square(111.30, 30.70, 0.002))
    report = hotspots(
        session, actor=lattice_city["admin"], district="420502", start=WEEK[0], end=WEEK[1]
    )
    island = next(g for g in report.grids if g.code == COMMUNITY + "099")
    assert island.island and island.hot_class == "不显著" and report.islands == 1
