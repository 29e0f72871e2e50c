"""`gridgov share deliver`: push shared data's changes to departments' webhook subscriptions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from events.share_delivery import deliver_shared
from gis.config import get_settings
from gis.db import session_scope
from people.share_feed import prune_changes

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


@share_app.command("prune")
@clear_errors
def prune(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="keep this many days (default SHARE_CHANGE_RETENTION_DAYS)"),
    ] = None,
) -> None:
    """Delete shared data's changes older than the retention period that every live webhook
    subscription of their dataset has delivered."""
    keep = days or get_settings().share_change_retention_days
    with session_scope() as session:
        pruned = prune_changes(session, before=datetime.now(UTC) - timedelta(days=keep))
    console.print(f"{pruned} changes pruned (older than {keep} days, delivered)", highlight=False)
