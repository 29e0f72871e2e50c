"""Reading free Chinese address text (地址解析): what a caller says, in named parts.

`parse_address` turns `西陵区前进里社区12栋3单元502`, `夷陵大道121号`, `１２栋３单元５０２` or
`前进里12幢3-502` into a `ParsedAddress`: the admin units named at its start (matched against
the admin tree's names, which the caller passes in), the road and door number (道路门牌), the
estate or community and building number (小区/社区 + 栋), unit (单元), floor and room (室).

The normalised keys it makes (`road_key`, `building_key`) are the ones the `building` table
stores in its generated columns `address_key` and `name_key` (migration 0016): the SQL there
and `normalise` / `building_name_key` here must agree, and a test holds them to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

MAX_QUERY_CHARS: Final = 200

# Estate words a caller adds or drops freely: 前进里社区 = 前进里小区 = 前进里.
ESTATE_SUFFIXES: Final = ("社区", "小区", "花园", "村")
BUILDING_WORDS: Final = ("号楼", "栋", "幢", "座")
ROAD_ENDINGS: Final = ("大道", "胡同", "路", "街", "巷", "道", "弄")
_ADMIN_ENDINGS: Final = ("自治区", "街道", "社区", "省", "市", "区", "县", "镇", "乡", "村")

_DIGITS: Final = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER: Final = re.compile(
    r"([零〇一二两三四五六七八九十百]+)(?=号楼|栋|幢|座|单元|号|室|层|楼|户|房|-|$)"
)
_DROP: Final = re.compile(r"[\s,，、.。;；:：()（）\[\]【】\"'“”‘’#]+")
_PROVINCE: Final = re.compile(r"^[^\d省]{2,7}?(?:省|自治区)")
_CITY: Final = re.compile(r"^[^\d市区县]{2,7}?市")
# The tail of a building name that names its number: 前进里社区12栋 → 前进里#12 (the same
# pattern as the `name_key` column's regexp_replace in migration 0016).
_NAME_TAIL: Final = re.compile(r"(?:社区|小区|花园|村)?([0-9]+)(?:号楼|栋|幢|座|号)$")


def _chinese_number(text: str) -> int:
    """十二 → 12, 一百零二 → 102, 五零二 → 502 (digit by digit when there is no 十/百)."""
    if "十" not in text and "百" not in text:
        return int("".join(str(_DIGITS[c]) for c in text))
    total, current = 0, 0
    for char in text:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[char]
    return total + current


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), no spaces or punctuation, Chinese numerals before
    号/栋/单元/室 … as digits."""
    text = unicodedata.normalize("NFKC", text)
    text = _DROP.sub("", text)
    text = text.replace("—", "-").replace("－", "-").replace("~", "-")
    return _CN_NUMBER.sub(lambda m: str(_chinese_number(m.group(1))), text)


def estate_stem(name: str) -> str:
    """An estate or community name without its 社区/小区/花园/村 ending."""
    for suffix in ESTATE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def admin_stem(name: str) -> str:
    """An admin unit's name without its level word (西陵区 → 西陵, 前进里社区 → 前进里)."""
    for suffix in _ADMIN_ENDINGS:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def building_name_key(name: str) -> str:
    """A building name as `name_key` stores it: 前进里社区12栋 → 前进里#12 (else unchanged)."""
    return _NAME_TAIL.sub(lambda m: f"#{int(m.group(1))}", normalise(name), count=1)


def road_key(road: str, number: int) -> str:
    """The door-plate tail of an address, as stored addresses end: 夷陵大道121号."""
    return f"{road}{number}号"


def room_labels(floor: int | None, room: str) -> tuple[int | None, list[str]]:
    """The floor and the room labels a spoken room may be stored as.

    502 → floor 5, "0502" (how houses are labelled: 2-digit floor + 2-digit room) or "502";
    with a floor given, a room of 1–2 digits is that room on that floor.
    """
    digits = room.lstrip("0") or "0"
    if len(digits) >= 3 and floor in (None, int(digits[:-2])):
        floor, number = int(digits[:-2]), int(digits[-2:])
    elif floor is not None and len(digits) <= 2:
        number = int(digits)
    else:
        return floor, [room, digits]
    labels = [f"{floor:02d}{number:02d}", f"{floor}{number:02d}"]
    return floor, list(dict.fromkeys(labels))


@dataclass(frozen=True)
class AdminName:
    """An admin unit whose name may open an address."""

    code: str
    name: str
    level: str  # district, street, community


@dataclass
class ParsedAddress:
    """The parts of an address text; None where the text does not say."""

    text: str
    province: str | None = None
    city: str | None = None
    district: AdminName | None = None
    street: AdminName | None = None
    community: AdminName | None = None
    road: str | None = None
    number: int | None = None
    estate: str | None = None  # the 小区/社区 name (stem) the building number belongs to
    building_no: int | None = None
    unit: str | None = None
    floor: int | None = None
    room: str | None = None
    rest: str = ""  # what no rule read
    notes: list[str] = field(default_factory=list)

    @property
    def road_key(self) -> str | None:
        """道路门牌: 夷陵大道121号, if both road and number were read."""
        if self.road and self.number is not None:
            return road_key(self.road, self.number)
        return None

    @property
    def building_key(self) -> str | None:
        """小区楼栋: 前进里#12, if both estate and building number were read."""
        if self.estate and self.building_no is not None:
            return f"{self.estate}#{self.building_no}"
        return None

    def as_dict(self) -> dict[str, Any]:
        """The parts as JSON: admin units as {code, name}."""
        out = asdict(self)
        for level in ("district", "street", "community"):
            unit = getattr(self, level)
            out[level] = {"code": unit.code, "name": unit.name} if unit else None
        out["road_key"] = self.road_key
        out["building_key"] = self.building_key
        del out["notes"]
        return out


