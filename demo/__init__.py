"""The deterministic demo city: every sample-data generator, and `seed_all`.

Only the CLI (`gridgov seed demo`) and the benchmarks use this package; no domain package
imports it. The pieces, in the order `seed_all` runs them: `demo.city` (admin tree, grids,
buildings, houses), `demo.people` (residents, households, special groups, organisations,
staff), `demo.units` (department units and dispatchers, seeded with the events),
`demo.events` (weeks of events in every state), `demo.tiers` (the community, street, district
and city centres and the logins community1 and street1), `demo.open311` (the demo API key),
`demo.hotline` (the 12345 operator `hotline1` and a few calls it took), `demo.devices` (a
couple of dozen sensors per district) and
`demo.replies` (12345 cases answered and called back, for the citizen-service KPIs) and
`demo.review` (returns waiting for review and a dispute waiting for its ruling).
`demo.joint` (joint cases with assisting units' sub-tasks, 主办/协办).
`demo.supervision` (督办单 at every level, a 约谈 and a 通报).
`demo.evaluations` (考评 of the closed cases, for the 考核通报).
`demo.parts` (city parts 城市部件 in every grid, each with its owner unit).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from demo.arrays import Progress
from demo.city.generate import SeedSummary
from demo.city.seed import seed_demo_city
from demo.devices import seed_demo_devices
from demo.evaluations import seed_demo_evaluations
from demo.events.seed import seed_demo_events
from demo.hotline import seed_demo_hotline
from demo.joint import seed_demo_joint
from demo.open311 import seed_demo_key
from demo.parts import seed_demo_parts
from demo.people.scales import PeopleSeedSummary
from demo.people.seed import seed_demo_people
from demo.rentals import seed_demo_rentals
from demo.replies import seed_demo_replies
from demo.review import seed_demo_reviews
from demo.supervision import seed_demo_supervision
from demo.tiers import seed_demo_tiers
from events.reference import load_reference_data
from gis.clock import local_today

__all__ = ["DemoSeedSummary", "seed_all"]


@dataclass(frozen=True)
class DemoSeedSummary:
    """What `seed_all` wrote, or found already there."""

    city: SeedSummary
    people: PeopleSeedSummary
    events: int  # new events; 0 when the scale's districts already had events
    open311_key: bool  # True when the demo Open311 key was added now
    hotline_calls: int = 0  # demo 12345 calls filed now (demo.hotline)
    replies: int = 0  # 12345 cases answered and called back (demo.replies), 0 when present
    joint_cases: int = 0  # cases with assisting units' sub-tasks (demo.joint), 0 when present
    review_cases: int = 0  # returned and disputed cases filed now (demo.review), 0 when present
    tier_centres: int = 0  # community, street and city centres added now (demo.tiers)
    judged: int = 0  # cases filed now for the centres' 立案 (demo.tiers), 0 when present
    parts: int = 0  # city parts added now (demo.parts), 0 when present
    rentals: int = 0  # rentals (出租屋) added now (demo.rentals), 0 when present


def seed_all(
    session: Session,
    *,
    scale: str,
    seed: int,
    replace: bool = False,
    on_progress: Progress | None = None,
) -> DemoSeedSummary:
    """Seed the whole demo city of `scale` from `seed` in the session's transaction (no commit).

    The reference data (category table, work calendar), then the city, its people, units,
    dispatchers and events, then the Open311 key. Idempotent: what is there already is kept
    and counted. `replace=True` deletes an existing city first (only before people exist).
    `on_progress(stage, done, total)` reports each stage as it goes.
    """
    load_reference_data(session)
    city = seed_demo_city(session, scale=scale, seed=seed, replace=replace, on_progress=on_progress)
    people = seed_demo_people(session, scale=scale, seed=seed, on_progress=on_progress)
    rentals = seed_demo_rentals(session, today=local_today())
    events = seed_demo_events(session, scale=scale, seed=seed, on_progress=on_progress)
    tiers = seed_demo_tiers(session, scale=scale)
    open311_key = seed_demo_key(session)
    seed_demo_devices(session, seed=seed)
    parts = seed_demo_parts(session, seed=seed)  # after the units: each part has an owner
    calls = seed_demo_hotline(session)
    replies = seed_demo_replies(session, seed=seed)
    reviews = seed_demo_reviews(session)
    joint_cases = seed_demo_joint(session)
    seed_demo_supervision(session)
    seed_demo_evaluations(session)  # 考评 of the closed demo cases
    return DemoSeedSummary(
        city=city,
        people=people,
        events=events,
        open311_key=open311_key,
        hotline_calls=calls,
        replies=replies,
        joint_cases=joint_cases,
        review_cases=reviews,
        tier_centres=tiers.centres,
        judged=tiers.cases,
        parts=parts,
        rentals=rentals,
    )
