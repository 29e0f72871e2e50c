"""Fixtures of the API tests: the people API tests' city, shared by the residents, statistics and
import tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from people import special_groups as sg
from tests.api.people_city import build_people_city
from tests.factories import china_today

TODAY = china_today()


@pytest.fixture
def people_city(session: Session) -> dict[str, Any]:
    """Grids A and B with a building of two houses each, three residents, and every role."""
    return build_people_city(session)


@pytest.fixture
def groups(people_city: dict[str, Any]) -> dict[str, int]:
    """Zhang (grid A) lives alone, overdue; Wang (grid B) is a released prisoner, not yet due."""
    session = people_city["session"]
    alone = sg.enrol(
        session,
        actor=people_city["admin"],
        resident_id=people_city["residents"]["zhang"],
        group_type="elderly_alone",
        details={"children_phone": "13912345678", "health": "慢性病"},
        started_on=TODAY - timedelta(days=30),
    )
    released = sg.enrol(
        session,
        actor=people_city["admin"],
        resident_id=people_city["residents"]["wang"],
        group_type="released_prisoner",
        details={"crime": "盗窃罪", "sentence": "有期徒刑3年", "release_date": "2020-01-01"},
        started_on=TODAY,
    )
    return {"alone": alone.id, "released": released.id}
