"""The city's clock: days are China Standard Time (UTC+8) days, whatever the server's zone.

Between 16:00 and 24:00 UTC a Chinese user's "today" is the server's tomorrow; every date a
user types (a visit, a move-in, a birth date) is judged against this day, never date.today().
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

CHINA_TZ: Final = ZoneInfo("Asia/Shanghai")


def local_today() -> date:
    """Today in China Standard Time."""
    return datetime.now(CHINA_TZ).date()


__all__ = ["CHINA_TZ", "local_today"]
