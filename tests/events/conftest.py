"""Cities that several modules of the events tests build on (tests/conftest.py holds those of
more than one package)."""

from __future__ import annotations

from typing import Any

import pytest

from people.models import StaffRole
from tests.events.workflow_city import add_person
from tests.factories import COMMUNITY, STREET, add_unit

STREET_PREFIX = STREET[:9]


@pytest.fixture
def tiers(city: dict[str, Any]) -> dict[str, Any]:
    """The workflow city with a community 综治工作站 and a street 综治中心 (the district centre CC
    has no area code, as before tiers) and command staff at every tier."""
    session = city["session"]
    city["community_centre"] = add_unit(
        session, "ZZ-C", "command_centre", location=(111.29, 30.705), name="测试社区综治工作站"
    )
    city["community_centre"].area_code = COMMUNITY
    city["street_centre"] = add_unit(
        session, "ZZ-S", "command_centre", location=(111.29, 30.706), name="西陵街道综治中心"
    )
    city["street_centre"].area_code = STREET_PREFIX
    session.flush()
    city["community_staff"] = add_person(session, "community1", StaffRole.COMMAND, area=COMMUNITY)
    city["street_staff"] = add_person(session, "street1", StaffRole.COMMAND, area=STREET)
    city["city_staff"] = add_person(session, "city1", StaffRole.COMMAND, area="4205")
    city["other_community"] = add_person(
        session, "community2", StaffRole.COMMAND, area=COMMUNITY[:9] + "002"
    )
    return city
