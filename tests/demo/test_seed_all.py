"""seed_all: the whole demo city in one call, and a second call that adds nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from demo import seed_all
from demo.city.scales import DEFAULT_SEED
from demo.hotline import CALLS
from demo.open311 import DEMO_KEY
from people.integrations import check_key

TABLES = (
    "grid",
    "building",
    "resident",
    "organisation",
    "staff",
    "department_unit",
    "event",
    "rental",
    "rental_tenant",
)


def _counts(session: Session) -> dict[str, int]:
    return {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_seed_all_seeds_city_people_units_events_and_key_once(session):
    progress: list[tuple[str, int, int]] = []
    first = seed_all(
        session, scale="demo", seed=DEFAULT_SEED, on_progress=lambda *p: progress.append(p)
    )
    assert not first.city.already_present and first.city.grids == 390  # 西陵区 and 伍家岗区
    assert not first.people.already_present and first.people.residents == 50_000
    assert first.events > 0 and first.open311_key
    assert check_key(session, key=DEMO_KEY).area_code == "420502000000"
    stages = list(dict.fromkeys(stage for stage, _, _ in progress))
    assert stages.index("grids") < stages.index("residents") < stages.index("events")
    counts = _counts(session)
    assert first.hotline_calls == len(CALLS)  # the 12345 desk's demo calls
    assert first.replies > 0  # the 12345 cases answered and called back (demo.replies)
    assert first.joint_cases > 0  # cases with assisting units' sub-tasks (demo.joint)
    assert first.judged == 4 and first.tier_centres > 0  # demo.tiers: cases for 立案
    assert first.review_cases == 2  # a return waiting for review and a dispute (demo.review)
    assert counts["event"] == (
        first.events
        + first.hotline_calls
        + first.replies
        + first.joint_cases
        + first.judged
        + first.review_cases
    )
    assert counts["department_unit"] > 0
    # demo.rentals: every rented house let, its people its tenants, nine floating in ten
    # registered (居住登记) within 30 days of arriving.
    rented = session.execute(text("SELECT count(*) FROM house WHERE use = 'rented'")).scalar_one()
    assert first.rentals == rented == counts["rental"] > 0
    floating = session.execute(
        text(
            "SELECT count(*) FILTER (WHERE registered_on IS NOT NULL), count(*) FROM resident "
            "WHERE residence_type = 'floating' AND arrival_date IS NOT NULL"
        )
    ).one()
    assert 0.85 < floating[0] / floating[1] < 0.95
    late = session.execute(
        text("SELECT count(*) FROM resident WHERE registered_on > arrival_date + 30")
    ).scalar_one()
    assert late == 0

    again = seed_all(session, scale="demo", seed=DEFAULT_SEED)
    assert again.city.already_present and again.people.already_present
    assert again.city.grids == first.city.grids
    assert again.people.residents == first.people.residents
    assert again.events == 0 and not again.open311_key and again.rentals == 0
    assert again.hotline_calls == 0 and again.replies == 0 and again.joint_cases == 0
    assert again.tier_centres == 0 and again.judged == 0 and again.review_cases == 0
    assert _counts(session) == counts
