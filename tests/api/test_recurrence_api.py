"""Recurrence clusters over HTTP: detection on demand, who lists and reads which tasks, accept
and close by JSON and by form, each refusal a 4xx sentence with nothing half-written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyproj
import pytest

from gis.clock import CHINA_TZ
from tests.events.workflow_city import SPOT, file
from tests.factories import bearer

GEOD = pyproj.Geod(ellps="GRS80")
GOOD_REPORT = "更换了破损的单元门禁，加装两处监控并由物业每晚巡查，源头已消除"


def refusal(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


@pytest.fixture
def cluster(client, city) -> dict[str, Any]:
    """Three events 0, 60 and 95 m north of SPOT in the last days, detected by the centre."""
    now = datetime.now(CHINA_TZ)
    for days, north in ((3, 0), (2, 60), (1, 95)):
        lon, lat, _ = GEOD.fwd(SPOT[0], SPOT[1], 0, north)
        file(city, lon=lon, lat=lat, now=now - timedelta(days=days))
    run = client.post("/api/recurrences/detect", headers=bearer(city["command_staff"]))
    assert run.status_code == 200, run.text
    assert len(run.json()["created"]) == 1
    (cluster_id,) = run.json()["created"]
    return {"id": cluster_id}


def test_detect_again_changes_nothing_and_leaders_see_counts_not_events(client, city, cluster):
    again = client.post(
        "/api/recurrences/detect", headers=bearer(city["admin"]), json={"district": "420502"}
    )
    assert again.json()["created"] == [] and again.json()["events_linked"] == 0
    listed = client.get("/api/recurrences", headers=bearer(city["leader"])).json()
    assert [(c["id"], c["event_count"], c["lead_unit_name"]) for c in listed] == [
        (cluster["id"], 3, city["police_w"].name)
    ]
    detail = client.get(f"/api/recurrences/{cluster['id']}", headers=bearer(city["leader"]))
    assert detail.status_code == 200
    assert detail.json()["events"] == []
    assert "楼道里有可疑人员" not in detail.text and "worker1" not in detail.text
    unit_view = client.get(f"/api/recurrences/{cluster['id']}", headers=bearer(city["disp_w"]))
    body = unit_view.json()
    assert len(body["events"]) == 3 and len(body["geojson"]["features"]) == 4
    assert body["timeline"][-1]["what"] == "识别为重复发生，生成源头治理任务"


def test_a_grid_worker_may_not_list_and_a_dispatcher_may_not_run_detection(client, city, cluster):
    worker = client.get("/api/recurrences", headers=bearer(city["worker"]))
    assert worker.status_code == 403
    run = client.post("/api/recurrences/detect", headers=bearer(city["disp_w"]))
    assert run.status_code == 403
    assert client.get("/api/recurrences", headers=bearer(city["disp_e"])).json() == []


def test_detection_for_another_district_or_a_bad_code_is_refused(client, city):
    command = bearer(city["command_staff"])
    other = client.post("/api/recurrences/detect", headers=command, json={"district": "420503"})
    assert other.status_code == 403 and "420503" in refusal(other)
    bad = client.post("/api/recurrences/detect", headers=command, data={"district": "42"})
    assert bad.status_code == 422 and "6位区县代码" in refusal(bad)
    unknown = client.post("/api/recurrences/detect", headers=command, json={"dstrict": "420502"})
    assert unknown.status_code == 422


def test_accept_by_json_and_close_by_form_then_closing_twice_is_409(client, city, cluster):
    unit, url = bearer(city["disp_w"]), f"/api/recurrences/{cluster['id']}"
    early = client.post(f"{url}/close", headers=unit, json={"report": GOOD_REPORT})
    assert early.status_code == 409 and "请先接收" in refusal(early)
    accepted = client.post(f"{url}/accept", headers=unit, json={})
    assert accepted.status_code == 200 and accepted.json()["task_status"] == "accepted"
    closed = client.post(f"{url}/close", headers=unit, data={"report": GOOD_REPORT})
    assert closed.status_code == 200, closed.text
    assert closed.json()["task_status_label"] == "已办结"
    again = client.post(f"{url}/close", headers=unit, json={"report": GOOD_REPORT})
    assert again.status_code == 409 and "已办结" in refusal(again)


@pytest.mark.parametrize("body", [{"report": ""}, {"report": "已整改"}, {}, {"report": 5}])
def test_a_missing_or_short_report_is_422_and_the_task_stays_accepted(client, city, cluster, body):
    unit, url = bearer(city["disp_w"]), f"/api/recurrences/{cluster['id']}"
    client.post(f"{url}/accept", headers=unit)
    refused = client.post(f"{url}/close", headers=unit, json=body)
    assert refused.status_code == 422
    assert client.get(url, headers=unit).json()["task_status"] == "accepted"


def test_a_short_report_says_what_is_missing(client, city, cluster):
    unit, url = bearer(city["disp_w"]), f"/api/recurrences/{cluster['id']}"
    client.post(f"{url}/accept", headers=unit)
    refused = client.post(f"{url}/close", headers=unit, data={"report": "已整改"})
    assert "办结报告至少15个字" in refused.text


def test_another_unit_gets_404_and_the_command_centre_403_on_the_units_task(client, city, cluster):
    url = f"/api/recurrences/{cluster['id']}"
    other = client.post(f"{url}/accept", headers=bearer(city["disp_e"]))
    assert other.status_code == 404 and "不存在或不在您的范围内" in refusal(other)
    assert client.get(url, headers=bearer(city["disp_e"])).status_code == 404
    centre = client.post(f"{url}/accept", headers=bearer(city["command_staff"]))
    assert centre.status_code == 403 and "只有牵头单位" in refusal(centre)
    assert client.get(url, headers=bearer(city["disp_w"])).json()["task_status"] == "open"


def test_bad_filters_and_ids_are_4xx(client, city):
    command = bearer(city["command_staff"])
    assert client.get("/api/recurrences?status=done", headers=command).status_code == 422
    assert client.get("/api/recurrences?limit=100000", headers=command).status_code == 422
    assert client.get("/api/recurrences/99999", headers=command).status_code == 404
    assert client.get("/api/recurrences/0", headers=command).status_code == 422
