"""`gridgov analyse …` (研判): the command group the recurrence and hot-spot commands join."""

from __future__ import annotations

import typer

analyse_app = typer.Typer(
    help="研判: recurrence detection (源头治理), Gi* hot spots and the weekly report.",
    no_args_is_help=True,
)
