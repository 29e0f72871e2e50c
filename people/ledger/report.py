"""What a ledger import reports: per-row problems, totals, and the file-level error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from people.exceptions import PeopleError

# on_progress(stage, done, total); stages "read" and "written" (rows), then "errors" (rows
# copied to the error file).
ProgressCallback = Callable[[str, int, int], None]

# The report lists this many problems; the error file has all of them.
MAX_REPORTED_ERRORS: Final = 10_000


class LedgerFileError(PeopleError):
    """The file cannot be read as a ledger at all; nothing was imported."""


@dataclass(frozen=True)
class RowError:
    """One problem in one row: the row as a spreadsheet numbers it (header = row 1), the column
    header as written in the file, and a sentence saying what to fix."""

    row: int
    column: str
    reason: str


@dataclass
class LedgerImportReport:
    """Outcome of a ledger import."""

    total_rows: int  # non-blank data rows in the file
    inserted: int
    updated: int
    rejected: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    rejected_rows: int = 0  # rows not imported (a row may have several errors)
    error_count: int = 0  # every error, including those past MAX_REPORTED_ERRORS
    warnings: list[str] = field(default_factory=list)
    error_file: Path | None = None

    @property
    def imported(self) -> int:
        """Rows written: new residents plus updated ones."""
        return self.inserted + self.updated
