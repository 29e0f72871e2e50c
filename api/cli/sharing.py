"""`gridgov share deliver`: push shared data's changes to departments' webhook subscriptions."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from events.share_delivery import deliver_shared

share_app = typer.Typer(help="Shared data (共享交换): push changes to webhook subscriptions.")


@share_app.command("deliver")
@clear_errors
def deliver(
    once: Annotated[bool, typer.Option("--once", help="deliver one turn, then exit")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between turns")] = 5.0,
    limit: Annotated[int, typer.Option(min=1, max=500, help="changes per request")] = 100,
) -> None:
    """Post each due subscription's next changes, signed; retry failures with backoff."""
    try:
        while True:
            report = deliver_shared(limit=limit)
            if report.delivered or report.failed or once:
                console.print(
                    f"{report.delivered} batches delivered ({report.changes} changes), "
                    f"{report.failed} failed",
                    highlight=False,
                )
            if once:
                return
            time.sleep(poll)
    except KeyboardInterrupt:
        console.print("stopped", highlight=False)
