"""The demo city's Open311 key (`gridgov-demo-key`), so the facade can be tried at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.config import get_settings
from grid.models import AdminUnit
from people.exceptions import NotFound
from people.integrations import issue_key
from people.models import Integration

DEMO_KEY = "gridgov-demo-key"
DEMO_NAME = "demo-open311"
DEMO_AREA = "420502000000"  # 西陵区, the demo city's district


def seed_demo_key(session: Session) -> bool:
    """Give the demo city the Open311 key `gridgov-demo-key` (not in production); idempotent.

    True when the key was added now.
    """
    if get_settings().environment == "production":
        return False
    if session.scalar(select(Integration.id).where(Integration.name == DEMO_NAME)) is not None:
        return False
    if session.get(AdminUnit, DEMO_AREA) is None:
        raise NotFound(f"the demo district {DEMO_AREA} is missing; seed the demo city first")
    issue_key(session, name=DEMO_NAME, area_code=DEMO_AREA, key=DEMO_KEY)
    return True
