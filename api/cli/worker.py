"""`gridgov worker`: deliver the outbox as signed webhooks until stopped (Ctrl-C / SIGTERM).

`gridgov worker dead` lists the deliveries given up after 48 h of failures and
`gridgov worker replay` queues them (or any delivered row) to be sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import clear_errors, console
from api.import_jobs import ImportRunner
from events.dead_letters import dead_letters, replay
from events.delivery import DeliveryReport, run_worker
from gis.config import get_settings
from gis.db import session_scope
from people.access import Actor
from people.models import StaffRole

# The operator at the server's shell acts as an administrator (as `gridgov map` does).
OPERATOR = Actor(staff_id=0, username="cli", role=StaffRole.ADMIN)

worker_app = typer.Typer(
    help="Deliver webhooks to department units; list and replay dead letters.",
    invoke_without_command=True,
)


def _print_batch(report: DeliveryReport) -> None:
    if not report.claimed:
        console.print("nothing due", highlight=False)
        return
    console.print(f"{datetime.now():%H:%M:%S} {report.summary()}", highlight=False)


@worker_app.callback()
@clear_errors
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="deliver one turn, then exit")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds to wait when nothing is due")] = 2.0,
) -> None:
    """Deliver pending notifications to department units' webhooks, with retries and backoff."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # First fail the imports a killed server left running (and delete their files).
    housekeeping = ImportRunner().housekeep(at_startup=True)
    if housekeeping.interrupted:
        console.print(f"import housekeeping: {housekeeping}", highlight=False)
    settings = get_settings()
    if not once:
        console.print(
            f"delivering webhooks to {settings.webhook_concurrency} receivers at a time, "
            f"{settings.webhook_deadline_s:g} s per delivery, every {poll:g} s when idle; "
            "Ctrl-C stops",
            highlight=False,
        )
    totals = run_worker(poll_s=poll, once=once, on_batch=_print_batch)
    if not once:
        console.print(f"stopped: {totals.summary()}", highlight=False)


@worker_app.command("dead")
@clear_errors
def dead(
    unit: Annotated[str | None, typer.Option(help="only this department unit's code")] = None,
    limit: Annotated[int, typer.Option(min=1, help="show at most this many")] = 100,
) -> None:
    """List the deliveries given up after 48 h of failures (dead letters), oldest first."""
    with session_scope() as session:
        letters = dead_letters(session, actor=OPERATOR, unit_code=unit, limit=limit)
    if not letters:
        console.print("no dead letters", highlight=False)
        return
    table = Table("id", "event", "unit", "kind", "attempts", "last attempt", "last error")
    for letter in letters:
        tried = letter.last_attempt_at
        table.add_row(
            str(letter.outbox_id),
            letter.event_code,
            letter.unit_code,
            letter.kind,
            str(letter.attempts),
            f"{tried:%Y-%m-%d %H:%M}" if tried else "",
            letter.last_error or "",
        )
    console.print(table)


@worker_app.command("replay")
@clear_errors
def replay_command(
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="an outbox row id (repeat for several)")
    ] = None,
    event: Annotated[str | None, typer.Option(help="every delivery of this event code")] = None,
    dead_only: Annotated[
        bool, typer.Option("--dead", help="every dead letter (with --unit: of one unit)")
    ] = False,
    unit: Annotated[str | None, typer.Option(help="with --dead: only this unit's code")] = None,
) -> None:
    """Queue deliveries to be sent again now; a running worker picks them up."""
    with session_scope() as session:
        queued = replay(
            session,
            actor=OPERATOR,
            outbox_ids=ids or None,
            event_code=event,
            dead=dead_only,
            unit_code=unit,
        )
    if not queued:
        console.print("nothing to replay (the rows are pending already)", highlight=False)
        return
    console.print(
        f"queued {len(queued)} deliveries again: {', '.join(map(str, queued))}", highlight=False
    )
