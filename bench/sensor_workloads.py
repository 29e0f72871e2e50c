"""Sensor ingest (物联感知): readings/s through the service and over HTTP, against a bare insert
of the same reading rows in the same run.

The demo city's devices post normal values (no alarm is raised: the steady state a city's
sensors are in nearly all the time), one reading per post as a device sends them, and in
batches of 50. "Through the service" is what the route does after the HTTP layer: check the
signature (decrypt the secret, HMAC, remember the signature), parse, apply the rule, store
the rows, commit. The baseline inserts the same rows and commits, per post.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from bench.common import Figure, bench_database
from bench.http_workloads import drive, seed_demo, serve

SINGLE_POSTS = 1000
BATCH_POSTS = 100
BATCH = 50
WORKLOAD = "sensor ingest (demo city, 48 devices)"


def _devices(engine: Engine) -> list[tuple[str, int, str, str]]:
    """(code, id, district, secret) of every demo device."""
    from events.device_models import Device
    from events.devices import device_secret

    with Session(engine) as session:
        rows = session.execute(
            select(Device.code, Device.id, Device.district_code).order_by(Device.code)
        ).all()
        return [(c, i, d, device_secret(session, code=c)) for c, i, d in rows]


def _body(size: int, n: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    readings = [{"value": round(0.001 * ((n + k) % 7), 3), "measured_at": now} for k in range(size)]
    return json.dumps({"readings": readings}).encode()


def _signed(secret: str, body: bytes, n: int) -> tuple[str, str]:
    from events.devices import sign

    # The post number in the timestamp keeps every signature new within one second.
    stamp = str(int(time.time()) - (n % 120))
    return stamp, sign(secret, stamp, body)


def _service_rate(engine: Engine, devices: list[Any], posts: int, size: int) -> float:
    from events import devices as registry
    from events import sensors

    readings = took = 0.0
    for n in range(posts):
        code, _, _, secret = devices[n % len(devices)]
        body = _body(size, n)
        stamp, signature = _signed(secret, body, n)
        request = registry.SignedRequest(timestamp=stamp, signature=signature, body=body)
        started = time.perf_counter()
        with Session(engine) as session:
            device = registry.verify_request(session, code=code, request=request)
            result = sensors.ingest_readings(
                session, device=device, readings=sensors.parse_readings(body)
            )
            session.commit()
        took += time.perf_counter() - started
        readings += result.accepted
    return readings / took


def _bare_rate(engine: Engine, devices: list[Any], posts: int, size: int) -> float:
    from events.device_models import Reading

    readings = took = 0.0
    for n in range(posts):
        _, device_id, district, _ = devices[n % len(devices)]
        now = datetime.now(UTC)
        rows = [
            {
                "district_code": district,
                "device_id": device_id,
                "value": 0.001 * ((n + k) % 7),
                "measured_at": now,
                "received_at": now,
                "event_id": None,
            }
            for k in range(size)
        ]
        started = time.perf_counter()
        with Session(engine) as session:
            session.execute(insert(Reading), rows)
            session.commit()
        took += time.perf_counter() - started
        readings += size
    return readings / took


def _http_rate(base: str, devices: list[Any], posts: int, size: int, clients: int) -> float:
    def job(n: int) -> Any:
        code, _, _, secret = devices[n % len(devices)]
        body = _body(size, n)

        def send(client: httpx.Client) -> httpx.Response:
            stamp, signature = _signed(secret, body, n + 10_000 * clients)
            return client.post(
                f"/api/devices/{code}/readings",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Timestamp": stamp,
                    "X-Signature": signature,
                },
            )

        return send

    run = drive(base, {}, [job(n) for n in range(posts)], clients=clients, expect=200)
    return run.rate * size


def ingest_figures(engine: Engine) -> list[Figure]:
    """Readings/s through the service and over HTTP, beside the bare insert of the rows."""
    devices = _devices(engine)
    figures = []
    for posts, size in ((SINGLE_POSTS, 1), (BATCH_POSTS, BATCH)):
        what = "1 reading a post" if size == 1 else f"{size} readings a post"
        bare = _bare_rate(engine, devices, posts, size)
        baseline = f"insert the same reading rows, committed per post ({what})"
        figures.append(
            Figure(
                WORKLOAD,
                f"through the service: signature, rule, rows ({what})",
                _service_rate(engine, devices, posts, size),
                "readings/s",
                baseline,
                bare,
            )
        )
        with serve(engine) as base:
            for clients in (1, 8):
                figures.append(
                    Figure(
                        WORKLOAD,
                        f"POST /api/devices/{{code}}/readings, {clients} client(s) ({what})",
                        _http_rate(base, devices, posts, size, clients),
                        "readings/s",
                        baseline,
                        bare,
                    )
                )
    return figures


def sensor_workload() -> list[Figure]:
    """At demo scale: sensor readings ingested through the service and over HTTP."""
    with bench_database("sensors") as engine:
        seed_demo(engine)
        return ingest_figures(engine)


__all__ = ["ingest_figures", "sensor_workload"]
