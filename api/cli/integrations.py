"""`gridgov integration …`: API keys for outside systems (Open311 apps) — issue, list, revoke.

A thin layer over people.integrations, one transaction per command. Registered in api.cli
with `app.add_typer(integration_app, name="integration")`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import clear_errors, console
from gis.db import session_scope

integration_app = typer.Typer(
    help="API keys of integrations (接入系统), e.g. Open311 apps.", no_args_is_help=True
)


@integration_app.command("issue")
@clear_errors
def issue(
    name: Annotated[str, typer.Argument(help="a short name, e.g. city-app")],
    area: Annotated[
        str, typer.Option("--area", help="12-digit district/street/community code it files in")
    ],
) -> None:
    """Issue a key; it is printed this once and only its hash is kept."""
    from people.integrations import issue_key

    with session_scope() as session:
        issued = issue_key(session, name=name, area_code=area)
    console.print(
        f"integration {issued.name} may file in area {issued.area_code} "
        f"(service account {issued.service_account}).\n"
        "API key — shown only now, store it safely 仅显示一次:",
        highlight=False,
    )
    # On a line of its own and unstyled, so scripts can take the last line.
    typer.echo(issued.key)


@integration_app.command("list")
@clear_errors
def list_integrations() -> None:
    """Every integration, its key prefix, area and whether the key works."""
    from people.integrations import list_keys

    with session_scope() as session:
        rows = list_keys(session)
    table = Table("name", "key prefix", "area", "status", "last used", "created")
    for row in rows:
        table.add_row(
            row.name,
            row.key_prefix + "…",
            row.area_code,
            "active 有效" if row.active else f"revoked 已吊销 {row.revoked_at:%Y-%m-%d}",
            f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never",
            f"{row.created_at:%Y-%m-%d}",
        )
    console.print(table)


@integration_app.command("revoke")
@clear_errors
def revoke(name: Annotated[str, typer.Argument(help="the integration's name")]) -> None:
    """Stop a key from working at once; the requests it filed stay."""
    from people.integrations import revoke_key

    with session_scope() as session:
        revoked = revoke_key(session, name=name)
    console.print(f"the key of {revoked.name} ({revoked.key_prefix}…) no longer works")
