"""`gridgov audit …`: seal the tamper-evident record, verify it, export its anchors (防篡改留痕).

A thin layer over events.audit, one transaction per district's sealing run. Registered in
api.cli with `app.add_typer(audit_app, name="audit")`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from gis.db import session_scope

audit_app = typer.Typer(
    help="The tamper-evident record (防篡改留痕): seal, verify, anchor.", no_args_is_help=True
)
log = logging.getLogger("gridgov.audit")

District = Annotated[
    str | None, typer.Option(help="one district (6-digit code); default every district")
]


@audit_app.command("seal")
@clear_errors
def seal_command(
    district: District = None,
    every: Annotated[
        float | None, typer.Option(help="repeat every so many seconds (default: run once)")
    ] = None,
) -> None:
    """Chain the event steps and unmasked-PII reads written since the last run (run it every
    minute or so; a row is protected from its first seal on)."""
    from events.audit import districts, seal

    while True:
        with session_scope() as session:
            codes = [district] if district else districts(session)
        sealed = backdated = 0
        for code in codes:
            with session_scope() as session:
                report = seal(session, district=code)
            sealed += report.total
            for late_district, late in report.backdated.items():
                backdated += late
                console.print(
                    f"[red]district {late_district}: {late} rows dated before rows already "
                    "sealed were not chained; run `gridgov audit verify`[/red]",
                    highlight=False,
                )
        console.print(
            f"{datetime.now():%H:%M:%S} sealed {sealed} rows in {len(codes)} districts",
            highlight=False,
        )
        if every is None:
            if backdated:
                raise typer.Exit(1)
            return
        time.sleep(every)


@audit_app.command("verify")
@clear_errors
def verify_command(
    district: District = None,
    anchors: Annotated[
        Path | None,
        typer.Option(help="anchors exported by `gridgov audit anchor`, checked too"),
    ] = None,
) -> None:
    """Recompute every chain; name the first broken row of each district and exit 1 if any."""
    from events.audit import read_anchors, verify

    exported = read_anchors(anchors.read_text().splitlines()) if anchors else []
    with session_scope() as session:
        report = verify(session, district=district, anchors=exported)
    for found in report.breaks:
        console.print(f"[red]✗ {found.message}[/red]", highlight=False)
    console.print(
        f"checked {report.links} links in {report.districts} districts"
        + (f" and {len(exported)} anchors" if exported else "")
        + (": intact (完整)" if report.intact else f": {len(report.breaks)} broken (被篡改)"),
        highlight=False,
    )
    if not report.intact:
        raise typer.Exit(1)


@audit_app.command("anchor")
@clear_errors
def anchor_command(
    out: Annotated[
        Path | None, typer.Option(help="append the anchors to this file (JSON lines)")
    ] = None,
) -> None:
    """Write each district's head (last link and its chain hash) to the log, and append it to
    `--out` for safekeeping outside the database (daily)."""
    from events.audit import anchors

    with session_scope() as session:
        heads = anchors(session, at=datetime.now(UTC))
    for head in heads:
        log.info("audit anchor %s", head.line())
        console.print(head.line(), highlight=False, soft_wrap=True)
    if out is not None:
        with out.open("a", encoding="utf-8") as file:
            file.writelines(head.line() + "\n" for head in heads)
        console.print(f"{len(heads)} anchors appended to {out}", highlight=False)
