"""Residents, households, special groups, organisations and staff for the demo city.

`generate_people` is pure: from the demo city as stored (grids, buildings, houses, read back
ordered by their codes) and a seed it builds every person and organisation as numpy columns.
`seed_demo_people` reads that frame, generates, and writes everything with COPY inside the
caller's transaction. Same city + same seed → the same people, ID numbers and names.

Birth dates (and so ID numbers) count back from the fixed `REFERENCE_DAY`, so they do not
change from one day to the next; arrivals, moves and visits count back from `today`, so a
freshly seeded demo always has about 10 % of its visits overdue.
"""
