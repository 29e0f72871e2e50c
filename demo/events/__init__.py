"""Demo events (事件) for the demo city: weeks of a living city's cases, in every state.

`generate_events` is pure: from the stored city, units, staff, categories and work calendar
(`load_event_frame`) and a seed it builds every event with its audit steps and deadline stages
as numpy columns. `seed_demo_events` loads that frame, generates and writes with COPY inside
the caller's transaction. Same city, units, staff, seed and `now` → the same events (ids come
from the event id sequence, so they differ from one database to another).

What makes it look alive:

- volume: about `EVENTS_PER_DAY` a day (≈ 5,000 in 60 days at demo scale, ≈ 1,000,000 at city
  scale), fewer on days off, growing slightly towards `now`;
- time of day: reports peak 9–11 and 14–17, few at night (夜间施工扰民 is reported at night);
- hot spots: markets (农贸市场/商圈), old residential blocks and construction sites get many more
  events, clustered on a few buildings, each with its own category mix;
- the closed loop: check (核实) of hotline/app/sensor reports, dispatch by the category's lead
  department to the unit covering the point (police and fire areas are not streets), sign-for,
  handling, verification, closure — with returns and re-dispatch, rework after a failed
  verification, suspension (挂账), voided reports and self-resolved ones. Durations are drawn
  as shares of each stage's working-time limit, scaled by a per-unit performance factor, so
  some units are late far more often than others; a few cases stall and stay overdue.

Every transition is an `event_step` (the last one's `to_status` is the event's status) and
every stage an `event_stage` whose deadline is what `events.deadlines.due_at` gives for the
category and start, so dashboards, lights and KPIs read the demo exactly as real data. Events
are routed by the category's default lead department (the demo has no dispatch rules).
"""
