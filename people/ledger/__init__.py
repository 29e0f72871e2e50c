"""Import and export of the resident ledger (台账): CSV and Excel (.xlsx) files, Chinese headers.

An import streams the file in batches. Each row is validated in Python (document numbers,
dates, code labels, phones, lengths) and its ID number and phone encrypted and hashed; a
document already seen earlier in the file is reported. Each batch is then COPYed into a TEMP
table and, on a helper thread while Python reads the next batch, checked set-based against the
database — unknown houses, houses or people outside the actor's scope, residence history — and
written by a handful of INSERT … SELECT / UPDATE … FROM statements: a resident already in the
ledger (same document) is updated, not duplicated, and a changed house closes the open
residence and opens a new one.

Valid rows go in; invalid rows are reported (row, column, reason) and written to an error file
in the input's format. A file that cannot be read as a ledger (wrong type, empty, missing
required columns) raises `LedgerFileError` with nothing written, even when the problem shows
only halfway through (the import runs in a savepoint). The caller owns the transaction.

The modules follow the path of a file: `columns` (what the file holds), `read` (rows and header),
`check` (each row in Python), `stage` (each batch in SQL), `error_file`, `importer` (the whole
import), `export`, `template`; `files` writes files, `report` is what an import returns.
"""

from people.ledger.columns import COLUMNS, LedgerColumn
from people.ledger.error_file import record_error_file_download
from people.ledger.export import export_residents
from people.ledger.importer import import_residents
from people.ledger.report import LedgerFileError, LedgerImportReport, RowError
from people.ledger.template import write_template

__all__ = [
    "COLUMNS",
    "LedgerColumn",
    "LedgerFileError",
    "LedgerImportReport",
    "RowError",
    "export_residents",
    "import_residents",
    "record_error_file_download",
    "write_template",
]
