"""The sensor routes (物联感知): registering devices (secret shown once), device types, and signed
readings: bad, stale and replayed signatures, body limits, alarms over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from events.device_models import Reading
from tests.events.workflow_city import SPOT
from tests.factories import bearer


def signed(secret: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    """Headers of a device post, signed as a device would (written out here, not imported)."""
    timestamp = str(stamp if stamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Timestamp": timestamp,
        "X-Signature": digest.hexdigest(),
    }


@pytest.fixture
def device(client, city) -> dict[str, Any]:
    answer = client.post(
        "/api/devices",
        headers=bearer(city["command_staff"]),
        json={
            "type": "gas",
            "name": "餐饮店燃气表间",
            "lon": SPOT[0],
            "lat": SPOT[1],
            "unit_id": city["fire"].id,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_registering_shows_the_secret_once_and_listing_never(client, city, device):
    assert device["code"] == "420502-GAS-0001" and len(device["secret"]) >= 40
    listed = client.get("/api/devices", headers=bearer(city["command_staff"]))
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["code"] == device["code"] and row["state"] == "normal"
    assert "secret" not in row and device["secret"] not in listed.text


def test_another_districts_command_centre_is_refused_and_sees_none(client, two_districts):
    city = two_districts
    body = {"type": "smoke", "name": "楼道", "lon": SPOT[0], "lat": SPOT[1], "unit_id": 1}
    refused = client.post("/api/devices", headers=bearer(city["wjg_command"]), json=body)
    assert refused.status_code == 403
    assert "outside your area" in refused.json()["error"]["message"]
    body["unit_id"] = city["fire"].id
    mine = client.post("/api/devices", headers=bearer(city["command_staff"]), json=body)
    assert mine.status_code == 201
    assert client.get("/api/devices", headers=bearer(city["wjg_command"])).json() == []


def test_unknown_fields_and_types_are_refused_by_name(client, city):
    headers = bearer(city["command_staff"])
    body = {"type": "smoke", "name": "楼道", "lon": SPOT[0], "lat": SPOT[1], "unit_id": 1}
    extra = client.post("/api/devices", headers=headers, json=body | {"secret": "mine"})
    assert extra.status_code == 422 and "secret" in extra.text
    kind = client.post("/api/devices", headers=headers, json=body | {"type": "radar"})
    assert kind.status_code == 422 and "radar" in kind.json()["error"]["message"]


def test_device_types_name_their_rule_and_category(client, city):
    answer = client.get("/api/device-types", headers=bearer(city["worker"]))
    types = {t["code"]: t for t in answer.json()}
    assert {"smoke", "gas", "water_level", "manhole", "elevator"} <= set(types)
    assert types["smoke"]["name"] == "烟感" and types["smoke"]["needs_check"] is True
    assert types["gas"]["category_name"] == "突发事件/燃气泄漏"


def test_signed_reading_raises_the_alarm_and_a_repeat_joins_it(client, city, device):
    body = b'{"value": 30}'
    first = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed(device["secret"], body),
    )
    assert first.status_code == 200, first.text
    raised = first.json()["raised"]
    assert raised and first.json()["state"] == "alarm"
    body = json.dumps({"readings": [{"value": 35}, {"value": 40}]}).encode()
    again = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed(device["secret"], body, int(time.time()) - 1),
    )
    assert again.json()["raised"] is None and again.json()["alarm_event"] == raised
    event = client.get(f"/api/events/{raised}", headers=bearer(city["command_staff"])).json()
    assert event["source"] == "sensor" and event["status"] == "dispatched"
    assert [s["action"] for s in event["steps"]].count("sensor-readings") == 1


def test_bad_signature_is_401_with_a_sentence_and_stores_nothing(client, city, device):
    session = city["session"]
    body = b'{"value": 30}'
    answer = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed("guessed-secret", body),
    )
    assert answer.status_code == 401
    assert "does not match" in answer.json()["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Reading)) == 0


def test_missing_signature_is_401_naming_the_headers(client, device):
    answer = client.post(f"/api/devices/{device['code']}/readings", json={"value": 1})
    assert answer.status_code == 401 and "X-Signature" in answer.json()["error"]["message"]


def test_stale_timestamp_is_401(client, device):
    body = b'{"value": 1}'
    stale = int(time.time()) - 301
    answer = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed(device["secret"], body, stale),
    )
    assert answer.status_code == 401 and "5 minutes" in answer.json()["error"]["message"]


def test_replayed_post_is_409(client, device):
    body = b'{"value": 1}'
    headers = signed(device["secret"], body)
    url = f"/api/devices/{device['code']}/readings"
    assert client.post(url, content=body, headers=headers).status_code == 200
    replay = client.post(url, content=body, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.json()["error"]["message"]


def test_unknown_device_is_404(client):
    body = b'{"value": 1}'
    answer = client.post(
        "/api/devices/420502-GAS-9999/readings", content=body, headers=signed("x", body)
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"value=1", "not JSON"),
        (b'{"value": 1, "unit": "ppm"}', "unit"),
        (("{" + '"readings": [' + ",".join(['{"value": 1}'] * 501) + "]}").encode(), "500"),
    ],
)
def test_malformed_signed_bodies_are_422(client, device, body, says):
    answer = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed(device["secret"], body),
    )
    assert answer.status_code == 422 and says in answer.json()["error"]["message"]


def test_body_over_the_readings_limit_is_413_before_it_is_read(client, device):
    body = b'{"readings": [' + b'{"value": 1},' * 30_000 + b'{"value": 1}]}'
    answer = client.post(
        f"/api/devices/{device['code']}/readings",
        content=body,
        headers=signed(device["secret"], body),
    )
    assert answer.status_code == 413 and "500 readings" in answer.json()["error"]["message"]


def test_unit_map_shows_the_devices_the_unit_owns_with_their_state(client, city, device):
    body = b'{"value": 30}'
    url = f"/api/devices/{device['code']}/readings"
    alarm = client.post(url, content=body, headers=signed(device["secret"], body)).json()["raised"]
    page = client.get("/maps/unit", headers=bearer(city["disp_fire"]))
    assert page.status_code == 200, page.text[:300]
    assert "gridgov.devices(" in page.text and device["code"] in page.text
    assert alarm in page.text and "30%LEL" in page.text
    assert "物联设备（1 台，报警 1 台）" in page.text.replace("空心圆为本单位的", "")
    assert device["secret"] not in page.text
    police = client.get("/maps/unit", headers=bearer(city["disp_w"]))
    assert device["code"] not in police.text
