"""Default event categories (事件分类): the two-level 大类/小类 table shipped with gridgov.

The table is data, `events/data/categories.csv`; a migration or seed copies it into the
database, where each deployment may change it. Every subcategory names the department type
that leads (牵头) and those that assist (协办), a priority, and the time limits of the three
stages — sign-for (签收), handling (处置) and verification (核查) — written as working hours
("2h") or working days ("3d") and turned into deadlines by `events.calendar`; the tier a case
starts at (分级流转: 社区, 街道 or 区县) and whether a grid worker's report is registered (立案) at
once or waits for the command centre's judgement.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, Literal

from events.calendar import Limit, LimitUnit
from gis.codes import LabelledEnum

DEFAULT_CATEGORIES_FILE: Final = "categories.csv"

LimitUnitName = Literal["hours", "days"]

# Urgent (特急) events are dispatched at once: a slow limit in the table is a typo, not a policy.
URGENT_MAX_SIGN_HOURS: Final = 1.0
URGENT_MAX_HANDLE_HOURS: Final = 8.0

COLUMNS: Final = (
    "code",
    "major_code",
    "major_name",
    "name",
    "lead",
    "assisting",
    "priority",
    "sign_limit",
    "handle_limit",
    "verify_limit",
    "photo_required",
    "onsite_verification_required",
    "needs_check",
    "start_tier",
    "auto_register",
    "description",
)
# A table written before tiers (分级流转) has neither: district, registered at once (as then).
TIERLESS_COLUMNS: Final = tuple(c for c in COLUMNS if c not in ("start_tier", "auto_register"))

_CODE = re.compile(r"\d{4}")
_MAJOR_CODE = re.compile(r"\d{2}")
_TRUE: Final = frozenset({"yes", "true", "1", "y", "是"})
_FALSE: Final = frozenset({"no", "false", "0", "n", "否"})


class DepartmentType(LabelledEnum):
    """department type"""

    POLICE = "police", "公安"
    FIRE = "fire", "消防"
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    URBAN_MANAGEMENT = "urban_management", "城管"
    HEALTH = "health", "卫健"
    HUMAN_RESOURCES = "human_resources", "人社"
    JUSTICE = "justice", "司法"
    MARKET_REGULATION = "market_regulation", "市场监管"
    HOUSING = "housing", "住建"
    EMERGENCY = "emergency", "应急管理"
    ECOLOGY = "ecology", "生态环境"  # optional: some districts fold it into urban management
    STREET_OFFICE = "street_office", "街道办"  # optional
    COMMAND_CENTRE = "command_centre", "指挥中心"  # the district fallback for every case


class Tier(LabelledEnum):
    """tier (层级): where a case is held — the community's 综治工作站, the street's 综治中心, the
    district's 社会治理指挥中心, or the city, which sees every district"""

    COMMUNITY = "community", "社区"
    STREET = "street", "街道"
    DISTRICT = "district", "区县"
    CITY = "city", "市"


# The tiers from the bottom up: 上报 moves a case one step right, 下派 one or more steps left.
TIER_ORDER: Final = (Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT, Tier.CITY)
# An area prefix's length (grid.service.area_prefix) says its tier.
_TIER_BY_PREFIX_LENGTH: Final = {4: Tier.CITY, 6: Tier.DISTRICT, 9: Tier.STREET, 12: Tier.COMMUNITY}


def tier_of_prefix(prefix: str) -> Tier | None:
    """The tier of an area prefix (4 city, 6 district, 9 street, 12 community digits), or None
    for a grid's 15 digits or anything else."""
    return _TIER_BY_PREFIX_LENGTH.get(len(prefix))


class Priority(LabelledEnum):
    """priority"""

    URGENT = "urgent", "特急"
    HIGH = "high", "紧急"
    NORMAL = "normal", "一般"
    LOW = "low", "较低"


