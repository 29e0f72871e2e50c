"""The demo city's rentals (出租屋) and 居住登记 dates: every rented house let to the people
living there by one resident landlord of its district (the district's first resident), leases
started up to 400 days ago and running a year, 1–3 rooms let, one in five without a signed
治安责任书; nine floating residents in ten registered within the 30-day deadline. Set-based SQL,
so the city scale (2,000,000 residents) seeds in seconds. Idempotent: a district that has
rentals is left alone.

The grid workers' tasks these raise (出租屋无人登记, 居住登记逾期, 居住证即将到期 …) come from
`gridgov tasks generate`, which `gridgov seed demo` runs after seeding.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

_DISTRICTS = text(
    "SELECT r.district_code, min(r.id) FROM resident r "
    "WHERE NOT EXISTS (SELECT 1 FROM rental x WHERE x.district_code = r.district_code) "
    "GROUP BY r.district_code ORDER BY r.district_code"
)
_RENTALS = text(
    "INSERT INTO rental (district_code, house_id, landlord_resident_id, lease_start, lease_end,"
    " rooms, responsibility_signed_on, status) "
    "SELECT h.district_code, h.id, :landlord, :today - (h.id % 400), "
    ":today - (h.id % 400) + 365, 1 + h.id % 3, "
    "CASE WHEN h.id % 5 = 0 THEN NULL ELSE :today - (h.id % 400) END, 'active' "
    "FROM house h WHERE h.district_code = :d AND h.use = 'rented'"
)
_TENANTS = text(
    "INSERT INTO rental_tenant (district_code, rental_id, resident_id, moved_in) "
    "SELECT r.district_code, r.id, s.resident_id, greatest(s.moved_in, r.lease_start) "
    "FROM rental r JOIN residence s ON s.house_id = r.house_id "
    "AND s.district_code = r.district_code AND s.moved_out IS NULL "
    "WHERE r.district_code = :d AND s.resident_id <> r.landlord_resident_id"
)
_REGISTRATIONS = text(
    "UPDATE resident SET registered_on = arrival_date + (id % 30) "
    "WHERE district_code = :d AND residence_type = 'floating' AND arrival_date IS NOT NULL "
    "AND registered_on IS NULL AND id % 10 <> 0"
)


def seed_demo_rentals(session: Session, *, today: date) -> int:
    """Rentals, tenants and registration dates in every district without rentals; returns the
    rentals added."""
    added = 0
    for district, landlord in session.execute(_DISTRICTS).all():
        params = {"d": district, "today": today, "landlord": landlord}
        added += session.execute(_RENTALS, params).rowcount  # type: ignore[attr-defined]
        session.execute(_TENANTS, params)
        session.execute(_REGISTRATIONS, params)
    return added


__all__ = ["seed_demo_rentals"]
