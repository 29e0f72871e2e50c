"""The `page` and `page_size` query parameters of every paged list, checked before any SQL: a
page past 1,000,000 or a page size above what the ledger serves at once is a 422 naming it."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Query

from grid.service import MAX_PAGE_SIZE as FRAME_MAX_PAGE_SIZE
from people.service import MAX_PAGE_SIZE as LEDGER_MAX_PAGE_SIZE

MAX_PAGE: Final = 1_000_000

PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page number, from 1")]
# Grids, buildings, houses and city parts: the spatial frame, no personal data.
FramePageSize = Annotated[int, Query(ge=1, le=FRAME_MAX_PAGE_SIZE)]
# Residents, organisations, special groups, tasks …: the ledger, read one page at a time.
LedgerPageSize = Annotated[int, Query(ge=1, le=LEDGER_MAX_PAGE_SIZE)]
