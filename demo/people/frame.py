"""The stored demo city as columns (`CityFrame`), and the sampling helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from demo.arrays import Array, BoolArray, FloatArray, IntArray
from demo.people.scales import DemoPeopleError
from demo.people.vocabulary import (
    GIVEN,
    MOBILE_PREFIXES,
    SINGLE_CHAR_NAME_P,
    SURNAME,
    SURNAME_P,
)
from gis.bulk import read_frame

# --------------------------------------------------------------------------- the city frame


@dataclass(frozen=True, eq=False)
class CityFrame:
    """The stored demo city, as parallel arrays ordered by code (what people are placed in)."""

    grid_code: Array
    grid_name: Array
    street_name: dict[str, str]  # 9-digit street prefix → name
    community_name: dict[str, str]  # 12-digit community code → name
    district_name: dict[str, str]  # 6-digit district code → name
    building_id: IntArray
    building_grid: IntArray  # index into grid_code
    building_use: Array
    building_address: Array
    building_x: FloatArray  # point on surface (lon, 4490), NaN for residential buildings
    building_y: FloatArray
    house_id: IntArray
    house_building: IntArray  # index into building_id
    house_unit: Array
    house_room: Array
    house_use: Array

    @property
    def building_district(self) -> Array:
        """6-digit district code of each building."""
        return np.array([c[:6] for c in self.grid_code])[self.building_grid]


def _read_csv(session: Session, query: str, params: dict[str, Any], dtype: Any) -> pd.DataFrame:
    """Rows of `query` read with COPY (fast for millions of rows); empty x/y become NaN."""
    return read_frame(
        session, query=query, params=params, dtype=dtype, na_values={"x": [""], "y": [""]}
    )


def load_city_frame(session: Session, *, district_codes: Sequence[str]) -> CityFrame:
    """Grids, buildings and houses of the districts, ordered by their codes."""
    session.flush()
    params = {"codes": list(district_codes)}
    grids = _read_csv(
        session,
        "SELECT code, name FROM grid WHERE district_code = ANY(%(codes)s) "
        'ORDER BY code COLLATE "C"',
        params,
        str,
    )
    units = _read_csv(
        session,
        "SELECT code, name, level::text AS level FROM admin_unit "
        "WHERE district_code = ANY(%(codes)s) ORDER BY code",
        params,
        str,
    )
    buildings = _read_csv(
        session,
        "SELECT b.id, b.code, b.grid_code, b.use::text AS use, coalesce(b.address, b.code) AS "
        "address, CASE WHEN b.use <> 'residential' THEN ST_X(ST_PointOnSurface(b.geom)) END AS x, "
        "CASE WHEN b.use <> 'residential' THEN ST_Y(ST_PointOnSurface(b.geom)) END AS y "
        "FROM building b JOIN grid g ON g.code = b.grid_code "
        'WHERE g.district_code = ANY(%(codes)s) ORDER BY b.code COLLATE "C"',
        params,
        {"id": np.int64, "code": str, "grid_code": str, "use": str, "address": str},
    )
    houses = _read_csv(
        session,
        "SELECT h.id, b.code AS building_code, h.unit, h.room, h.use::text AS use "
        "FROM house h JOIN building b ON b.id = h.building_id "
        "JOIN grid g ON g.code = b.grid_code WHERE g.district_code = ANY(%(codes)s) "
        'ORDER BY b.code COLLATE "C", h.unit COLLATE "C", h.floor, h.room COLLATE "C"',
        params,
        {"id": np.int64, "building_code": str, "unit": str, "room": str, "use": str},
    )
    grid_code = grids["code"].to_numpy(dtype=str)
    building_code = buildings["code"].to_numpy(dtype=str)
    building_grid = np.searchsorted(grid_code, buildings["grid_code"].to_numpy(dtype=str))
    house_building = np.searchsorted(building_code, houses["building_code"].to_numpy(dtype=str))
    # Both lists come sorted in code-point order (COLLATE "C"), as searchsorted needs.
    if len(houses) and not np.array_equal(building_code[house_building], houses["building_code"]):
        raise AssertionError("houses and buildings did not line up by building code")
    levels = units.groupby("level")
    names = {level: dict(zip(frame["code"], frame["name"], strict=True)) for level, frame in levels}
    return CityFrame(
        grid_code=grid_code,
        grid_name=grids["name"].to_numpy(dtype=str),
        street_name={c[:9]: n for c, n in names.get("street", {}).items()},
        community_name=names.get("community", {}),
        district_name={c[:6]: n for c, n in names.get("district", {}).items()},
        building_id=buildings["id"].to_numpy(dtype=np.int64),
        building_grid=building_grid.astype(np.int64),
        building_use=buildings["use"].to_numpy(dtype=str),
        building_address=buildings["address"].to_numpy(dtype=str),
        building_x=buildings["x"].to_numpy(dtype=float),
        building_y=buildings["y"].to_numpy(dtype=float),
        house_id=houses["id"].to_numpy(dtype=np.int64),
        house_building=house_building.astype(np.int64),
        house_unit=houses["unit"].to_numpy(dtype=str),
        house_room=houses["room"].to_numpy(dtype=str),
        house_use=houses["use"].to_numpy(dtype=str),
    )


# --------------------------------------------------------------------------- sampling helpers


def pick_indices(rng: np.random.Generator, p: FloatArray, n: int) -> IntArray:
    """`n` indices drawn with probabilities `p`."""
    return np.searchsorted(np.cumsum(p), rng.random(n) * float(p.sum()), side="right").clip(
        0, len(p) - 1
    )


def pick_rows(rng: np.random.Generator, p: FloatArray) -> IntArray:
    """One column index per row of the row-stochastic matrix `p`."""
    cumulative = np.cumsum(p, axis=1)
    u = rng.random(len(p))[:, None] * cumulative[:, -1:]
    picks: IntArray = np.minimum((u > cumulative).sum(axis=1), p.shape[1] - 1)
    return picks


def weighted_sample(rng: np.random.Generator, weights: FloatArray, k: int) -> IntArray:
    """`k` distinct indices, each drawn with probability proportional to its weight.

    Efraimidis–Spirakis: the k largest u**(1/w); zero weights are never drawn. Sorted.
    """
    eligible = np.flatnonzero(weights > 0)
    k = min(k, len(eligible))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(rng.random(len(eligible))) / weights[eligible]
    top = np.argpartition(-keys, k - 1)[:k]
    return np.sort(eligible[top]).astype(np.int64)


def as_days(values: Any) -> Array:
    return np.asarray(values).astype("timedelta64[D]")


def as_dates(days: Array) -> Array:
    """ISO date strings of datetime64[D] values."""
    return np.datetime_as_string(days, unit="D")


def _given_names(rng: np.random.Generator, male: BoolArray, year: IntArray) -> Array:
    """Given names (1 or 2 characters) typical of each person's sex and birth year."""
    era = np.where(year <= 1965, 0, np.where(year <= 1994, 1, 2))
    n = len(male)
    first = np.empty(n, dtype="<U1")
    second = np.empty(n, dtype="<U1")
    for sex in (True, False):
        for e in range(3):
            sel = np.flatnonzero((male == sex) & (era == e))
            pool = np.array(GIVEN[(sex, e)])
            first[sel] = pool[rng.integers(0, len(pool), len(sel))]
            second[sel] = pool[rng.integers(0, len(pool), len(sel))]
    single = rng.random(n) < np.array(SINGLE_CHAR_NAME_P)[era]
    second[single] = ""
    return np.strings.add(first, second)


