"""Writing the demo people into the database with COPY (`seed_demo_people`)."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from demo.arrays import Array, IntArray, Progress
from demo.city.scales import DEFAULT_SEED, SCALES
from demo.people.frame import (
    CityFrame,
    as_dates,
    as_days,
    chinese_names,
    load_city_frame,
    masked_mobiles,
    mobile_numbers,
)
from demo.people.generate import DemoPeople, generate_people
from demo.people.scales import (
    BATCH,
    CITY_AREA,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    ORGANISATION_PHONE_CONTEXT,
    WUJIAGANG_AREA,
    XILING_AREA,
    DemoPeopleError,
    PeopleSeedSummary,
    people_scale,
)
from demo.people.vocabulary import (
    ARRIVAL_REASONS,
    EDUCATION,
    ETHNICITIES,
    HEAD,
    ORG_KINDS,
    REGION_NATIVE,
    RELATIONS,
    VILLAGES,
)
from demo.writing import batch_progress, reserve_ids
from gis.bulk import copy_rows
from gis.clock import local_today
from gis.db import STORAGE_SRID
from people.credit_code import make_credit_code
from people.documents import DocumentType
from people.models import ResidenceType, Sex, StaffRole
from people.pii import get_cipher, mask_id_number, mask_phone
from people.service import DOC_CONTEXT, PHONE_CONTEXT, document_hash
from people.staff import create_staff, hash_password

# --------------------------------------------------------------------------- writing


def _copy(
    session: Session,
    table: str,
    columns: Sequence[str],
    total: int,
    batch_rows: Callable[[int, int], Iterable[Sequence[Any]]],
    on_progress: Progress | None,
    stage: str | None = None,
) -> int:
    """COPY `total` rows made batch by batch by `batch_rows(start, stop)` into `table`.

    Values must be CSV-ready: str, int, float, bool or None (NULL); bytea as '\\x…' hex.
    The next batch is encrypted and formatted in a thread while the server ingests this one.
    """
    rows = itertools.chain.from_iterable(
        batch_rows(start, min(total, start + BATCH)) for start in range(0, total, BATCH)
    )
    return copy_rows(
        session,
        table=table,
        columns=columns,
        rows=rows,
        on_batch=batch_progress(on_progress, stage or table, total),
        batch_rows=BATCH,
        prefetch=True,
    )


def _opt_dates(values: Array) -> list[str | None]:
    text_ = as_dates(values)
    return [None if t == "NaT" else t for t in text_.tolist()]


def _blank_none(values: Array) -> list[Any]:
    return [v if v != "" else None for v in values.tolist()]


def _hex(blob: bytes) -> str:
    return "\\x" + blob.hex()


def _count_present(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """What the districts already hold."""
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM resident WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM resident WHERE district_code = ANY(:codes)"
            "   AND residence_type = 'floating'),"
            " (SELECT count(*) FROM household WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM residence s JOIN resident r ON r.id = s.resident_id"
            "   WHERE r.district_code = ANY(:codes)),"
            " (SELECT count(*) FROM special_group s JOIN resident r ON r.id = s.resident_id"
            "   WHERE r.district_code = ANY(:codes)),"
            " (SELECT count(*) FROM organisation WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM staff WHERE username = ANY(:demo) OR id IN (SELECT"
            "   s.staff_id FROM staff_grid s JOIN grid g ON g.code = s.grid_code"
            "   WHERE g.district_code = ANY(:codes)))"
        ),
        {"codes": list(codes), "demo": [a.username for a in DEMO_ACCOUNTS]},
    ).one()
    keys = ("residents", "floating", "households", "residences", "special_groups")
    return dict(zip((*keys, "organisations", "staff"), map(int, row), strict=True))


def _name_ids(session: Session, query: str, **params: Any) -> dict[str, int]:
    """{name: id} from a two-column query."""
    return {str(name): int(i) for name, i in session.execute(text(query), params)}


def _demo_accounts(session: Session, frame: CityFrame) -> dict[str, int]:
    """Create the named demo logins that do not exist yet; returns username → staff id."""
    grids = [str(c) for c in frame.grid_code]
    first = grids[0]
    other_street = [str(c) for c in frame.grid_code if str(c)[:9] != first[:9]]
    second = (
        other_street[0] if other_street else str(frame.grid_code[min(1, len(frame.grid_code) - 1)])
    )
    scope: dict[str, dict[str, Any]] = {
        "admin": {},
        "leader": {"area_code": XILING_AREA},
        "command": {"area_code": XILING_AREA},
        "worker1": {"grid_codes": [first]},
        "worker2": {"grid_codes": [second]},
        "inspector1": {"area_code": XILING_AREA},
        "wjg.leader": {"area_code": WUJIAGANG_AREA},
        "wjg.command": {"area_code": WUJIAGANG_AREA},
        "wjg.worker1": {"grid_codes": [c for c in grids if c.startswith(WUJIAGANG_AREA[:6])][:1]},
        "city1": {"area_code": CITY_AREA},
        "city.leader": {"area_code": CITY_AREA},
    }
    existing = _name_ids(
        session,
        "SELECT username, id FROM staff WHERE username = ANY(:names)",
        names=[a.username for a in DEMO_ACCOUNTS],
    )
    ids: dict[str, int] = {}
    for account in DEMO_ACCOUNTS:
        if account.username in existing:
            ids[account.username] = int(existing[account.username])
            continue
        actor = create_staff(
            session,
            username=account.username,
            password=DEMO_PASSWORD,
            full_name=account.full_name,
            role=account.role,
            **scope[account.username],
        )
        ids[account.username] = actor.staff_id
    return ids


def _grid_workers(
    session: Session,
    frame: CityFrame,
    *,
    rng: np.random.Generator,
    can_log_in: bool,
    on_progress: Progress | None,
) -> tuple[list[list[int]], int]:
    """One or two grid workers per grid (bulk COPY); returns staff ids per grid and the count.

    worker1/worker2 are the first workers of their grids. All bulk accounts share one argon2
    hash: of the demo password where bulk logins are wanted, else of a random secret.
    """
    grids = [str(c) for c in frame.grid_code]
    demo_grid = _name_ids(
        session,
        "SELECT sg.grid_code, sg.staff_id FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id "
        "WHERE s.username IN ('worker1', 'worker2', 'wjg.worker1')",
    )
    second = rng.random(len(grids)) < 0.35
    usernames: list[str] = []
    grid_of: list[int] = []
    for i, code in enumerate(grids):
        if code not in demo_grid:
            usernames.append(f"gw{code}")
            grid_of.append(i)
        if second[i]:
            usernames.append(f"gw{code}-2")
            grid_of.append(i)
    existing = _name_ids(
        session, "SELECT username, id FROM staff WHERE username = ANY(:names)", names=usernames
    )
    new = [j for j, u in enumerate(usernames) if u not in existing]
    ids = reserve_ids(session, "staff", len(new))
    staff_id = {u: int(existing[u]) for u in existing}
    staff_id.update({usernames[j]: int(i) for j, i in zip(new, ids.tolist(), strict=True)})
    password = DEMO_PASSWORD if can_log_in else secrets.token_urlsafe(32)
    password_hash = hash_password(password)
    years = rng.integers(1970, 2001, len(new))
    male = rng.random(len(new)) < 0.45
    names = chinese_names(rng, male, years).tolist()
    phones = mobile_numbers(rng, len(new)).astype(str).tolist()
    role = StaffRole.GRID_WORKER.value
    _copy(
        session,
        "staff",
        ("id", "username", "full_name", "password_hash", "role", "phone", "active"),
        len(new),
        lambda a, b: (
            (int(ids[k]), usernames[new[k]], names[k], password_hash, role, phones[k], "t")
            for k in range(a, b)
        ),
        on_progress,
    )
    _copy(
        session,
        "staff_grid",
        ("staff_id", "grid_code", "district_code"),
        len(new),
        lambda a, b: (
            (int(ids[k]), grids[grid_of[new[k]]], grids[grid_of[new[k]]][:6]) for k in range(a, b)
        ),
        on_progress,
    )
    workers: list[list[int]] = [[] for _ in grids]
    for code, sid in demo_grid.items():
        index = int(np.searchsorted(frame.grid_code, code))
        if index < len(grids) and grids[index] == code:
            workers[index].append(int(sid))
    for username, g in zip(usernames, grid_of, strict=True):
        workers[g].append(staff_id[username])
    return workers, len(new)


def _visit_intervals(session: Session) -> dict[tuple[str, int], int]:
    rows = session.execute(
        text("SELECT group_type::text, min_danger_level, interval_days FROM visit_interval")
    )
    return {(str(g), int(lvl)): int(days) for g, lvl, days in rows}


def seed_demo_people(
    session: Session,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    on_progress: Progress | None = None,
    today: date | None = None,
) -> PeopleSeedSummary:
    """Write residents, households, special groups, organisations and staff for the demo city.

    Needs the demo city of `scale` (demo.city.seed.seed_demo_city) in the database. Runs in the
    session's transaction and never commits. When the scale's districts already have residents,
    nothing is written and the summary counts what is there (`already_present=True`).
    `on_progress(stage, done, total)` reports "generate" and then each table as it is copied.
    """
    spec = people_scale(scale)
    codes = SCALES[scale].district_codes
    today = today or local_today()
    session.flush()
    if session.execute(
        text("SELECT EXISTS (SELECT 1 FROM resident WHERE district_code = ANY(:codes))"),
        {"codes": list(codes)},
    ).scalar_one():
        return PeopleSeedSummary(
            scale=scale, seed=seed, already_present=True, **_count_present(session, codes)
        )
    frame = load_city_frame(session, district_codes=codes)
    if len(frame.grid_code) == 0 or len(frame.house_id) == 0:
        raise DemoPeopleError(
            f"the demo city for scale '{scale}' is not in the database (no grids or houses in "
            f"districts {', '.join(codes)}); seed it first with `gridgov seed {scale}` "
            "(demo.city.seed.seed_demo_city), then seed its people"
        )
    if on_progress:
        on_progress("generate", 0, 1)
    demo_ids = _demo_accounts(session, frame)
    workers, n_staff = _grid_workers(
        session,
        frame,
        rng=np.random.default_rng([seed, 7_100]),
        can_log_in=spec.bulk_workers_can_log_in,
        on_progress=on_progress,
    )
    people = generate_people(
        frame,
        scale=scale,
        seed=seed,
        today=today,
        visit_intervals=_visit_intervals(session),
        workers_of_grid=workers,
    )
    if on_progress:
        on_progress("generate", 1, 1)
    org_ids = _write_organisations(session, frame, people, on_progress)
    counts = _write_people(session, frame, people, on_progress)
    for table in ("staff", "staff_grid", "organisation", "household", "resident", "residence"):
        session.execute(text(f"ANALYZE {table}"))
    session.execute(text("ANALYZE special_group"))
    session.expire_all()
    return PeopleSeedSummary(
        scale=scale,
        seed=seed,
        residents=people.residents,
        floating=int((people.residence_type == ResidenceType.FLOATING.value).sum()),
        households=len(people.hh_size),
        residences=counts["residences"],
        special_groups=len(people.sg_person),
        organisations=len(org_ids),
        staff=n_staff + len(demo_ids),
        already_present=False,
    )


def _write_organisations(
    session: Session, frame: CityFrame, people: DemoPeople, on_progress: Progress | None
) -> IntArray:
    """COPY the organisations; returns their ids."""
    n = len(people.org_building)
    ids = reserve_ids(session, "organisation", n)
    cipher = get_cipher()
    b = people.org_building
    grid = frame.grid_code[frame.building_grid[b]].tolist()
    points = shapely.points(frame.building_x[b], frame.building_y[b])
    geom = shapely.to_wkb(
        shapely.set_srid(points, STORAGE_SRID), hex=True, include_srid=True
    ).tolist()
    address = frame.building_address[b].tolist()
    kinds = [ORG_KINDS[k] for k in people.org_kind.tolist()]
    region = [g[:6] for g in grid]
    codes = [
        make_credit_code(r, s, authority=k.authority[0], kind=k.authority[1])
        for r, s, k in zip(region, people.org_sequence.tolist(), kinds, strict=True)
    ]
    names = people.org_name.tolist()
    legal = people.org_legal.tolist()
    responsible = people.org_responsible.tolist()
    staff = people.org_staff.tolist()
    fire = people.org_fire.tolist()
    security = people.org_security.tolist()

    def rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        for i in range(a, z):
            phone = people.org_phone[i]
            yield (
                int(ids[i]),
                codes[i],
                names[i],
                kinds[i].org_type.value,
                address[i],
                int(frame.building_id[b[i]]),
                grid[i],
                region[i],
                legal[i],
                responsible[i],
                _hex(cipher.encrypt(phone, context=ORGANISATION_PHONE_CONTEXT)),
                mask_phone(phone),
                staff[i],
                fire[i],
                security[i],
                geom[i],
            )

    _copy(
        session,
        "organisation",
        (
            "id",
            "credit_code",
            "name",
            "org_type",
            "address",
            "building_id",
            "grid_code",
            "district_code",
            "legal_representative",
            "responsible_person",
            "responsible_phone_enc",
            "responsible_phone_masked",
            "staff_count",
            "fire_key_unit",
            "security_key_unit",
            "geom",
        ),
        n,
        rows,
        on_progress,
        "organisations",
    )
    return ids


def _write_people(
    session: Session,
    frame: CityFrame,
    people: DemoPeople,
    on_progress: Progress | None,
) -> dict[str, int]:
    """COPY households, residents, residences and special groups; then set household heads."""
    n_hh, n = len(people.hh_size), people.residents
    hh_ids = reserve_ids(session, "household", n_hh)
    person_ids = reserve_ids(session, "resident", n)
    house = people.hh_house
    building = frame.house_building[house]
    grid_index = frame.building_grid[building]
    hh_grid = frame.grid_code[grid_index]
    hh_district = np.array([g[:6] for g in frame.grid_code])[grid_index]
    hh_address = np.strings.add(
        np.strings.add(frame.building_address[building], frame.house_unit[house]),
        np.strings.add(np.strings.add("单元", frame.house_room[house]), "室"),
    )
    # 户号: grid code + running number within the grid.
    order_in_grid = np.arange(n_hh) - np.searchsorted(hh_grid, hh_grid)
    hh_code = np.strings.add(
        np.strings.add("H", hh_grid), np.strings.zfill((order_in_grid + 1).astype(str), 4)
    )
    hh_house_id = frame.house_id[house]

    def household_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        return zip(
            hh_ids[a:z].tolist(),
            hh_code[a:z].tolist(),
            hh_house_id[a:z].tolist(),
            hh_address[a:z].tolist(),
            hh_grid[a:z].tolist(),
            hh_district[a:z].tolist(),
            strict=True,
        )

    _copy(
        session,
        "household",
        ("id", "code", "house_id", "address", "grid_code", "district_code"),
        n_hh,
        household_rows,
        on_progress,
        "households",
    )

    cipher = get_cipher()
    hh = people.household
    relation = np.array(RELATIONS)
    ethnicity = np.array(ETHNICITIES)
    education = np.array((*EDUCATION, ""))
    reasons = np.array((*ARRIVAL_REASONS, ""))
    registered_address = np.where(
        people.residence_type == ResidenceType.REGISTERED.value,
        np.strings.add("湖北省宜昌市", hh_address[hh]),
        "",
    )
    native = np.where(people.region >= 0, REGION_NATIVE[people.region.clip(0)], "")
    village = np.array(VILLAGES)[(people.household * 7 + 3) % len(VILLAGES)]
    floating = people.residence_type == ResidenceType.FLOATING.value
    registered_address = np.where(
        floating,
        np.strings.add(np.strings.add(people.origin.astype(str), village), "村"),
        registered_address,
    )
    org_names = people.org_name
    doc_kinds = {t.value: t for t in DocumentType}
    person_house_id = hh_house_id[hh]
    person_grid = hh_grid[hh]
    person_district = hh_district[hh]

    def resident_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        numbers = people.doc_number[a:z].tolist()
        kinds = people.doc_type[a:z].tolist()
        phones = people.phone[a:z]
        masked_phones = masked_mobiles(np.where(phones == b"", b"00000000000", phones))
        ids_card = np.isin(
            people.doc_type[a:z],
            (
                DocumentType.ID_CARD.value,
                DocumentType.HK_MACAU_RESIDENCE.value,
                DocumentType.TAIWAN_RESIDENCE.value,
            ),
        )
        employer = people.employer[a:z]
        columns = zip(
            person_ids[a:z].tolist(),
            kinds,
            numbers,
            people.name[a:z].tolist(),
            np.where(people.male[a:z], Sex.MALE.value, Sex.FEMALE.value).tolist(),
            as_dates(people.birth[a:z]).tolist(),
            ethnicity[people.ethnicity[a:z]].tolist(),
            _blank_none(native[a:z]),
            _blank_none(registered_address[a:z]),
            phones.tolist(),
            masked_phones.astype(str).tolist(),
            _blank_none(education[people.education[a:z]]),
            _blank_none(people.occupation[a:z]),
            [org_names[e] if e >= 0 else None for e in employer.tolist()],
            _blank_none(people.marital[a:z]),
            people.political[a:z].tolist(),
            people.residence_type[a:z].tolist(),
            _blank_none(people.origin[a:z]),
            _opt_dates(people.arrival[a:z]),
            _blank_none(reasons[people.arrival_reason[a:z]]),
            _blank_none(people.permit_number[a:z]),
            _opt_dates(people.permit_expiry[a:z]),
            hh_ids[hh[a:z]].tolist(),
            relation[people.relation[a:z]].tolist(),
            person_house_id[a:z].tolist(),
            person_grid[a:z].tolist(),
            person_district[a:z].tolist(),
            ids_card.tolist(),
            strict=True,
        )
        for (
            pid,
            kind,
            number,
            name,
            sex,
            birth,
            eth,
            nat,
            reg,
            phone,
            phone_mask,
            edu,
            job,
            emp,
            marital,
            political,
            rtype,
            origin,
            arrival,
            reason,
            permit,
            expiry,
            hid,
            rel,
            house_id,
            grid,
            district,
            gb,
        ) in columns:
            doc_hash = document_hash(doc_kinds[kind], number)
            yield (
                pid,
                kind,
                _hex(cipher.encrypt(number, context=DOC_CONTEXT)),
                _hex(doc_hash),
                number[:6] + "*" * 11 + number[-1:] if gb else mask_id_number(number),
                name,
                sex,
                birth,
                eth,
                nat,
                reg,
                _hex(cipher.encrypt(phone.decode(), context=PHONE_CONTEXT)) if phone else None,
                phone_mask if phone else None,
                edu,
                job,
                emp,
                marital,
                political,
                rtype,
                origin,
                arrival,
                reason,
                permit,
                expiry,
                hid,
                rel,
                house_id,
                grid,
                district,
                "t",
            )

    _copy(
        session,
        "resident",
        (
            "id",
            "doc_type",
            "doc_enc",
            "doc_hash",
            "doc_masked",
            "name",
            "sex",
            "birth_date",
            "ethnicity",
            "native_place",
            "registered_address",
            "phone_enc",
            "phone_masked",
            "education",
            "occupation",
            "employer",
            "marital_status",
            "political_status",
            "residence_type",
            "origin",
            "arrival_date",
            "arrival_reason",
            "permit_number",
            "permit_expiry",
            "household_id",
            "relation_to_head",
            "house_id",
            "grid_code",
            "district_code",
            "active",
        ),
        n,
        resident_rows,
        on_progress,
        "residents",
    )

    # Residences: the earlier, closed stays first, then one open stay per person. A stay in
    # another district belongs to that district's ledger (a record of its own there), so only
    # the earlier stays in the person's present district are written here.
    prev_house_district = frame.building_district[frame.house_building[people.prev_house]]
    kept = np.flatnonzero(prev_house_district == person_district[people.prev_person])
    n_prev = len(kept)
    born_here = people.moved_in == people.birth
    rented = frame.house_use[house][hh] == "rented"
    current_reason = np.where(
        born_here,
        "出生",
        np.where(
            floating | rented, "租住", np.where(people.relation == HEAD, "购房入住", "随户迁入")
        ),
    )
    prev_person = people.prev_person[kept]
    prev_house_id = frame.house_id[people.prev_house[kept]]
    prev_in = as_dates(people.prev_moved_in[kept]).tolist()
    prev_out = as_dates(people.moved_in[prev_person]).tolist()
    moved_in = as_dates(people.moved_in).tolist()

    def residence_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        for i in range(a, z):
            if i < n_prev:
                p = int(prev_person[i])
                yield (
                    int(person_ids[p]),
                    person_district[p],
                    int(prev_house_id[i]),
                    prev_in[i],
                    prev_out[i],
                    "迁出",
                )
            else:
                p = i - n_prev
                yield (
                    int(person_ids[p]),
                    person_district[p],
                    int(person_house_id[p]),
                    moved_in[p],
                    None,
                    str(current_reason[p]),
                )

    _copy(
        session,
        "residence",
        ("resident_id", "district_code", "house_id", "moved_in", "moved_out", "reason"),
        n_prev + n,
        residence_rows,
        on_progress,
        "residences",
    )

    # Special groups.
    sg = people.sg_person
    due = np.where(
        np.isnat(people.sg_last_visit),
        people.sg_started + as_days(people.sg_interval),
        people.sg_last_visit + as_days(people.sg_interval),
    )
    details = [json.dumps(d, ensure_ascii=False) for d in people.sg_details]
    responsible = people.extras["responsible"]

    def group_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        return zip(
            person_ids[sg[a:z]].tolist(),
            person_district[sg[a:z]].tolist(),
            people.sg_type[a:z].tolist(),
            details[a:z],
            [d if d >= 0 else None for d in people.sg_danger[a:z].tolist()],
            as_dates(people.sg_started[a:z]).tolist(),
            people.sg_interval[a:z].tolist(),
            _opt_dates(people.sg_last_visit[a:z]),
            as_dates(due[a:z]).tolist(),
            [r if r >= 0 else None for r in responsible[a:z].tolist()],
            strict=True,
        )

    _copy(
        session,
        "special_group",
        (
            "resident_id",
            "district_code",
            "group_type",
            "details",
            "danger_level",
            "started_on",
            "visit_interval_days",
            "last_visit_on",
            "next_visit_due",
            "responsible_staff_id",
        ),
        len(sg),
        group_rows,
        on_progress,
        "special_groups",
    )

    # Each person's document, held by the record just written (one ledger nationwide).
    if n:
        session.execute(
            text(
                "INSERT INTO person_identity (doc_type, doc_hash, district_code, resident_id) "
                "SELECT doc_type, doc_hash, district_code, id FROM resident "
                "WHERE id BETWEEN :low AND :high"
            ),
            {"low": int(person_ids.min()), "high": int(person_ids.max())},
        )

    # Household heads, now that both sides exist.
    heads = np.flatnonzero(people.relation == HEAD)
    if on_progress:
        on_progress("household_heads", 0, n_hh)
    session.execute(
        text(
            "UPDATE household h SET head_id = t.head FROM unnest(CAST(:ids AS integer[]), "
            "CAST(:heads AS integer[])) AS t(id, head) WHERE h.id = t.id"
        ),
        {"ids": hh_ids[hh[heads]].tolist(), "heads": person_ids[heads].tolist()},
    )
    if on_progress:
        on_progress("household_heads", n_hh, n_hh)
    return {"residences": n_prev + n}