class CategoryTableError(ValueError):
    """A category table with rows to fix; `problems` lists one sentence per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{source} has {count}:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


def parse_limit(text: str) -> tuple[float, LimitUnitName]:
    """A stage time limit as (amount, unit): "2h" → (2.0, "hours"), "3d" → (3.0, "days")."""
    limit = Limit.parse(text)
    return limit.amount, "hours" if limit.unit is LimitUnit.HOURS else "days"


@dataclass(frozen=True)
class CategorySpec:
    """One subcategory (小类) of the event category table, with its major category (大类)."""

    code: str  # 4 digits: the major code and a 2-digit sequence, e.g. "0301"
    major_code: str  # 2 digits, e.g. "03"
    major_name: str
    name: str
    lead: DepartmentType
    assisting: tuple[DepartmentType, ...]
    priority: Priority
    sign_limit: str  # "Nh" working hours or "Nd" working days, see parse_limit
    handle_limit: str
    verify_limit: str
    photo_required: bool
    onsite_verification_required: bool
    needs_check: bool = True  # 核实 by the grid worker when another source reports it
    start_tier: Tier = Tier.DISTRICT  # where a registered case starts (分级流转)
    auto_register: bool = True  # a grid worker's report is registered (立案) at once
    description: str = ""

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code) or self.code.endswith("00"):
            raise ValueError(
                f"code '{self.code}' must be 4 digits: the 2-digit major code and a "
                "sequence from 01, such as 0301"
            )
        if not _MAJOR_CODE.fullmatch(self.major_code):
            raise ValueError(f"major code '{self.major_code}' must be 2 digits, such as 03")
        if not self.code.startswith(self.major_code):
            raise ValueError(
                f"code {self.code} does not start with its major code {self.major_code}"
            )
        if not self.name.strip() or not self.major_name.strip():
            raise ValueError("the category and its major category both need a name")
        if self.lead in self.assisting:
            raise ValueError(f"the lead department {self.lead.value} is also listed as assisting")
        if len(set(self.assisting)) != len(self.assisting):
            raise ValueError("an assisting department is listed twice")
        limits = {}
        for stage in ("sign_limit", "handle_limit", "verify_limit"):
            try:
                limits[stage] = parse_limit(getattr(self, stage))
            except ValueError as error:
                raise ValueError(f"{stage}: {error}") from None
        if self.priority is Priority.URGENT:
            _check_urgent_limits(limits["sign_limit"], limits["handle_limit"])

    @property
    def departments(self) -> tuple[DepartmentType, ...]:
        """The lead department type followed by the assisting ones."""
        return (self.lead, *self.assisting)

    @property
    def full_name(self) -> str:
        """Major and subcategory names, as shown in pickers: "矛盾纠纷/邻里纠纷"."""
        return f"{self.major_name}/{self.name}"


def _check_urgent_limits(
    sign: tuple[float, LimitUnitName], handle: tuple[float, LimitUnitName]
) -> None:
    """Refuse urgent limits longer than URGENT_MAX_SIGN_HOURS / URGENT_MAX_HANDLE_HOURS."""
    if sign[1] != "hours" or sign[0] > URGENT_MAX_SIGN_HOURS:
        raise ValueError(
            f"an urgent category must be signed for within {URGENT_MAX_SIGN_HOURS:g}h; "
            "lower sign_limit or the priority"
        )
    if handle[1] != "hours" or handle[0] > URGENT_MAX_HANDLE_HOURS:
        raise ValueError(
            f"an urgent category must be handled within {URGENT_MAX_HANDLE_HOURS:g}h; "
            "lower handle_limit or the priority"
        )


def _parse_flag(column: str, text: str) -> bool:
    """A yes/no cell."""
    cleaned = text.strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise ValueError(f"{column} '{text}' must be yes or no")


def _parse_tier(text: str) -> Tier:
    """A start tier cell: community, street or district (the city holds no case at first)."""
    tier = Tier.parse(text)
    if tier is Tier.CITY:
        raise ValueError("start_tier city: a case starts at community, street or district")
    return tier


def _parse_row(cells: dict[str, str]) -> CategorySpec:
    """The category one CSV row describes; ValueError says which cell is wrong."""
    assisting = tuple(
        DepartmentType.parse(part) for part in cells["assisting"].split("|") if part.strip()
    )
    return CategorySpec(
        code=cells["code"].strip(),
        major_code=cells["major_code"].strip(),
        major_name=cells["major_name"].strip(),
        name=cells["name"].strip(),
        lead=DepartmentType.parse(cells["lead"]),
        assisting=assisting,
        priority=Priority.parse(cells["priority"]),
        sign_limit=cells["sign_limit"].strip(),
        handle_limit=cells["handle_limit"].strip(),
        verify_limit=cells["verify_limit"].strip(),
        photo_required=_parse_flag("photo_required", cells["photo_required"]),
        onsite_verification_required=_parse_flag(
            "onsite_verification_required", cells["onsite_verification_required"]
        ),
        needs_check=_parse_flag("needs_check", cells["needs_check"]),
        start_tier=_parse_tier(cells.get("start_tier", Tier.DISTRICT.value)),
        auto_register=_parse_flag("auto_register", cells.get("auto_register", "yes")),
        description=cells["description"].strip(),
    )


def _data_lines(text: str) -> Iterable[tuple[int, str]]:
    """(line number, line) of every line that is neither blank nor a # comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def read_categories(text: str, *, source: str = DEFAULT_CATEGORIES_FILE) -> list[CategorySpec]:
    """Categories of a CSV table with COLUMNS; CategoryTableError lists every problem by line."""
    lines = iter(_data_lines(text))
    header = next(lines, None)
    if header is None:
        raise CategoryTableError(source, ["the table is empty; it needs a header and rows"])
    header_number, header_line = header
    columns = tuple(cell.strip() for cell in next(csv.reader([header_line])))
    if columns not in (COLUMNS, TIERLESS_COLUMNS):
        tiered = "start_tier" in columns or "auto_register" in columns
        expected = COLUMNS if tiered else TIERLESS_COLUMNS
        missing = [c for c in expected if c not in columns]
        unknown = [c for c in columns if c not in expected]
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise CategoryTableError(
            source,
            [
                f"line {header_number}: the header must be {','.join(COLUMNS)}"
                + (f" ({detail})" if detail else " in that order")
            ],
        )

    problems: list[str] = []
    categories: list[CategorySpec] = []
    code_lines: dict[str, int] = {}
    major_names: dict[str, tuple[str, int]] = {}
    major_codes: dict[str, tuple[str, int]] = {}
    names: dict[tuple[str, str], int] = {}
    for number, line in lines:
        cells = next(csv.reader([line]))
        where = f"line {number}"
        if len(cells) != len(columns):
            problems.append(f"{where}: has {len(cells)} cells, the header has {len(columns)}")
            continue
        row = dict(zip(columns, cells, strict=True))
        where = f"line {number} ({row['code'].strip()} {row['name'].strip()})"
        try:
            category = _parse_row(row)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue

        if (first := code_lines.setdefault(category.code, number)) != number:
            problems.append(f"{where}: code {category.code} is already used on line {first}")
        name, name_line = major_names.setdefault(category.major_code, (category.major_name, number))
        if name != category.major_name:
            problems.append(
                f"{where}: major code {category.major_code} is called '{name}' on line "
                f"{name_line}, not '{category.major_name}'"
            )
        code, code_line = major_codes.setdefault(category.major_name, (category.major_code, number))
        if code != category.major_code:
            problems.append(
                f"{where}: major category '{category.major_name}' has code {code} on line "
                f"{code_line}, not {category.major_code}"
            )
        key = (category.major_code, category.name)
        if (first := names.setdefault(key, number)) != number:
            problems.append(
                f"{where}: '{category.name}' is already a subcategory of "
                f"{category.major_name} on line {first}"
            )
        categories.append(category)

    if not categories and not problems:
        problems.append("the table has a header but no categories")
    if problems:
        raise CategoryTableError(source, problems)
    return categories


@cache
def _default_categories() -> tuple[CategorySpec, ...]:
    """The shipped table, read and checked once."""
    text = resources.files("events").joinpath(f"data/{DEFAULT_CATEGORIES_FILE}").read_text("utf-8")
    return tuple(read_categories(text, source=f"events/data/{DEFAULT_CATEGORIES_FILE}"))


def load_default_categories() -> list[CategorySpec]:
    """The default category table shipped with gridgov, in code order as written."""
    return list(_default_categories())
