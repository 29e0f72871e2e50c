"""What happened at buildings lately: fire-safety events (消防隐患, 火灾 …) and events of any
kind, counted per building for the rental risk grade (people.rentals reads no events: the API
hands these counts in)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from events.models import Event
from gis.config import get_settings
from people.rentals import Findings, FindingsOf


def building_event_counts(
    session: Session,
    *,
    buildings: Collection[tuple[str, int]],
    since: datetime,
    fire_categories: Sequence[str],
) -> dict[tuple[str, int], tuple[int, int]]:
    """(district code, building id) → (fire-safety events, all events) reported since `since`
    at each building; buildings with none are left out. `fire_categories` are category-code
    prefixes ("02" for every 消防隐患 category, "1101" for 火灾)."""
    if not buildings:
        return {}
    fire = or_(*(Event.category_code.startswith(prefix) for prefix in fire_categories))
    rows = session.execute(
        select(
            Event.district_code,
            Event.building_id,
            func.count().filter(fire),
            func.count(),
        )
        .where(
            tuple_(Event.district_code, Event.building_id).in_(list(buildings)),
            Event.reported_at >= since,
        )
        .group_by(Event.district_code, Event.building_id)
    ).all()
    # Every row has a building: the IN above matched its id.
    return {(district, building or 0): (int(f), int(n)) for district, building, f, n in rows}


def rental_findings(session: Session) -> FindingsOf:
    """The rental risk grade's counts (people.rentals.FindingsOf): fire-safety and all events
    at each building over the settings' lookback."""
    settings = get_settings()
    since = datetime.now().astimezone() - timedelta(days=settings.rental_event_lookback_days)

    def of(buildings: Collection[tuple[str, int]]) -> Mapping[tuple[str, int], Findings]:
        counts = building_event_counts(
            session,
            buildings=buildings,
            since=since,
            fire_categories=settings.rental_fire_categories,
        )
        return {key: Findings(fire, recent) for key, (fire, recent) in counts.items()}

    return of
