"""Address search (地址匹配): from what a caller says to ranked buildings and houses.

Candidates come from the standard addresses (标准地址, grid/std_address.py) by two keys, each
an index lookup on `std_address.match_key`: the door plate (道路门牌, `夷陵大道121号`) and
the estate and building number (小区楼栋, `前进里#12`). A door plate gives the buildings
hanging on it (or, with none registered yet, the door plate's own point: an imported 门牌
list locates a call before the buildings are surveyed). Each candidate is then scored by
what else the text says: the district, street and community named before it, and the unit and
room (单元室号) looked up among the building's houses. Nothing found means no candidate,
never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, SQLColumnExpression, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from grid.address_text import (
    MAX_QUERY_CHARS,
    AdminName,
    ParsedAddress,
    normalise,
    parse_address,
    room_labels,
)
from grid.exceptions import InvalidAddressQuery
from grid.models import AddressLevel, AdminUnit, Building, House, StdAddress
from grid.schemas import AddressCandidate, AddressSearch
from grid.service import house_code

MAX_CANDIDATES: Final = 20
_MAX_HITS: Final = 200  # addresses (and buildings) a key may find before scoring
# A ledger row is placed by its address only when the best candidate is this sure and no
# other comes within RIVAL_MARGIN of it.
CONFIDENT_SCORE: Final = 0.9
RIVAL_MARGIN: Final = 0.05

_KEY_MATCH: Final = 0.9  # the door plate or the estate + building number agrees
_BOTH_MATCH: Final = 1.0  # both agree on the same building
_CONTRADICTED: Final = 0.6  # one key agrees and the other names another building
_ADMIN_AGREES: Final = 0.03
_ADMIN_DIFFERS: Final = 0.25
_NO_SUCH_ROOM: Final = 0.2
_ROOM_AMBIGUOUS: Final = 0.1
_UNREAD_TEXT: Final = 0.05
_LEVELS: Final = (("district", "区县", 6), ("street", "街道", 9), ("community", "社区", 12))
_DOOR_ONLY: Final = 0.1  # a door plate with no building registered on it: not sure enough


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scope_filter(
    scope: Sequence[str] | None,
    grid_code: SQLColumnExpression[str | None],
    district_code: SQLColumnExpression[str],
) -> ColumnElement[bool]:
    """Rows whose `grid_code` starts with one of the `scope` prefixes (None: all)."""
    if scope is None:
        return true()
    if not scope:
        return literal(False)
    where = or_(*[grid_code.startswith(p, autoescape=True) for p in scope])
    if all(len(p) >= 6 for p in scope):  # the district key lets the planner prune (Citus too)
        where = where & district_code.in_(sorted({p[:6] for p in scope}))
    return where


def admin_names(session: Session, text: str) -> list[AdminName]:
    """The admin units whose name, or name without its level word, occurs in `text`."""
    stem = func.regexp_replace(AdminUnit.name, "(街道|社区|区|县|镇|乡|村)$", "")
    rows = session.execute(
        select(AdminUnit.code, AdminUnit.name, AdminUnit.level).where(
            or_(func.strpos(text, AdminUnit.name) > 0, func.strpos(text, stem) > 0)
        )
    ).all()
    return [AdminName(code=c, name=n, level=lv.value) for c, n, lv in rows]


def _check_query(q: str, limit: int) -> str:
    text = q.strip()
    if not text:
        raise InvalidAddressQuery(
            "q is empty; give the address as the caller says it, e.g. 夷陵大道121号", field="q"
        )
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidAddressQuery(
            f"q is {len(text)} characters long; an address fits in {MAX_QUERY_CHARS}: "
            "give the road and number or the community and building, not the whole call",
            field="q",
        )
    if not 1 <= limit <= MAX_CANDIDATES:
        raise InvalidAddressQuery(
            f"limit {limit} is not valid; ask for 1..{MAX_CANDIDATES} candidates", field="limit"
        )
    return text


@dataclass
class _Scored:
    row: Any
    score: float
    why: list[str]
    house: Any = None


def _houses(
    session: Session, parsed: ParsedAddress, building_ids: list[int]
) -> dict[int, list[Any]]:
    """The houses of the candidate buildings that the unit/floor/room of the text name."""
    if not building_ids or (parsed.room is None and parsed.unit is None):
        return {}
    stmt = select(
        House.id, House.building_id, House.unit, House.floor, House.room, House.address_code
    ).where(House.building_id.in_(building_ids))
    if parsed.room is not None:
        floor, labels = room_labels(parsed.floor, parsed.room)
        stmt = stmt.where(House.room.in_(labels))
        if floor is not None:
            stmt = stmt.where(House.floor == floor)
    elif parsed.floor is not None:
        stmt = stmt.where(House.floor == parsed.floor)
    if parsed.unit is not None:
        stmt = stmt.where(House.unit == parsed.unit)
    found: dict[int, list[Any]] = {}
    for row in session.execute(stmt.order_by(House.unit, House.floor, House.room, House.id)):
        found.setdefault(row.building_id, []).append(row)
    return found


def _asked_room(parsed: ParsedAddress) -> str:
    unit = f"{parsed.unit}单元" if parsed.unit else ""
    floor = f"{parsed.floor}层" if parsed.floor is not None and parsed.room is None else ""
    room = f"{parsed.room}室" if parsed.room else ""
    return unit + floor + room


def _score(parsed: ParsedAddress, row: Any, houses: list[Any]) -> _Scored:
    """How well one building (or bare door plate) fits the text, and why (Chinese, '; '-joined
    by the caller)."""
    road_ok = parsed.road_key is not None and row.door_key == parsed.road_key
    name_ok = parsed.building_key is not None and row.building_key == parsed.building_key
    why: list[str] = []
    if road_ok and name_ok:
        score = _BOTH_MATCH
        why += ["道路门牌一致", "楼栋一致"]
    elif road_ok:
        score = _KEY_MATCH
        why.append("道路门牌一致")
        if row.code is None:
            score -= _DOOR_ONLY
            why.append("门牌下尚无登记楼栋，定位到门牌")
        elif parsed.building_key is not None:
            score = _CONTRADICTED
            why.append(f"楼栋不一致（该楼为{row.name or '无名楼栋'}）")
    else:
        score = _KEY_MATCH
        why.append("楼栋一致")
        if parsed.road_key is not None:
            score = _CONTRADICTED
            why.append(f"道路门牌不一致（该楼地址为{row.address or '空'}）")
    grid_code = row.grid_code or ""
    for level, label, digits in _LEVELS:
        unit: AdminName | None = getattr(parsed, level)
        if unit is None:
            continue
        if grid_code[:digits] == unit.code[:digits]:
            score += _ADMIN_AGREES
            why.append(f"{label}一致")
        else:
            score -= _ADMIN_DIFFERS
            why.append(f"{label}不一致（文中为{unit.name}）")
    scored = _Scored(row=row, score=score, why=why)
    if parsed.room is not None or parsed.unit is not None:
        asked = _asked_room(parsed)
        if len(houses) == 1 and parsed.room is not None:
            scored.house = houses[0]
            why.append("单元室号一致" if parsed.unit else "室号一致")
        elif len(houses) > 1 and parsed.room is not None:
            scored.score -= _ROOM_AMBIGUOUS
            units = "、".join(sorted({h.unit for h in houses}))
            why.append(f"{asked}在{units}单元都有，请说明单元")
        elif houses:
            why.append("单元一致")
        else:
            scored.score -= _NO_SUCH_ROOM
            why.append(f"楼内无{asked}")
    if parsed.rest:
        scored.score -= _UNREAD_TEXT
        why.append(f"未识别“{parsed.rest}”")
    scored.score = round(min(1.0, max(0.0, scored.score)), 3)
    return scored


@dataclass(frozen=True)
class _Place:
    """A candidate before scoring: a building on a matched address, or a bare door plate."""

    id: int | None  # the building's (None: a door plate with no building on it)
    code: str | None
    name: str | None
    address: str | None
    grid_code: str | None
    district_code: str
    address_code: str
    door_code: str | None
    door_key: str | None  # the door plate the building hangs on (夷陵大道121号)
    building_key: str | None  # the building's own key (前进里#12)
    lon: float
    lat: float


def _places(session: Session, parsed: ParsedAddress, scope: Sequence[str] | None) -> list[_Place]:
    """The buildings on the door plate and the building the text names (one index lookup per
    key in `std_address`), and the door plates among them with no building yet."""
    keys: list[ColumnElement[bool]] = []
    if parsed.road_key is not None:
        keys.append(
            (StdAddress.level == AddressLevel.DOOR) & (StdAddress.match_key == parsed.road_key)
        )
    if parsed.building_key is not None:
        keys.append(
            (StdAddress.level == AddressLevel.BUILDING)
            & (StdAddress.match_key == parsed.building_key)
        )
    if not keys:
        return []
    hits = session.execute(
        select(
            StdAddress.code,
            StdAddress.district_code,
            StdAddress.level,
            StdAddress.match_key,
            StdAddress.full_text,
            StdAddress.grid_code,
            func.ST_X(StdAddress.geom).label("lon"),
            func.ST_Y(StdAddress.geom).label("lat"),
        )
        .where(or_(*keys), scope_filter(scope, StdAddress.grid_code, StdAddress.district_code))
        .order_by(StdAddress.code)
        .limit(_MAX_HITS)
    ).all()
    if not hits:
        return []
    doors = [h.code for h in hits if h.level is AddressLevel.DOOR]
    named = [h.code for h in hits if h.level is AddressLevel.BUILDING]
    districts = sorted({h.district_code for h in hits})
    on = aliased(StdAddress)  # the building's own address
    door = aliased(StdAddress)  # the door plate it hangs on
    point = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(
        select(
            Building.id,
            Building.code,
            Building.name,
            Building.address,
            Building.grid_code,
            Building.district_code,
            Building.address_code,
            on.parent_code.label("door_code"),
            door.match_key.label("door_key"),
            on.match_key.label("building_key"),
            func.ST_X(point).label("lon"),
            func.ST_Y(point).label("lat"),
        )
        .join(on, (on.code == Building.address_code) & (on.district_code == Building.district_code))
        .outerjoin(door, (door.code == on.parent_code) & (door.district_code == on.district_code))
        .where(
            on.district_code.in_(districts),
            on.level == AddressLevel.BUILDING,
            or_(on.parent_code.in_(doors), on.code.in_(named)),
            scope_filter(scope, Building.grid_code, Building.district_code),
        )
        .order_by(Building.code)
        .limit(_MAX_HITS)
    ).all()
    places = [_Place(**row._mapping) for row in rows]
    built_on = {p.door_code for p in places}
    places += [
        _Place(
            id=None,
            code=None,
            name=None,
            address=h.full_text,
            grid_code=h.grid_code,
            district_code=h.district_code,
            address_code=h.code,
            door_code=h.code,
            door_key=h.match_key,
            building_key=None,
            lon=h.lon,
            lat=h.lat,
        )
        for h in hits
        if h.level is AddressLevel.DOOR and h.code not in built_on
    ]
    return places


def search_addresses(
    session: Session, *, q: str, limit: int = 5, scope: Sequence[str] | None = None
) -> AddressSearch:
    """Buildings (and houses) an address text may mean, best first; none when nothing fits.

    `scope` limits the candidates to buildings whose grid code starts with one of its
    prefixes (a grid worker's grids, a street's or district's code prefix); None is all.
    Raises InvalidAddressQuery for an empty or over-long text and a limit outside 1..20.
    """
    text = _check_query(q, limit)
    parsed = parse_address(text, admin_names(session, normalise(text)))
    places = _places(session, parsed, scope)
    houses = _houses(session, parsed, [p.id for p in places if p.id is not None])
    scored = [_score(parsed, p, houses.get(p.id, []) if p.id else []) for p in places]
    scored.sort(key=lambda s: (-s.score, s.row.code or "", s.row.address_code))
    candidates = [
        AddressCandidate(
            building_code=s.row.code,
            building_name=s.row.name,
            address=s.row.address,
            house_id=s.house.id if s.house is not None else None,
            house_code=house_code(s.row.code, s.house.unit, s.house.room) if s.house else None,
            room=f"{s.house.unit}单元{s.house.room}室" if s.house is not None else None,
            address_code=s.house.address_code if s.house is not None else s.row.address_code,
            grid_code=s.row.grid_code,
            district_code=s.row.district_code,
            lon=round(float(s.row.lon), 7),
            lat=round(float(s.row.lat), 7),
            score=s.score,
            why="; ".join(s.why),
        )
        for s in scored[:limit]
    ]
    return AddressSearch(query=q, parsed=parsed.as_dict(), candidates=candidates)


@dataclass(frozen=True)
class AddressPlacement:
    """Where an address places a record: the best candidate when it is sure, else why not."""

    candidate: AddressCandidate | None
    reason: str | None  # a sentence when `candidate` is None


def place_address(
    session: Session, *, text: str, scope: Sequence[str] | None = None
) -> AddressPlacement:
    """The one building (and house) an address surely means: score ≥ 0.9, no rival within
    0.05, and a building (not a bare door plate); otherwise a sentence saying what was missing
    or ambiguous."""
    try:
        found = search_addresses(session, q=text, limit=3, scope=scope)
    except InvalidAddressQuery as exc:
        return AddressPlacement(None, str(exc))
    candidates = found.candidates
    if not candidates:
        return AddressPlacement(
            None,
            f"地址“{text}” matches no building in your area; give the road and door number "
            "(道路门牌) or the community and building (社区+栋), or the 房屋编码",
        )
    best = candidates[0]
    if best.building_code is None:
        return AddressPlacement(
            None,
            f"地址“{text}” is the door plate {best.address} (标准地址 {best.address_code}), but no "
            "building is registered on it yet; give the 房屋编码 or add the building first",
        )
    if best.score < CONFIDENT_SCORE:
        return AddressPlacement(
            None,
            f"地址“{text}” is not a sure match: the best is {best.building_code} "
            f"({best.address}, score {best.score:.2f}: {best.why}); give the 房屋编码",
        )
    if len(candidates) > 1 and best.score - candidates[1].score < RIVAL_MARGIN:
        rivals = "、".join(c.building_code or c.address_code or "" for c in candidates[:3])
        return AddressPlacement(
            None,
            f"地址“{text}” fits more than one building ({rivals}); add the district, street or "
            "community, or give the 房屋编码",
        )
    return AddressPlacement(best, None)
