"""`gridgov worker`: deliver the outbox as signed webhooks until stopped (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import typer

from api.cli_common import clear_errors, console
from events.outbox import DeliveryReport, run_worker


def _print_batch(report: DeliveryReport) -> None:
    if not report.claimed:
        console.print("nothing due", highlight=False)
        return
    console.print(f"{datetime.now():%H:%M:%S} {report.summary()}", highlight=False)


@clear_errors
def worker(
    once: Annotated[bool, typer.Option("--once", help="deliver one batch, then exit")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds to wait when nothing is due")] = 2.0,
) -> None:
    """Deliver pending notifications to department units' webhooks, with retries and backoff."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not once:
        console.print(f"delivering webhooks every {poll:g} s when idle; Ctrl-C stops")
    totals = run_worker(poll_s=poll, once=once, on_batch=_print_batch)
    if not once:
        console.print(f"stopped: {totals.summary()}", highlight=False)
