"""`gridgov sensors …`: the offline check and a simulator of the demo devices (物联感知).

A thin layer over events.sensors, one transaction per command (the simulator: one per post,
as the route has). Registered in api.cli with `app.add_typer(sensors_app, name="sensors")`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from gis.db import session_scope

sensors_app = typer.Typer(
    help="Sensors (物联感知): offline check, simulator.", no_args_is_help=True
)


def print_offline(report: object) -> None:
    """One line saying what an offline check did."""
    from events.device_schemas import OfflineReport

    assert isinstance(report, OfflineReport)
    console.print(
        f"{datetime.now():%H:%M:%S} checked {report.checked} devices: "
        f"{len(report.tasks)} went offline (设备离线 tasks {', '.join(report.tasks) or 'none'})",
        highlight=False,
    )


@sensors_app.command("offline")
@clear_errors
def offline() -> None:
    """File a 设备离线 task for each device silent longer than its heartbeat (also run by
    `gridgov escalate`)."""
    from events.sensors import mark_offline

    with session_scope() as session:
        report = mark_offline(session, now=datetime.now(UTC))
    print_offline(report)


@sensors_app.command("simulate")
@clear_errors
def simulate(
    url: Annotated[
        str | None,
        typer.Option(help="post over HTTP to this server, e.g. http://127.0.0.1:8000"),
    ] = None,
    alarms: Annotated[int, typer.Option(min=0, help="devices that break their threshold")] = 3,
    rounds: Annotated[int, typer.Option(min=1, help="how many rounds of posts")] = 1,
    every: Annotated[float, typer.Option(min=0, help="seconds between rounds")] = 60.0,
    seed: Annotated[int | None, typer.Option(help="draw the same devices each time")] = None,
) -> None:
    """Send signed readings from every registered device (the demo's), a few of them in alarm;
    through the service, or over HTTP with --url."""
    import httpx

    from demo.devices import simulated_posts
    from events import devices, sensors

    for n in range(rounds):
        now = datetime.now(UTC)
        with session_scope() as session:
            posts = simulated_posts(session, now=now, alarms=alarms, seed=seed)
            secrets = {p.code: devices.device_secret(session, code=p.code) for p in posts}
        raised, recovered, refused = [], [], []
        for post in posts:
            stamp = str(int(time.time()))
            signature = devices.sign(secrets[post.code], stamp, post.body)
            if url:
                answer = httpx.post(
                    f"{url.rstrip('/')}/api/devices/{post.code}/readings",
                    content=post.body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Timestamp": stamp,
                        "X-Signature": signature,
                    },
                    timeout=30,
                )
                if answer.status_code != 200:
                    refused.append(f"{post.code}: {answer.status_code} {answer.text[:200]}")
                    continue
                result = answer.json()
            else:
                signed = devices.SignedRequest(timestamp=stamp, signature=signature, body=post.body)
                with session_scope() as session:
                    device = devices.verify_request(session, code=post.code, request=signed)
                    readings = sensors.parse_readings(post.body)
                    result = sensors.ingest_readings(
                        session, device=device, readings=readings
                    ).model_dump()
            if result["raised"]:
                raised.append(f"{post.code} → {result['raised']}")
            if result["recovered"]:
                recovered.append(f"{post.code} → {result['recovered']}")
        console.print(
            f"round {n + 1}: {len(posts)} devices posted; alarms raised 报警: "
            f"{', '.join(raised) or 'none'}; recovered 恢复: {', '.join(recovered) or 'none'}",
            highlight=False,
        )
        for line in refused:
            console.print(f"[red]refused[/red] {line}", highlight=False)
        if refused:
            raise typer.Exit(1)
        if n + 1 < rounds:
            time.sleep(every)
