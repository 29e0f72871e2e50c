"""The joint-case tests' city: the workflow city with a 城管 squad and an 生态环境 office, so that
a noise complaint (0604 噪声扰民: 城管 leads, 公安 and 生态环境 assist) is a joint case."""

from __future__ import annotations

from typing import Any

from people.models import StaffRole
from tests.events.workflow_city import add_person
from tests.factories import add_unit

NOISE = "0604"  # normal priority, sign-for 2 working hours, handling 3 working days


def add_joint_units(city: dict[str, Any]) -> dict[str, Any]:
    """Add UM-1 (城管) and ECO-1 (生态环境), each with a dispatcher, to the workflow city."""
    session = city["session"]
    city["um"] = add_unit(session, "UM-1", "urban_management", location=(111.291, 30.706))
    city["eco"] = add_unit(session, "ECO-1", "ecology", location=(111.30, 30.70))
    city["disp_um"] = add_person(session, "disp.um", StaffRole.DISPATCHER, unit_id=city["um"].id)
    city["disp_eco"] = add_person(session, "disp.eco", StaffRole.DISPATCHER, unit_id=city["eco"].id)
    return city


__all__ = ["NOISE", "add_joint_units"]
