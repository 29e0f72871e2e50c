"""Errors of the spatial frame; each message is a sentence a user can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gis import errors

if TYPE_CHECKING:
    from grid.importer import ImportReport


class GridError(errors.DomainError):
    """Base of every error raised by the grid package."""


class NotFound(GridError, errors.NotFound):
    """A grid, building or administrative unit with that code does not exist."""


class InvalidQuery(GridError):
    """A filter (bbox, area code, page) is malformed."""


class UnsupportedFormat(GridError):
    """A file suffix that names no format the importer/exporter reads or writes."""


class UnreadableFile(GridError):
    """A file that cannot be opened or lacks what an import needs (a layer, a WKT column …)."""


class ImportRejected(GridError):
    """An import in which at least one feature failed validation; nothing was written.

    `report` (a `grid.importer.ImportReport`) lists every problem, not just the first.
    """

    shown = 5  # problems quoted in the message; the report has them all

    def __init__(self, report: ImportReport, *, what: str = "nothing was imported") -> None:
        self.report = report
        quoted = "; ".join(
            f"{r.feature_id}: {r.reason.rstrip('.')}" for r in report.rejected[: self.shown]
        )
        more = len(report.rejected) - self.shown
        tail = f"; … and {more} more problem(s) in the report" if more > 0 else ""
        super().__init__(
            f"{report.rejected_features} of {report.total} feature(s) were rejected, so {what}. "
            f"{quoted}{tail}. Fix these features and try again."
        )


class RecutRejected(ImportRejected):
    """A re-cut (网格调整) whose new grids failed validation; the community was left unchanged."""

    def __init__(self, report: ImportReport, *, community_code: str) -> None:
        self.community_code = community_code
        super().__init__(report, what=f"the grids of community {community_code} were not changed")


class InvalidAddressQuery(GridError, errors.Invalid):
    """An address search with an empty or over-long text, or a limit out of range."""


class InvalidHouse(GridError, errors.Invalid):
    """A house whose floor, unit or room does not fit its building."""


class HouseTaken(GridError, errors.Conflict):
    """Another house of the building already has that unit and room (the house code)."""


class AddressCodesExhausted(GridError, errors.Conflict):
    """A standard-address parent has given every sequence number its code level has room for."""
