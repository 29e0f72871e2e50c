"""The demo city's Open311 key: seeded once, and it files into the demo district."""

from __future__ import annotations

import pytest

from demo.open311 import DEMO_KEY, seed_demo_key
from people.integrations import check_key
from tests.factories import DISTRICT, admin_tree

AREA = DISTRICT + "000000"


@pytest.fixture
def area(session):
    admin_tree(session)
    return AREA


def test_the_demo_key_is_seeded_once(session, area):
    assert seed_demo_key(session) is True
    assert seed_demo_key(session) is False
    assert check_key(session, key=DEMO_KEY).area_code == AREA