_ROAD = re.compile(
    r"^(?P<road>\D{1,20}?(?:" + "|".join(ROAD_ENDINGS) + r"))(?P<no>\d{1,5})(?:号(?!楼)|(?=$|-))"
)
_BUILDING = re.compile(r"^(?P<estate>\D{0,20}?)(?P<no>\d{1,4})(?P<word>号楼|栋|幢|座|号)")
_TRIPLE = re.compile(r"^(?P<b>\d{1,4})-(?P<u>\d{1,2})-(?P<r>\d{1,5})")
_UNIT = re.compile(r"^(?P<u>\d{1,2})单元")
_UNIT_ROOM = re.compile(r"^(?P<u>\d{1,2})-(?P<r>\d{1,5})(?:室|房|户|号)?$")
_FLOOR = re.compile(r"^(?P<f>\d{1,3})(?:层|楼)")
_ROOM = re.compile(r"^(?P<r>\d{1,5})(?:室|房|户|号)?$")


def _take_admin(text: str, names: list[AdminName], level: str) -> tuple[AdminName | None, str]:
    """The admin unit of `level` whose name opens `text`, longest first, and the rest.

    District and street names count only in full (西陵 alone also opens 西陵一路); a
    community's stem (前进里 for 前进里社区) counts when a building number or 小区 follows.
    """
    best: tuple[int, AdminName, str] | None = None
    for unit in names:
        if unit.level != level:
            continue
        if text.startswith(unit.name):
            rest = text[len(unit.name) :]
            if best is None or len(unit.name) > best[0]:
                best = (len(unit.name), unit, rest)
        elif level == "community":
            stem = admin_stem(unit.name)
            if stem != unit.name and text.startswith(stem):
                rest = text[len(stem) :]
                # 解放路 + 12号 is a door number on the road, not building 12 of 解放路社区.
                road_like = stem.endswith(ROAD_ENDINGS) and re.match(r"^\d+号(?!楼)", rest)
                if (
                    re.match(r"^(?:小区|花园|\d)", rest)
                    and not road_like
                    and (best is None or len(stem) > best[0])
                ):
                    best = (len(stem), unit, rest)
    if best is None:
        return None, text
    rest = best[2]
    if level == "community":  # 前进里 + 小区12栋: the estate word names the same place
        for word in ESTATE_SUFFIXES:
            if rest.startswith(word):
                rest = rest[len(word) :]
                break
    return best[1], rest


def parse_address(text: str, admin_names: Iterable[AdminName] = ()) -> ParsedAddress:
    """Read an address text into its parts (pure: the admin names are given)."""
    parsed = ParsedAddress(text=text)
    rest = normalise(text)
    names = list(admin_names)

    match = _PROVINCE.match(rest)
    if match:
        parsed.province, rest = match.group(0), rest[match.end() :]
    match = _CITY.match(rest)
    if match and (not names or any(rest[match.end() :].startswith(n.name) for n in names)):
        parsed.city, rest = match.group(0), rest[match.end() :]
    parsed.district, rest = _take_admin(rest, names, "district")
    parsed.street, rest = _take_admin(rest, names, "street")
    parsed.community, rest = _take_admin(rest, names, "community")

    match = _ROAD.match(rest)
    if match:
        parsed.road, parsed.number = match.group("road"), int(match.group("no"))
        rest = rest[match.end() :]
        # After a door number, a community may still be named: 夷陵大道121号前进里社区3栋.
        community, rest = _take_admin(rest, names, "community")
        parsed.community = parsed.community or community

    match = _TRIPLE.match(rest)
    if match:  # 12-3-502: building, unit, room
        parsed.building_no, parsed.unit = int(match.group("b")), str(int(match.group("u")))
        parsed.room = match.group("r")
        rest = rest[match.end() :]
    else:
        match = _BUILDING.match(rest)
        word = match.group("word") if match else None
        estate = match.group("estate") if match else ""
        # A bare 号 after an estate names a building (前进里社区12号); with no estate it is
        # a door number we could not tie to a road, so it stays unread.
        if match and (word != "号" or estate or parsed.community):
            parsed.building_no = int(match.group("no"))
            if estate:
                parsed.estate = estate_stem(estate)
            rest = rest[match.end() :]
    if parsed.estate is None and parsed.building_no is not None and parsed.community:
        parsed.estate = admin_stem(parsed.community.name)

    match = _UNIT.match(rest)
    if match:
        parsed.unit = str(int(match.group("u")))
        rest = rest[match.end() :]
    else:
        match = _UNIT_ROOM.match(rest)
        if match:  # 3-502
            parsed.unit, parsed.room = str(int(match.group("u"))), match.group("r")
            rest = ""
    match = _FLOOR.match(rest)
    if match:
        parsed.floor = int(match.group("f"))
        rest = rest[match.end() :]
    match = _ROOM.match(rest)
    if match and parsed.room is None:
        parsed.room = match.group("r")
        rest = ""
    if parsed.room is not None:
        parsed.floor, _ = room_labels(parsed.floor, parsed.room)
    parsed.rest = rest
    return parsed
