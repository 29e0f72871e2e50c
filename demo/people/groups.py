"""Special groups (特殊人群) of the demo people: who is in them, how dangerous, visit plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from demo.arrays import Array, BoolArray, FloatArray, IntArray
from demo.people.frame import (
    CityFrame,
    as_days,
    pick_indices,
    weighted_sample,
)
from demo.people.vocabulary import (
    DANGER_P,
    GROUP_RATES,
    OFFENCES,
    OVERDUE_SHARE,
)
from people.models import ResidenceType, SpecialGroupType

# --------------------------------------------------------------------------- special groups


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _interval_days(intervals: dict[tuple[str, int], int], group: str, danger: int) -> int:
    """The interval of the highest min_danger_level ≤ danger (90 days when unconfigured)."""
    levels = [lvl for (g, lvl) in intervals if g == group and lvl <= danger]
    return intervals[(group, max(levels))] if levels else 90


def generate_special_groups(
    rng: np.random.Generator,
    *,
    frame: CityFrame,
    today: np.datetime64,
    intervals: dict[tuple[str, int], int],
    workers_of_grid: Sequence[Sequence[int]] | None,
    house: IntArray,
    hh: IntArray,
    sizes: IntArray,
    age: FloatArray,
    turned_65: BoolArray,
    male: BoolArray,
    birth: Array,
    residence_type: Array,
) -> dict[str, Any]:
    """Special-group memberships at realistic rates, with details and a visit schedule.

    Everyone 65 or older (on `today`) who lives alone is an elderly person living alone.
    """
    n = len(hh)
    local = residence_type != ResidenceType.OVERSEAS.value
    registered = residence_type == ResidenceType.REGISTERED.value
    members: list[tuple[SpecialGroupType, IntArray]] = [
        (SpecialGroupType.ELDERLY_ALONE, np.flatnonzero((sizes[hh] == 1) & turned_65 & local))
    ]
    weights = {
        SpecialGroupType.DISABLED: local * (1 + age / 25),
        SpecialGroupType.LOW_INCOME: registered * (1 + (age >= 60) + (sizes[hh] == 1)),
        SpecialGroupType.LEFT_BEHIND: registered
        * (((age < 16) & (sizes[hh] >= 3)) * 3.0 + ((age >= 65) & (sizes[hh] <= 2)) * 1.0),
        SpecialGroupType.ENTITLED: local * (age >= 40) * np.where(male, 4.0, 1.0),
        SpecialGroupType.RELEASED_PRISONER: local
        * ((age >= 20) & (age < 65))
        * np.where(male, 9.0, 1.0),
        SpecialGroupType.COMMUNITY_CORRECTION: local
        * ((age >= 18) & (age < 65))
        * np.where(male, 4.0, 1.0),
        SpecialGroupType.MENTAL_DISORDER: local * (age >= 18),
        SpecialGroupType.DRUG_USER: local * ((age >= 18) & (age < 60)) * np.where(male, 4.0, 1.0),
        SpecialGroupType.KEY_YOUTH: local * ((age >= 12) & (age < 25)) * np.where(male, 3.0, 1.0),
    }
    for group, rate in GROUP_RATES.items():
        w = np.asarray(weights[group], float)
        members.append((group, weighted_sample(rng, w, max(1, round(rate * n)))))
    person = np.concatenate([m for _, m in members]).astype(np.int64)
    kind = np.concatenate([np.full(len(m), g.value, dtype=object) for g, m in members]).astype(str)
    count = len(person)
    danger = np.full(count, -1, dtype=np.int64)
    mental = kind == SpecialGroupType.MENTAL_DISORDER.value
    danger[mental] = pick_indices(rng, DANGER_P, int(mental.sum()))
    interval = np.array(
        [
            _interval_days(intervals, k, max(d, 0))
            for k, d in zip(kind, danger.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    started = today - as_days(rng.integers(20, 3_650, count))
    started = np.maximum(started, birth[person] + np.timedelta64(1, "D"))
    overdue = rng.random(count) < OVERDUE_SHARE
    last = np.where(
        overdue,
        today - as_days(interval + rng.integers(1, 46, count)),
        today - as_days((rng.random(count) * interval).astype(np.int64)),
    )
    started = np.minimum(started, last)
    never = ~overdue & (rng.random(count) < 0.04)
    # Never visited yet: a recent case whose first visit is still ahead.
    started[never] = today - as_days(rng.integers(0, 1, int(never.sum())) + (interval[never] // 2))
    last_visit = last.copy()
    last_visit[never] = np.datetime64("NaT")
    responsible = np.full(count, -1, dtype=np.int64)
    if workers_of_grid is not None:
        grid = frame.building_grid[frame.house_building[house[hh[person]]]]
        choice = rng.random(count)
        responsible = np.array(
            [
                workers[int(c * len(workers))] if workers else -1
                for workers, c in zip(
                    (workers_of_grid[g] for g in grid.tolist()), choice.tolist(), strict=True
                )
            ],
            dtype=np.int64,
        )
    details = _details(rng, kind, danger, age[person], today)
    return {
        "person": person,
        "type": kind,
        "danger": danger,
        "started": started,
        "last_visit": last_visit,
        "interval": interval,
        "details": details,
        "responsible": responsible,
    }


def _details(
    rng: np.random.Generator, kind: Array, danger: IntArray, age: FloatArray, today: np.datetime64
) -> list[dict[str, Any]]:
    """Type-specific extension data of each special-group membership."""
    out: list[dict[str, Any]] = []
    u = rng.random((len(kind), 4))
    day = today.astype(object)

    def pick(options: Sequence[Any], x: float) -> Any:
        return options[min(int(x * len(options)), len(options) - 1)]

    for k, d, a, (x, y, z, w) in zip(kind.tolist(), danger.tolist(), age.tolist(), u, strict=True):
        if k == SpecialGroupType.ELDERLY_ALONE:
            item = {
                "health": pick(("良好", "一般", "较差", "失能"), x**1.5),
                "self_care": pick(("自理", "半自理", "不能自理"), y**2),
                "children_nearby": bool(z < 0.55),
                "monthly_pension_yuan": int(1_200 + 3_000 * w),
            }
        elif k == SpecialGroupType.DISABLED:
            item = {
                "disability_type": pick(
                    ("视力", "听力", "言语", "肢体", "智力", "精神", "多重"), x
                ),
                "grade": pick(("一级", "二级", "三级", "四级"), y),
                "certified": bool(z < 0.9),
            }
        elif k == SpecialGroupType.LOW_INCOME:
            item = {
                "category": pick(("城市低保", "特困供养", "低收入家庭"), x**1.5),
                "monthly_allowance_yuan": int(300 + 500 * y),
            }
        elif k == SpecialGroupType.LEFT_BEHIND:
            child = a < 18
            item = {
                "kind": "留守儿童" if child else "留守老人",
                "guardian_relation": pick(("祖父母", "外祖父母", "其他亲属"), x)
                if child
                else "本人",
                "family_working_in": pick(("广东省", "浙江省", "上海市", "武汉市", "江苏省"), y),
            }
        elif k == SpecialGroupType.ENTITLED:
            item = {
                "category": pick(("退役军人", "伤残军人", "烈士遗属", "带病回乡退伍军人"), x**2),
                "service_years": int(2 + 18 * y),
            }
        elif k == SpecialGroupType.RELEASED_PRISONER:
            released = day - timedelta(days=int(30 + 1_800 * x))
            item = {
                "offence": pick(OFFENCES, y),
                "sentence_months": int(6 + 114 * z**2),
                "released_on": released.isoformat(),
                "resettled": bool(w < 0.8),
            }
        elif k == SpecialGroupType.COMMUNITY_CORRECTION:
            start = day - timedelta(days=int(30 + 700 * x))
            item = {
                "correction_type": pick(("缓刑", "假释", "管制", "暂予监外执行"), y**1.5),
                "offence": pick(OFFENCES, z),
                "term_start": start.isoformat(),
                "term_end": (start + timedelta(days=int(180 + 900 * w))).isoformat(),
            }
        elif k == SpecialGroupType.MENTAL_DISORDER:
            item = {
                "diagnosis": pick(
                    (
                        "精神分裂症",
                        "双相情感障碍",
                        "偏执性精神病",
                        "分裂情感性障碍",
                        "癫痫所致精神障碍",
                        "精神发育迟滞伴发精神障碍",
                    ),
                    x**1.3,
                ),
                "guardian_relation": pick(("配偶", "父母", "子女", "兄弟姐妹"), y),
                "medication": pick(("规律服药", "间断服药", "不服药"), z**1.5),
                "risk_level": d,
            }
        elif k == SpecialGroupType.DRUG_USER:
            item = {
                "status": pick(("社区戒毒", "社区康复", "戒断三年未复吸"), x),
                "substance": pick(("冰毒", "海洛因", "氯胺酮"), y),
            }
        else:  # key youth
            item = {
                "category": pick(
                    ("闲散青少年", "有不良行为青少年", "流浪乞讨未成年人", "服刑人员未成年子女"), x
                ),
                "in_school": bool(a < 16 or y < 0.3),
            }
        out.append(item)
    return out
