"""Demo population scales, the named demo accounts and their password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from demo.city.scales import SCALES
from people.exceptions import PeopleError
from people.models import StaffRole

DEMO_PASSWORD: Final = "gridgov-demo"
ORGANISATION_PHONE_CONTEXT: Final = "organisation.phone"
# Birth dates count back from this day, so ID numbers stay the same whenever one seeds.
REFERENCE_DAY: Final = date(2026, 1, 1)
XILING_AREA: Final = "420502000000"
WUJIAGANG_AREA: Final = "420503000000"
CITY_AREA: Final = "4205"  # 宜昌市: every district of the city (a 4-digit city prefix)
BATCH: Final = 20_000
DAYS_PER_YEAR: Final = 365.2425


class DemoPeopleError(PeopleError):
    """Demo residents could not be seeded; the message says why and what to do."""


@dataclass(frozen=True)
class PeopleScale:
    """How many residents and organisations a demo scale gets."""

    residents: int
    organisations: int
    # Bulk grid-worker accounts get the demo password at demo scale; at city scale they get
    # one hash of a random password nobody knows (an admin sets real ones later).
    bulk_workers_can_log_in: bool


PEOPLE_SCALES: Final[dict[str, PeopleScale]] = {
    "demo": PeopleScale(residents=50_000, organisations=3_000, bulk_workers_can_log_in=True),
    "city": PeopleScale(residents=2_000_000, organisations=100_000, bulk_workers_can_log_in=False),
}


@dataclass(frozen=True)
class DemoAccount:
    """A named demo login (password `DEMO_PASSWORD`) and what it may see."""

    username: str
    role: StaffRole
    full_name: str
    scope: str  # "area 420502000000", "first grid", "grid in another street", "all"


DEMO_ACCOUNTS: Final[list[DemoAccount]] = [
    DemoAccount("admin", StaffRole.ADMIN, "系统管理员", "all"),
    DemoAccount("leader", StaffRole.LEADER, "西陵区领导", f"area {XILING_AREA}"),
    DemoAccount("command", StaffRole.COMMAND, "西陵区指挥中心", f"area {XILING_AREA}"),
    DemoAccount("worker1", StaffRole.GRID_WORKER, "网格员一", "the first grid by code"),
    DemoAccount("worker2", StaffRole.GRID_WORKER, "网格员二", "a grid in another street"),
    DemoAccount("inspector1", StaffRole.INSPECTOR, "督查员一", f"area {XILING_AREA}"),
    DemoAccount("wjg.leader", StaffRole.LEADER, "伍家岗区领导", f"area {WUJIAGANG_AREA}"),
    DemoAccount("wjg.command", StaffRole.COMMAND, "伍家岗区指挥中心", f"area {WUJIAGANG_AREA}"),
    DemoAccount(
        "wjg.worker1", StaffRole.GRID_WORKER, "伍家岗网格员一", "the first grid of 伍家岗区"
    ),
    DemoAccount("city1", StaffRole.COMMAND, "宜昌市指挥中心", f"city {CITY_AREA}"),
    DemoAccount("city.leader", StaffRole.LEADER, "宜昌市领导", f"city {CITY_AREA}"),
    # Dispatchers (police1, fire1, civil1, urban1) belong to department units, which the
    # events package seeds; they are added there, not here.
]


@dataclass(frozen=True)
class PeopleSeedSummary:
    """What `seed_demo_people` wrote, or found already there."""

    scale: str
    seed: int
    residents: int
    floating: int
    households: int
    residences: int
    special_groups: int
    organisations: int
    staff: int
    already_present: bool


def people_scale(name: str) -> PeopleScale:
    if name not in PEOPLE_SCALES or name not in SCALES:
        raise DemoPeopleError(f"unknown scale {name!r}; choose demo or city")
    return PEOPLE_SCALES[name]