def chinese_names(
    rng: np.random.Generator, male: BoolArray, year: IntArray, surname: IntArray | None = None
) -> Array:
    """Full names: surname (by frequency, or the given index) + given name."""
    if surname is None:
        surname = pick_indices(rng, SURNAME_P, len(male))
    return np.strings.add(SURNAME[surname], _given_names(rng, male, year))


def mobile_numbers(rng: np.random.Generator, n: int) -> Array:
    """`n` valid mainland mobile numbers (bytes 'S11')."""
    prefixes = np.array([p.encode() for p in MOBILE_PREFIXES], dtype="S3")
    chars = np.empty((n, 11), dtype=np.uint8)
    chars[:, :3] = prefixes[rng.integers(0, len(prefixes), n)].view(np.uint8).reshape(n, 3)
    chars[:, 3:] = rng.integers(0, 10, (n, 8)) + ord("0")
    return chars.view("S11").ravel()


def masked_mobiles(phones: Array) -> Array:
    chars = phones.view(np.uint8).reshape(len(phones), 11).copy()
    chars[:, 3:7] = ord("*")
    return chars.view("S11").ravel()


_ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)


def id_numbers(region: IntArray, birth: Array, sequence: IntArray) -> Array:
    """GB 11643 numbers (bytes 'S18') of region + YYYYMMDD + 3-digit sequence + check."""
    n = len(region)
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    body = np.empty((n, 17), dtype=np.int64)
    for column, (value, width) in enumerate(
        ((region, 6), (year * 10_000 + month * 100 + day, 8), (sequence, 3))
    ):
        start = (0, 6, 14)[column]
        for k in range(width):
            body[:, start + k] = value // 10 ** (width - 1 - k) % 10
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :17] = body + ord("0")
    chars[:, 17] = _ID_CHECK[(body @ _ID_WEIGHTS) % 11]
    return chars.view("S18").ravel()


def unique_sequences(
    rng: np.random.Generator, region: IntArray, birth: Array, male: BoolArray
) -> IntArray:
    """3-digit ID sequences, odd for men, unique among people sharing region and birth day."""
    n = len(region)
    key = region * 100_000_000 + birth.astype(np.int64)  # days since 1970 fit in 8 digits
    start = rng.integers(0, 500, n)
    order = np.lexsort((start, male, key))
    k, m = key[order], male[order]
    new_group = np.r_[True, (k[1:] != k[:-1]) | (m[1:] != m[:-1])]
    group_start = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    rank = np.arange(n) - group_start[group]
    if n and rank.max() >= 500:
        raise DemoPeopleError("more than 500 people share a region, birth day and sex")
    sequence = np.empty(n, dtype=np.int64)
    sequence[order] = 2 * ((start[order][group_start][group] + rank) % 500) + m
    return sequence
