"""Generating the demo people (`generate_people`): pure, from the city frame and a seed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np

from demo.arrays import Array, BoolArray, FloatArray, IntArray
from demo.city.scales import DEFAULT_SEED
from demo.people.frame import (
    CityFrame,
    as_days,
    chinese_names,
    id_numbers,
    mobile_numbers,
    pick_indices,
    pick_rows,
    unique_sequences,
    weighted_sample,
)
from demo.people.groups import generate_special_groups, years_before
from demo.people.scales import DAYS_PER_YEAR, REFERENCE_DAY, DemoPeopleError, people_scale
from demo.people.vocabulary import (
    ARRIVAL_REASONS,
    CHILD,
    DEDICATED_KINDS,
    EDUCATION,
    EDUCATION_P,
    ETHNICITY_P,
    FALLBACK_ORIGIN,
    FIRE_KEY_SHARE,
    FLOATING_SHARE,
    FOREIGN_NAMES,
    HEAD,
    JOB_EMPLOYER,
    JOB_P_FLOATING,
    JOB_P_REGISTERED,
    JOBS,
    KIND_INDEX,
    NATIONALITIES,
    ORG_KINDS,
    ORIGIN_P,
    OTHER,
    OVERSEAS_SHARE,
    PARENT,
    PREVIOUS_RESIDENCE_SHARE,
    REGION_CODE,
    REGION_NAME,
    SECURITY_KEY_SHARE,
    SIZE_P,
    SPOUSE,
    SURNAME_P,
    TEMPLATES,
    TRADE_CHARS,
    UNREGISTERED_SHARE,
    USE_KINDS,
    USE_ORG_WEIGHT,
    OrgKind,
    words,
)
from gis.clock import local_today
from people.documents import DocumentType
from people.models import OrganisationType, ResidenceType

# --------------------------------------------------------------------------- generation


@dataclass(frozen=True, eq=False)
class DemoPeople:
    """Everything `generate_people` made: per-household, per-person and per-group columns.

    Person columns are parallel arrays; `household` indexes the household columns, house and
    building columns index the `CityFrame`. Strings that only exist at write time (addresses,
    encrypted values) are made per batch when copying.
    """

    # households
    hh_house: IntArray  # index into frame houses
    hh_size: IntArray
    hh_moved_in: Array  # datetime64[D]
    # persons
    household: IntArray
    relation: IntArray  # index into _RELATIONS
    residence_type: Array  # ResidenceType values
    doc_type: Array  # DocumentType values
    doc_number: Array  # str
    name: Array
    male: BoolArray
    birth: Array  # datetime64[D]
    ethnicity: IntArray
    region: IntArray  # index into _REGIONS for ID-card holders born there, else -1
    origin: Array  # '' when none
    arrival: Array  # datetime64[D], NaT when none
    arrival_reason: IntArray  # -1 when none
    permit_number: Array  # '' when none
    permit_expiry: Array  # datetime64[D], NaT when none
    phone: Array  # bytes 'S11', b'' when none
    education: IntArray  # -1 when none
    occupation: Array  # '' when none
    employer: IntArray  # index into organisations, -1 when none
    marital: Array  # '' when none
    political: Array
    moved_in: Array  # datetime64[D]
    # earlier, closed residences (人房关联 history)
    prev_person: IntArray
    prev_house: IntArray
    prev_moved_in: Array
    # special groups
    sg_person: IntArray
    sg_type: Array  # SpecialGroupType values
    sg_danger: IntArray  # -1 when none
    sg_started: Array
    sg_last_visit: Array  # NaT when never visited
    sg_interval: IntArray
    sg_details: list[dict[str, Any]]
    # organisations
    org_building: IntArray
    org_kind: IntArray
    org_name: Array
    org_sequence: IntArray
    org_staff: IntArray
    org_fire: BoolArray
    org_security: BoolArray
    org_legal: Array
    org_responsible: Array
    org_phone: list[str]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def residents(self) -> int:
        """How many people were generated."""
        return len(self.household)


_OFFICES: Final = words(
    "党群服务中心 社区服务中心 司法所 市场监督管理所 城管执法中队 税务所 财政所 文化站 "
    "劳动保障所 退役军人服务站 综治中心 卫生监督所"
)


def _org_name(kind: OrgKind, choice: int, tn: str, grid_code: str, frame: CityFrame) -> str:
    """The name of an organisation of `kind`: pattern `choice`, trade name `tn`."""
    community = frame.community_name.get(grid_code[:12], "").removesuffix("社区") + "社区"
    return kind.patterns[choice % len(kind.patterns)].format(
        tn=tn,
        district=frame.district_name.get(grid_code[:6], ""),
        street=frame.street_name.get(grid_code[:9], ""),
        community=community,
        office=_OFFICES[choice % len(_OFFICES)],
    )


def _organisations(rng: np.random.Generator, frame: CityFrame, count: int) -> dict[str, Any]:
    """Organisations in the non-residential buildings, with key-unit flags and contacts."""
    uses = np.array(list(USE_ORG_WEIGHT))
    weight = np.zeros(len(frame.building_use))
    for building_use, w in USE_ORG_WEIGHT.items():
        weight[frame.building_use == building_use] = w
    if not weight.any() or count <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return {
            "building": empty,
            "kind": empty,
            "name": np.zeros(0, dtype=str),
            "sequence": empty,
            "staff": empty,
            "fire": np.zeros(0, bool),
            "security": np.zeros(0, bool),
            "legal": np.zeros(0, dtype=str),
            "responsible": np.zeros(0, dtype=str),
            "phone": [],
        }
    building = np.sort(pick_indices(rng, weight / weight.sum(), count))
    use = frame.building_use[building]
    grid_name = frame.grid_name[frame.building_grid[building]]
    p = np.zeros((count, len(ORG_KINDS)))
    for u in uses:
        p[use == u] = USE_KINDS[str(u)]
    for tag, mix in DEDICATED_KINDS.items():
        dedicated = np.char.find(grid_name.astype(str), f"（{tag}）") >= 0
        p[dedicated & np.isin(use, ("public", "commercial", "mixed"))] = mix
    kind = pick_rows(rng, p)
    trade = np.array(TRADE_CHARS)
    a = rng.integers(0, len(trade), count)
    b = (a + rng.integers(1, len(trade), count)) % len(trade)  # two different characters
    tn = np.strings.add(trade[a], trade[b])
    pattern = rng.integers(0, 120, count)
    grid_code = frame.grid_code[frame.building_grid[building]]
    names = [
        _org_name(ORG_KINDS[k], c, t, g, frame)
        for k, c, t, g in zip(
            kind.tolist(), pattern.tolist(), tn.tolist(), grid_code.tolist(), strict=True
        )
    ]
    lo = np.array([k.staff[0] for k in ORG_KINDS])[kind]
    hi = np.array([k.staff[1] for k in ORG_KINDS])[kind]
    # Staff counts are skewed: most units small, a few large.
    staff = (lo + (hi - lo) * rng.random(count) ** 2.5).round().astype(np.int64)
    size_factor = 1 + np.log1p(staff) / 4
    fire_w = np.array([k.fire for k in ORG_KINDS])[kind] * size_factor
    security_w = np.array([k.security for k in ORG_KINDS])[kind] * size_factor
    fire = np.zeros(count, bool)
    fire[weighted_sample(rng, fire_w, round(FIRE_KEY_SHARE * count))] = True
    security = np.zeros(count, bool)
    security[weighted_sample(rng, security_w, round(SECURITY_KEY_SHARE * count))] = True
    year = rng.integers(1955, 2000, (2, count))
    male = rng.random((2, count)) < 0.65
    legal = chinese_names(rng, male[0], year[0])
    same = rng.random(count) < 0.5  # small units: the legal representative is in charge
    responsible = np.where(same, legal, chinese_names(rng, male[1], year[1]))
    mobiles = mobile_numbers(rng, count).astype(str)
    landline = (
        rng.random(count)
        < np.isin(
            np.array([k.org_type for k in ORG_KINDS])[kind],
            (OrganisationType.SCHOOL, OrganisationType.HOSPITAL, OrganisationType.GOVERNMENT),
        )
        * 0.7
    )
    exchange = rng.integers(0, 1_000_000, count)
    phone = [
        f"0717-6{e:06d}" if land else m
        for land, e, m in zip(landline.tolist(), exchange.tolist(), mobiles.tolist(), strict=True)
    ]
    return {
        "building": building.astype(np.int64),
        "kind": kind.astype(np.int64),
        "name": np.array(names),
        "sequence": np.sort(rng.choice(100_000_000, size=count, replace=False)),
        "staff": staff,
        "fire": fire,
        "security": security,
        "legal": legal,
        "responsible": responsible,
        "phone": phone,
    }


def _ages_and_sexes(
    rng: np.random.Generator,
    tpl: IntArray,
    hh: IntArray,
    rel: IntArray,
    within: IntArray,
    size: IntArray,
) -> tuple[FloatArray, BoolArray]:
    """Ages (fractional years) and sexes of household members from their template."""
    n_hh = len(tpl)
    n = len(hh)
    lo = np.array([t[2][0] for t in TEMPLATES], float)[tpl]
    hi = np.array([t[2][1] for t in TEMPLATES], float)[tpl] + 1
    head_age = lo + (hi - lo) * rng.random(n_hh)
    head_male = rng.random(n_hh) < np.array([t[3] for t in TEMPLATES])[tpl]
    ha = head_age[hh]
    age = ha.copy()
    spouse = rel == SPOUSE
    age[spouse] = np.clip(ha[spouse] + rng.normal(-2.0, 3.0, spouse.sum()), 18, 100)
    child = rel == CHILD
    gap = 22 + (np.minimum(36, ha[child]) - 22) * rng.random(child.sum())
    age[child] = np.maximum(ha[child] - gap, 0) + rng.random(child.sum()) * 0.99 * (
        ha[child] - gap < 0
    )
    parent = rel == PARENT
    age[parent] = np.minimum(ha[parent] + 22 + 12 * rng.random(parent.sum()), 100.5)
    other = rel == OTHER
    age[other] = 18 + 57 * rng.random(other.sum())

    male = rng.random(n) < 0.515
    male[rel == HEAD] = head_male[hh[rel == HEAD]]
    male[spouse] = ~head_male[hh[spouse]]
    # Two parents are a couple; a lone parent is more often a widowed mother.
    last = within == size[hh] - 1
    second_parent = parent & np.r_[False, rel[:-1] == PARENT] & (within > 0)
    first_of_two = parent & np.r_[rel[1:] == PARENT, False] & ~last
    lone_parent = parent & ~second_parent & ~first_of_two
    male[first_of_two] = rng.random(first_of_two.sum()) < 0.5
    male[second_parent] = ~male[np.flatnonzero(second_parent) - 1]
    male[lone_parent] = rng.random(lone_parent.sum()) < 0.35
    return age, male


def _marital(rng: np.random.Generator, age: FloatArray, partnered: BoolArray) -> Array:
    """婚姻状况: partnered adults are married; the others by age."""
    n = len(age)
    status = np.full(n, "未婚", dtype="<U2")
    band = np.digitize(age, (30, 45, 60, 75))
    # 未婚, 离婚, 丧偶, 已婚 (spouse living elsewhere) for unpartnered adults by age band
    p = np.array(
        [
            [0.88, 0.08, 0.00, 0.04],
            [0.45, 0.35, 0.05, 0.15],
            [0.20, 0.45, 0.20, 0.15],
            [0.08, 0.30, 0.50, 0.12],
            [0.05, 0.12, 0.75, 0.08],
        ]
    )
    pick = pick_rows(rng, p[band])
    status[:] = np.array(["未婚", "离婚", "丧偶", "已婚"])[pick]
    status[partnered] = "已婚"
    status[age < 20] = "未婚"
    return status


def generate_people(
    frame: CityFrame,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    visit_intervals: dict[tuple[str, int], int] | None = None,
    workers_of_grid: Sequence[Sequence[int]] | None = None,
) -> DemoPeople:
    """Residents, households, special groups and organisations for `frame` (no database).

    `visit_intervals` maps (group type, min danger level) → days (the `visit_interval` table);
    `workers_of_grid[i]` lists the staff ids responsible for grid i (for special groups).
    """
    spec = people_scale(scale)
    today = today or local_today()
    anchor = np.datetime64(min(today, REFERENCE_DAY), "D")
    today64 = np.datetime64(today, "D")
    streams = [np.random.default_rng([seed, 7_000 + i]) for i in range(12)]
    intervals = visit_intervals or {}

    orgs = _organisations(streams[0], frame, spec.organisations)

    # Households: sizes 1–5 adding up to the target, each in its own house where possible.
    rng = streams[1]
    target = spec.residents
    sizes = pick_indices(rng, SIZE_P, int(target / 2.4) + 100) + 1
    total = np.cumsum(sizes)
    n_hh = int(np.searchsorted(total, target)) + 1
    sizes = sizes[:n_hh].astype(np.int64)
    sizes[-1] -= int(total[n_hh - 1]) - target
    candidates = np.flatnonzero(np.isin(frame.house_use, ("self_occupied", "rented")))
    if len(candidates) == 0:
        raise DemoPeopleError("the demo city has no dwellings (self-occupied or rented houses)")
    if n_hh <= len(candidates):
        house = np.sort(rng.choice(candidates, n_hh, replace=False))
    else:  # more households than dwellings: some share a house
        extra = rng.choice(candidates, n_hh - len(candidates))
        house = np.sort(np.concatenate([candidates, extra]))
    tpl = np.empty(n_hh, dtype=np.int64)
    tpl_size = np.array([len(t[0]) for t in TEMPLATES])
    tpl_weight = np.array([t[1] for t in TEMPLATES])
    for s in range(1, 6):
        members = np.flatnonzero(sizes == s)
        options = np.flatnonzero(tpl_size == s)
        tpl[members] = options[pick_indices(rng, tpl_weight[options], len(members))]
    flat = np.concatenate([np.array(t[0]) for t in TEMPLATES])
    tpl_start = np.r_[0, np.cumsum(tpl_size)[:-1]]
    hh = np.repeat(np.arange(n_hh), sizes)
    n = len(hh)
    first = np.cumsum(sizes) - sizes
    within = np.arange(n) - first[hh]
    rel = flat[tpl_start[tpl][hh] + within]
    age, male = _ages_and_sexes(rng, tpl, hh, rel, within, sizes)
    birth = anchor - as_days(np.floor(age * DAYS_PER_YEAR))
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970

    # Residence type: floating households favour rented houses; a few overseas households.
    rng = streams[2]
    rented = frame.house_use[house] == "rented"
    hh_type = np.full(n_hh, ResidenceType.REGISTERED.value, dtype=object)
    score = rng.random(n_hh) * np.where(rented, 4.0, 1.0)
    order = np.argsort(-score, kind="stable")
    floating_hh = order[np.cumsum(sizes[order]) <= FLOATING_SHARE * n]
    hh_type[floating_hh] = ResidenceType.FLOATING.value
    small = (hh_type == ResidenceType.REGISTERED.value) & (sizes <= 2)
    overseas_w = np.where(small, np.where(rented, 5.0, 1.0), 0.0)
    overseas_hh = weighted_sample(rng, overseas_w, max(1, round(OVERSEAS_SHARE * n / 1.5)))
    hh_type[overseas_hh] = ResidenceType.OVERSEAS.value
    residence_type = hh_type[hh].astype("<U12")
    # 未落户: individuals without household registration, mostly young non-heads.
    unregistered_w = np.where(
        (rel != HEAD) & (residence_type != ResidenceType.OVERSEAS.value),
        np.where(age < 30, 3.0, 0.5),
        0.0,
    )
    unregistered = weighted_sample(rng, unregistered_w, round(UNREGISTERED_SHARE * n))
    residence_type[unregistered] = ResidenceType.UNREGISTERED.value

    # Documents. Registered residents hold IDs of their district; floating ones of their
    # household's origin; overseas people passports or HK/Macau/Taiwan residence permits.
    house_district = frame.building_district[frame.house_building[house]]
    district_region = np.array([int(d) for d in house_district], dtype=np.int64)
    origin_region = pick_indices(rng, ORIGIN_P, n_hh)
    same = REGION_CODE[origin_region] == district_region
    origin_region[same] = FALLBACK_ORIGIN
    region = np.full(n, -1, dtype=np.int64)
    region_code = district_region[hh].copy()
    is_floating = residence_type == ResidenceType.FLOATING.value
    region[is_floating] = origin_region[hh[is_floating]]
    region_code[is_floating] = REGION_CODE[region[is_floating]]
    code_index = {int(c): i for i, c in enumerate(REGION_CODE)}
    registered_mask = ~is_floating
    region[registered_mask] = np.array([code_index.get(int(c), -1) for c in region_code])[
        registered_mask
    ]
    doc_type = np.full(n, DocumentType.ID_CARD.value, dtype=object)
    overseas = residence_type == ResidenceType.OVERSEAS.value
    # Overseas households share a kind: 0 foreign passport, 1 HK, 2 Macau, 3 Taiwan.
    overseas_kind = pick_indices(rng, np.array([0.6, 0.15, 0.1, 0.15]), n_hh)[hh]
    permit_region = np.array([0, 810000, 820000, 830000])[overseas_kind]
    permit_holder = overseas & (overseas_kind > 0)
    region_code[permit_holder] = permit_region[permit_holder]
    region[overseas] = -1
    doc_type[permit_holder & (overseas_kind < 3)] = DocumentType.HK_MACAU_RESIDENCE.value
    doc_type[permit_holder & (overseas_kind == 3)] = DocumentType.TAIWAN_RESIDENCE.value
    passport = overseas & (overseas_kind == 0)
    doc_type[passport] = DocumentType.PASSPORT.value
    is_unregistered = residence_type == ResidenceType.UNREGISTERED.value
    doc_type[is_unregistered] = DocumentType.OTHER.value
    doc_type = doc_type.astype(str)

    gb11643 = np.isin(
        doc_type,
        (
            DocumentType.ID_CARD.value,
            DocumentType.HK_MACAU_RESIDENCE.value,
            DocumentType.TAIWAN_RESIDENCE.value,
        ),
    )
    doc_number = np.empty(n, dtype=object)
    idx = np.flatnonzero(gb11643)
    sequence = unique_sequences(rng, region_code[idx], birth[idx], male[idx])
    doc_number[idx] = id_numbers(region_code[idx], birth[idx], sequence).astype(str)
    nationality = pick_indices(rng, np.array([x[2] for x in NATIONALITIES]), n_hh)[hh]
    idx = np.flatnonzero(passport)
    serial = rng.choice(10_000_000, size=len(idx), replace=False)
    doc_number[idx] = [
        f"{NATIONALITIES[k][1]}{s:08d}"
        for k, s in zip(nationality[idx].tolist(), serial.tolist(), strict=True)
    ]
    idx = np.flatnonzero(is_unregistered)
    serial = rng.choice(900_000_000, size=len(idx), replace=False) + 100_000_000
    doc_number[idx] = [f"出生医学证明Q{s}" for s in serial.tolist()]
    doc_number = doc_number.astype(str)

    # Names: children and a head's father carry the family surname.
    rng = streams[3]
    family = pick_indices(rng, SURNAME_P, n_hh)
    spouse_surname = pick_indices(rng, SURNAME_P, n_hh)
    head_male = np.zeros(n_hh, bool)
    head_male[hh[rel == HEAD]] = male[rel == HEAD]
    surname = pick_indices(rng, SURNAME_P, n)
    fam = family[hh]
    surname[rel == HEAD] = fam[rel == HEAD]
    surname[rel == SPOUSE] = spouse_surname[hh[rel == SPOUSE]]
    has_spouse = np.zeros(n_hh, bool)
    has_spouse[hh[rel == SPOUSE]] = True
    child = rel == CHILD
    father_name = np.where(head_male | ~has_spouse, family, spouse_surname)
    surname[child] = father_name[hh[child]]
    surname[(rel == PARENT) & male] = fam[(rel == PARENT) & male]
    name = chinese_names(rng, male, year, surname)
    foreign = np.flatnonzero(passport)
    for sex in (True, False):
        pool = np.array(FOREIGN_NAMES[sex])
        sel = foreign[male[foreign] == sex]
        name = name.astype(f"<U{max(name.dtype.itemsize // 4, max(map(len, pool)))}")
        name[sel] = pool[rng.integers(0, len(pool), len(sel))]

    # Ethnicity by household (a spouse may differ), phones, schooling, work, politics.
    rng = streams[4]
    ethnicity = pick_indices(rng, ETHNICITY_P, n_hh)[hh]
    ethnicity[rel == SPOUSE] = pick_indices(rng, ETHNICITY_P, int((rel == SPOUSE).sum()))
    phone_p = np.select([age < 12, age < 18, age < 70, age < 80], [0.0, 0.8, 0.99, 0.88], 0.65)
    has_phone = rng.random(n) < phone_p
    phone = np.where(has_phone, mobile_numbers(rng, n), b"")

    cohort = 3 - np.digitize(year, (1955, 1970, 1990))  # 0: born 1990 or later … 3: before 1955
    education = pick_rows(rng, EDUCATION_P[np.clip(cohort, 0, 3)])
    education = np.select(
        [age < 6, age < 12, age < 15, age < 18],
        [-1, EDUCATION.index("小学"), EDUCATION.index("初中"), EDUCATION.index("高中")],
        education,
    )

    arrival_reason = np.full(n, -1, dtype=np.int64)
    reason = pick_indices(rng, np.array([0.65, 0.2, 0.0, 0.15]), n)
    reason[age < 18] = ARRIVAL_REASONS.index("投亲")
    student = (age >= 18) & (age < 24) & (rng.random(n) < 0.5)
    reason[student] = ARRIVAL_REASONS.index("求学")
    arrival_reason[is_floating] = reason[is_floating]

    job = np.where(
        is_floating, pick_indices(rng, JOB_P_FLOATING, n), pick_indices(rng, JOB_P_REGISTERED, n)
    )
    occupation = np.array(JOBS, dtype=object)[job]
    occupation[is_floating & (arrival_reason == ARRIVAL_REASONS.index("经商"))] = "个体经营"
    retired = np.where(male, age >= 60, age >= 55)
    occupation[retired] = np.where(rng.random(int(retired.sum())) < 0.88, "离退休人员", "无业")
    occupation[(age >= 18) & (age < 23) & (rng.random(n) < 0.55)] = "学生"
    occupation[is_floating & (arrival_reason == ARRIVAL_REASONS.index("求学"))] = "学生"
    occupation[(age >= 6) & (age < 18)] = "学生"
    occupation[age < 6] = ""
    occupation = occupation.astype(str)
    employer = np.full(n, -1, dtype=np.int64)
    for job_name, kinds in JOB_EMPLOYER.items():
        pool = np.flatnonzero(np.isin(orgs["kind"], [KIND_INDEX[k] for k in kinds]))
        sel = np.flatnonzero((occupation == job_name) & (rng.random(n) < 0.6))
        if len(pool):
            employer[sel] = pool[rng.integers(0, len(pool), len(sel))]

    party = rng.random(n) < np.where(age >= 60, 0.12, np.where(age >= 25, 0.08, 0.02))
    league = (age >= 14) & (age < 28) & (rng.random(n) < 0.35)
    political = np.where(
        party & (age >= 18), "中共党员", np.where(league, "共青团员", "群众")
    ).astype("<U4")
    political[(rng.random(n) < 0.002) & (age >= 30)] = "民主党派"
    partnered = np.isin(rel, (HEAD, SPOUSE)) & has_spouse[hh]
    pair_parent = (rel == PARENT) & (
        np.r_[False, rel[:-1] == PARENT] | np.r_[rel[1:] == PARENT, False]
    )
    marital = _marital(rng, age, partnered | pair_parent)

    # Arrival, residence permits and moves.
    rng = streams[5]
    years_here = np.where(
        hh_type == ResidenceType.REGISTERED.value,
        rng.random(n_hh) * 25,
        rng.exponential(2.5, n_hh).clip(0.05, 15),
    )
    hh_moved_in = today64 - as_days(np.floor(years_here * DAYS_PER_YEAR))
    moved_in = np.maximum(hh_moved_in[hh], birth)
    arrival = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    arrival[is_floating] = moved_in[is_floating] - as_days(
        rng.integers(0, 60, int(is_floating.sum()))
    )
    arrival[is_floating] = np.maximum(arrival[is_floating], birth[is_floating])
    permit = is_floating & (age >= 16) & (rng.random(n) < 0.65)
    issued = arrival + as_days(rng.integers(30, 400, n))
    permit &= issued < today64
    # Permits run a year or three and are mostly renewed in time; about 15 % have lapsed.
    term = np.where(rng.random(n) < 0.7, 365, 3 * 365)
    lapsed = rng.random(n) < 0.15
    expiry = np.where(
        lapsed,
        today64 - as_days(rng.integers(1, 180, n)),
        today64 + as_days((rng.random(n) * term).astype(np.int64) + 1),
    )
    permit_expiry = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    permit_expiry[permit] = np.maximum(expiry, issued + np.timedelta64(30, "D"))[permit]
    issue_year = issued.astype("datetime64[Y]").astype(np.int64) + 1970
    permit_number = np.full(n, "", dtype=object)
    idx = np.flatnonzero(permit)
    permit_number[idx] = [
        f"JZZ{d}{y}{s:06d}"
        for d, y, s in zip(
            house_district[hh[idx]].tolist(),
            issue_year[idx].tolist(),
            np.arange(1, len(idx) + 1).tolist(),
            strict=True,
        )
    ]
    origin = np.full(n, "", dtype=object)
    origin[is_floating] = REGION_NAME[region[is_floating]]
    origin[passport] = np.array([x[0] for x in NATIONALITIES])[nationality[passport]]
    hk = permit_holder & (overseas_kind == 1)
    origin[hk] = "香港特别行政区"
    origin[permit_holder & (overseas_kind == 2)] = "澳门特别行政区"
    origin[permit_holder & (overseas_kind == 3)] = "台湾地区"

    # Earlier residences in another house for about 5 % of the people.
    moved_hh = rng.random(n_hh) < PREVIOUS_RESIDENCE_SHARE
    old_enough = moved_in - birth > np.timedelta64(730, "D")
    prev_person = np.flatnonzero(moved_hh[hh] & old_enough)
    # In the same district: a stay elsewhere is kept in that district's ledger, not this one.
    house_district = frame.building_district[frame.house_building]
    prev_house_hh = np.empty(n_hh, dtype=np.int64)
    for district in np.unique(house_district[house]):
        pool = np.flatnonzero(house_district == district)
        mine = np.flatnonzero(house_district[house] == district)
        pick = rng.integers(0, len(pool), len(mine))
        clash = pool[pick] == house[mine]
        pick[clash] = (pick[clash] + 1) % len(pool)
        prev_house_hh[mine] = pool[pick]
    prev_house = prev_house_hh[hh[prev_person]]
    stay = as_days(np.floor(rng.uniform(0.5, 12, len(prev_person)) * DAYS_PER_YEAR))
    prev_moved_in = np.maximum(moved_in[prev_person] - stay, birth[prev_person])

    # Special groups.
    groups = generate_special_groups(
        streams[6],
        frame=frame,
        today=today64,
        intervals=intervals,
        workers_of_grid=workers_of_grid,
        house=house,
        hh=hh,
        sizes=sizes,
        age=(today64 - birth).astype(np.int64) / DAYS_PER_YEAR,  # ages as of today
        turned_65=birth <= np.datetime64(years_before(today, 65), "D"),
        male=male,
        birth=birth,
        residence_type=residence_type,
    )
    return DemoPeople(
        hh_house=house.astype(np.int64),
        hh_size=sizes,
        hh_moved_in=hh_moved_in,
        household=hh.astype(np.int64),
        relation=rel.astype(np.int64),
        residence_type=residence_type,
        doc_type=doc_type,
        doc_number=doc_number,
        name=name,
        male=male,
        birth=birth,
        ethnicity=ethnicity,
        region=region,
        origin=origin.astype(str),
        arrival=arrival,
        arrival_reason=arrival_reason,
        permit_number=permit_number.astype(str),
        permit_expiry=permit_expiry,
        phone=phone,
        education=education.astype(np.int64),
        occupation=occupation,
        employer=employer,
        marital=marital,
        political=political,
        moved_in=moved_in,
        prev_person=prev_person.astype(np.int64),
        prev_house=prev_house.astype(np.int64),
        prev_moved_in=prev_moved_in,
        sg_person=groups["person"],
        sg_type=groups["type"],
        sg_danger=groups["danger"],
        sg_started=groups["started"],
        sg_last_visit=groups["last_visit"],
        sg_interval=groups["interval"],
        sg_details=groups["details"],
        org_building=orgs["building"],
        org_kind=orgs["kind"],
        org_name=orgs["name"],
        org_sequence=orgs["sequence"],
        org_staff=orgs["staff"],
        org_fire=orgs["fire"],
        org_security=orgs["security"],
        org_legal=orgs["legal"],
        org_responsible=orgs["responsible"],
        org_phone=orgs["phone"],
        extras={"responsible": groups["responsible"], "nationality": nationality},
    )
