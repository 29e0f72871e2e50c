"""Open311 GeoReport v2: an outside app files events and follows them, in JSON and in XML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from events.actions import act
from events.models import Event, EventSource, EventStatus
from events.open311 import submit_request
from events.schemas import ActionInput, Submission
from gis.clock import CHINA_TZ
from people.integrations import issue_key, revoke_key
from tests.events.dispatch_city import file
from tests.events.workflow_city import EAST
from tests.factories import DISTRICT, add_building, add_staff, bearer, square

BASE = "/open311/v2"
# GeoReport v2 `GET requests` fields, every one present in every request.
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}


@pytest.fixture
def app_key(dispatch_city):
    """A key for an Open311 app filing in district 420502 (the city fixture's district)."""
    return issue_key(dispatch_city["session"], name="city-app", area_code=DISTRICT + "000000").key


def form(key, **fields):
    """A GeoReport v2 POST body: a suspicious person (0101) in the eastern grid."""
    return {
        "api_key": key,
        "service_code": "0101",
        "lat": "30.705",
        "long": "111.292",
        "description": "小区门口有人反复踩点",
        "address_string": "西陵区测试社区3号楼",
        "email": "resident@example.com",
        "phone": "13800001234",
        "first_name": "三",
        "last_name": "张",
        "device_id": "phone-1",
        "account_id": "acct-42",
    } | fields


def post(client, key, fmt="json", headers=None, **fields):
    return client.post(f"{BASE}/requests.{fmt}", data=form(key, **fields), headers=headers or {})


def errors_of(response):
    """(code, description) of an Open311 error answer, in either format."""
    if response.headers["content-type"].startswith("text/xml"):
        root = ET.fromstring(response.content)
        assert root.tag == "errors"
        error = root.find("error")
        assert error is not None
        return int(error.findtext("code") or 0), error.findtext("description") or ""
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == {"code", "description"}
    return body[0]["code"], body[0]["description"]


def aware(text):
    """A time the spec way: ISO 8601 with a zone."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def test_round_trip_a_request_filed_by_form_reads_back_in_json_and_xml(
    client, dispatch_city, app_key
):
    filed = post(client, app_key)
    assert filed.status_code == 201
    assert filed.headers["content-type"] == "application/json; charset=utf-8"
    [receipt] = filed.json()
    assert set(receipt) == {"service_request_id", "token", "service_notice", "account_id"}
    assert receipt["account_id"] == "acct-42"
    request_id = receipt["service_request_id"]

    one = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": app_key})
    assert one.status_code == 200
    [request] = one.json()
    assert set(request) == REQUEST_FIELDS
    assert request["service_request_id"] == request_id
    assert request["status"] == "open"
    assert request["service_code"] == "0101"
    assert request["service_name"] == "可疑人员"
    assert request["description"] == "小区门口有人反复踩点"
    assert request["address"] == "西陵区测试社区3号楼"
    # Awaiting the on-site check (核实): the district command centre answers for it.
    assert request["agency_responsible"] == dispatch_city["command"].name
    assert "核实" in request["service_notice"]
    assert request["lat"] == pytest.approx(30.705) and request["long"] == pytest.approx(111.292)
    requested = aware(request["requested_datetime"])
    assert aware(request["updated_datetime"]) >= requested
    assert aware(request["expected_datetime"]) > requested
    assert request["status_notes"]
    # The reporter's contact never comes back.
    text = one.text
    assert "13800001234" not in text and "resident@example.com" not in text and "张" not in text

    xml = client.get(f"{BASE}/requests/{request_id}.xml", params={"api_key": app_key})
    assert xml.status_code == 200
    assert xml.headers["content-type"] == "text/xml; charset=utf-8"
    assert xml.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(xml.content)
    assert root.tag == "service_requests"
    [element] = list(root)
    assert element.tag == "request"
    assert {child.tag for child in element} == REQUEST_FIELDS
    for field in ("service_request_id", "status", "service_code", "service_name", "description"):
        assert element.findtext(field) == request[field]
    assert element.findtext("requested_datetime") == request["requested_datetime"]
    aware(element.findtext("expected_datetime"))
    assert float(element.findtext("lat") or 0) == pytest.approx(30.705)

    # Filed as an Open311 event that a grid worker checks on site before dispatch.
    event = dispatch_city["session"].scalar(select(Event).where(Event.code == request_id))
    assert event.source is EventSource.OPEN311
    assert event.status is EventStatus.REPORTED
    assert event.contact_masked == "138****1234"


def test_posting_in_xml_answers_in_xml(client, dispatch_city, app_key):
    filed = post(client, app_key, fmt="xml")
    assert filed.status_code == 201
    root = ET.fromstring(filed.content)
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text.startswith(DISTRICT)
    assert root.find("request/token").text


def test_services_list_and_definition_in_both_formats(client, dispatch_city):
    listed = client.get(f"{BASE}/services.json")
    assert listed.status_code == 200
    services = {s["service_code"]: s for s in listed.json()}
    assert set(services["0201"]) == SERVICE_FIELDS
    assert services["0201"]["service_name"] == "楼道堆放杂物"
    assert services["0201"]["group"] == "消防隐患"
    assert services["0201"]["type"] == "realtime"
    assert services["0201"]["metadata"] is True

    root = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == sorted(services)
    assert {child.tag for child in root.find("service")} == SERVICE_FIELDS

    definition = client.get(f"{BASE}/services/0201.json").json()
    assert definition["service_code"] == "0201"
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert all(set(a) == ATTRIBUTE_FIELDS for a in attributes.values())
    assert attributes["photo"]["required"] is True  # 楼道堆放杂物 must show the site
    assert attributes["occurred_at"]["datatype"] == "datetime"
    assert [a["order"] for a in definition["attributes"]] == [1, 2, 3]

    xml = ET.fromstring(client.get(f"{BASE}/services/0101.xml").content)
    assert xml.tag == "service_definition"
    assert xml.findtext("service_code") == "0101"
    photo = next(a for a in xml.findall("attributes/attribute") if a.findtext("code") == "photo")
    assert photo.findtext("required") == "false"
    assert photo.findtext("variable") == "true"


def test_unknown_service_definition_is_404_in_open311_shape(client, dispatch_city):
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}/services/9999.{fmt}")
        assert response.status_code == 404
        code, description = errors_of(response)
        assert code == 404 and "services.json" in description


def test_discovery_names_the_endpoint_formats_and_jurisdiction(client, dispatch_city):
    body = client.get(f"{BASE}/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert body["jurisdictions"] == [DISTRICT]
    aware(body["changeset"])
    root = ET.fromstring(client.get(f"{BASE}/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "application/json",
        "text/xml",
    ]


def test_missing_wrong_and_revoked_keys_are_refused_in_open311_shape(
    client, dispatch_city, app_key
):
    missing = client.get(f"{BASE}/requests.json")
    assert missing.status_code == 401
    assert errors_of(missing)[0] == 401 and "api_key" in errors_of(missing)[1]

    wrong = client.get(f"{BASE}/requests.xml", params={"api_key": "not-a-key"})
    assert wrong.status_code == 403
    assert wrong.headers["content-type"] == "text/xml; charset=utf-8"
    assert errors_of(wrong)[0] == 403

    revoke_key(dispatch_city["session"], name="city-app")
    revoked = post(client, app_key)
    assert revoked.status_code == 403
    assert "revoked" in errors_of(revoked)[1]


@pytest.mark.parametrize(
    ("fields", "hint"),
    [
        ({"service_code": ""}, "service_code is missing"),
        ({"service_code": "9999"}, "service_code 9999 does not exist"),
        ({"lat": "130.2"}, "did you swap lat and long"),
        ({"lat": "north"}, "lat"),
        ({"lat": "", "long": ""}, "send lat and long"),
        ({"lat": "", "long": "", "address_string": "夷陵路8号"}, "does not geocode"),
        ({"service_code": "0201"}, "needs a photo"),
        ({"attribute[colour]": "red"}, "has no attribute colour"),
        ({"description": ""}, "description is missing"),
        ({"lat": "31.5"}, "outside area"),
        ({"lat": "nan"}, "outside -90..90"),
        ({"attribute[occurred_at]": "0001-01-01T00:00:00+14:00"}, "not a usable time"),
        ({"attribute[occurred_at]": "yesterday"}, "not an ISO 8601 time"),
    ],
)
def test_bad_submissions_get_400_with_a_sentence_and_file_nothing(
    client, dispatch_city, app_key, fields, hint
):
    response = post(client, app_key, **fields)
    assert response.status_code == 400, response.text
    code, description = errors_of(response)
    assert code == 400
    assert hint in description
    assert dispatch_city["session"].scalar(select(func.count()).select_from(Event)) == 0


def test_a_photo_attribute_and_a_building_attribute_are_taken(client, dispatch_city, app_key):
    filed = post(
        client,
        app_key,
        service_code="0201",
        **{"attribute[photo]": "https://img.example.com/1.jpg"},
        **{"attribute[occurred_at]": "2026-11-23T08:00:00+08:00"},
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["service_request_id"]
    [request] = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": app_key}).json()
    assert request["media_url"] == "https://img.example.com/1.jpg"
    event = dispatch_city["session"].scalar(select(Event).where(Event.code == request_id))
    assert event.occurred_at == datetime(2026, 11, 23, 8, 0, tzinfo=CHINA_TZ)


def test_the_same_idempotency_key_or_a_quick_repeat_files_once(client, dispatch_city, app_key):
    first = post(client, app_key, headers={"Idempotency-Key": "abc-1"})
    again = post(client, app_key, headers={"Idempotency-Key": "abc-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert first.json()[0]["token"] == again.json()[0]["token"]

    # Without the header: the same device sending the same text moments later is one request.
    text = "路灯不亮已经三天了"
    one = post(client, app_key, description=text)
    two = post(client, app_key, description=text)
    other = post(client, app_key, description=text, device_id="phone-2", account_id="acct-7")
    assert (one.status_code, two.status_code, other.status_code) == (201, 200, 201)
    assert one.json()[0]["service_request_id"] == two.json()[0]["service_request_id"]
    assert other.json()[0]["service_request_id"] != one.json()[0]["service_request_id"]
    assert dispatch_city["session"].scalar(select(func.count()).select_from(Event)) == 3


def test_a_token_leads_to_its_request_for_its_own_key_only(client, dispatch_city, app_key):
    [receipt] = post(client, app_key).json()
    found = client.get(f"{BASE}/tokens/{receipt['token']}.json", params={"api_key": app_key})
    assert found.json() == [
        {"service_request_id": receipt["service_request_id"], "token": receipt["token"]}
    ]
    xml = ET.fromstring(
        client.get(f"{BASE}/tokens/{receipt['token']}.xml", params={"api_key": app_key}).content
    )
    assert xml.findtext("request/service_request_id") == receipt["service_request_id"]

    other = issue_key(dispatch_city["session"], name="other-app", area_code=DISTRICT + "000000").key
    refused = client.get(f"{BASE}/tokens/{receipt['token']}.json", params={"api_key": other})
    assert refused.status_code == 404


def _submit(dispatch_city, key_name="city-app", when=None, **fields):
    from people.integrations import IntegrationRef
    from people.models import Integration

    row = dispatch_city["session"].scalar(select(Integration).where(Integration.name == key_name))
    ref = IntegrationRef(id=row.id, name=row.name, area_code=row.area_code, staff_id=row.staff_id)
    submission = Submission(
        service_code="0101", lat=30.705, long=111.292, description="有可疑人员", **fields
    )
    receipt, _ = submit_request(
        dispatch_city["session"], integration=ref, submission=submission, now=when
    )
    return receipt.service_request_id


def test_status_filter_and_the_90_day_window(client, dispatch_city, app_key):
    now = datetime.now(UTC)
    recent = _submit(dispatch_city, when=now - timedelta(days=1))
    voided = _submit(dispatch_city, when=now - timedelta(days=2))
    old = _submit(dispatch_city, when=now - timedelta(days=100))
    admin = add_staff(dispatch_city["session"], "admin1", "admin")
    act(
        dispatch_city["session"],
        actor=admin,
        code=voided,
        action="void",
        data=ActionInput(reason="重复上报"),
    )

    def ids(**params):
        response = client.get(f"{BASE}/requests.json", params={"api_key": app_key} | params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [recent, voided]  # newest first; the 100-day-old one is outside the window
    assert ids(status="open") == [recent]
    assert ids(status="closed") == [voided]
    assert ids(status="open,closed") == [recent, voided]
    window = {
        "start_date": (now - timedelta(days=120)).isoformat(),
        "end_date": (now - timedelta(days=50)).isoformat(),
    }
    assert ids(**window) == [old]
    assert ids(service_request_id=f"{old},{recent}") == [recent, old]  # other filters ignored
    assert ids(service_code="0201") == []

    too_long = client.get(
        f"{BASE}/requests.json",
        params={
            "api_key": app_key,
            "start_date": (now - timedelta(days=200)).isoformat(),
            "end_date": now.isoformat(),
        },
    )
    assert too_long.status_code == 400
    assert "90 days" in errors_of(too_long)[1]
    for odd in ({"end_date": "0001-01-02T00:00:00"}, {"start_date": "2026-01-01T00:00:00+16:00"}):
        refused = client.get(f"{BASE}/requests.json", params={"api_key": app_key} | odd)
        assert refused.status_code == 400, refused.text
    bad_status = client.get(f"{BASE}/requests.json", params={"api_key": app_key, "status": "x"})
    assert bad_status.status_code == 400


def test_page_and_page_size_extension_with_the_total_in_a_header(client, dispatch_city, app_key):
    now = datetime.now(UTC)
    codes = [_submit(dispatch_city, when=now - timedelta(hours=h)) for h in (1, 2, 3)]
    response = client.get(
        f"{BASE}/requests.json", params={"api_key": app_key, "page": 2, "page_size": 2}
    )
    assert response.headers["X-Total-Count"] == "3"
    assert [r["service_request_id"] for r in response.json()] == codes[2:]
    too_big = client.get(f"{BASE}/requests.json", params={"api_key": app_key, "page_size": 5000})
    assert too_big.status_code == 400


def test_extensions_add_the_detailed_status_and_the_step_history(client, dispatch_city, app_key):
    request_id = _submit(dispatch_city, media_url="https://img.example.com/a.jpg")
    worker = dispatch_city["worker"]  # the grid worker of the event's grid checks it on site
    act(dispatch_city["session"], actor=worker, code=request_id, action="check", data=ActionInput())
    [waiting] = client.get(
        f"{BASE}/requests/{request_id}.json", params={"api_key": app_key, "extensions": "true"}
    ).json()
    assert (waiting["detailed_status"], waiting["detailed_status_label"]) == ("pending", "待立案")
    assert waiting["agency_responsible"] == dispatch_city["command"].name  # the centre decides
    operator = dispatch_city["operator"]  # 立案 and 派遣 by the command centre
    for action in ("register", "dispatch"):
        act(
            dispatch_city["session"],
            actor=operator,
            code=request_id,
            action=action,
            data=ActionInput(),
        )

    plain = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": app_key})
    assert set(plain.json()[0]) == REQUEST_FIELDS

    [request] = client.get(
        f"{BASE}/requests/{request_id}.json", params={"api_key": app_key, "extensions": "true"}
    ).json()
    assert request["detailed_status"] == "dispatched"
    assert request["detailed_status_label"] == "已派遣"
    assert (
        request["agency_responsible"] == dispatch_city["police_w"].name
    )  # now with the police station
    assert [n["type"] for n in request["notes"]] == ["report", "check", "register", "dispatch"]
    assert all(aware(n["datetime"]) for n in request["notes"])
    assert request["media_url"] == "https://img.example.com/a.jpg"

    xml = ET.fromstring(
        client.get(
            f"{BASE}/requests/{request_id}.xml", params={"api_key": app_key, "extensions": "true"}
        ).content
    )
    assert [n.findtext("type") for n in xml.findall("request/notes/note")] == [
        "report",
        "check",
        "register",
        "dispatch",
    ]


def test_only_open311_requests_of_the_keys_area_are_visible(client, dispatch_city, app_key):
    own = _submit(dispatch_city)
    by_worker = file(dispatch_city)  # a grid worker's own report stays internal
    listed = client.get(f"{BASE}/requests.json", params={"api_key": app_key}).json()
    assert [r["service_request_id"] for r in listed] == [own]
    hidden = client.get(f"{BASE}/requests/{by_worker.code}.json", params={"api_key": app_key})
    assert hidden.status_code == 404
    assert errors_of(hidden)[0] == 404


def test_jurisdiction_id_is_checked(client, dispatch_city, app_key):
    assert client.get(f"{BASE}/services.json", params={"jurisdiction_id": DISTRICT}).is_success
    unknown = client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "999999"})
    assert unknown.status_code == 404
    assert DISTRICT in errors_of(unknown)[1]
    filed = post(client, app_key, jurisdiction_id=DISTRICT)
    assert filed.status_code == 201
    elsewhere = post(client, app_key, jurisdiction_id="420503")
    assert elsewhere.status_code == 404
    listed = client.get(
        f"{BASE}/requests.json", params={"api_key": app_key, "jurisdiction_id": DISTRICT}
    )
    assert len(listed.json()) == 1


def test_a_format_other_than_json_or_xml_is_400(client, dispatch_city):
    response = client.get(f"{BASE}/services.csv")
    assert response.status_code == 400
    assert "'json' or 'xml'" in errors_of(response)[1]


def test_admins_issue_list_and_revoke_keys_over_the_api(client, dispatch_city):
    admin = add_staff(dispatch_city["session"], "admin1", "admin")
    command = add_staff(dispatch_city["session"], "cc1", "command", area_code=DISTRICT + "000000")
    body = {"name": "hotline-bridge", "area_code": DISTRICT + "000000"}
    assert client.post("/api/integrations", json=body, headers=bearer(command)).status_code == 403
    issued = client.post("/api/integrations", json=body, headers=bearer(admin))
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert issued.json()["key_prefix"] == key[:12]

    listed = client.get("/api/integrations", headers=bearer(admin))
    assert [i["name"] for i in listed.json()] == ["hotline-bridge"]
    assert key not in listed.text
    assert client.get(f"{BASE}/requests.json", params={"api_key": key}).status_code == 200

    revoked = client.post("/api/integrations/hotline-bridge/revoke", headers=bearer(admin))
    assert revoked.json()["active"] is False
    assert client.get(f"{BASE}/requests.json", params={"api_key": key}).status_code == 403
    again = client.post("/api/integrations", json=body, headers=bearer(admin))
    assert again.status_code == 409


def test_open311_json_is_utf8_chinese_not_escaped(client, dispatch_city):
    response = client.get(f"{BASE}/services.json")
    assert "楼道堆放杂物".encode() in response.content
    assert json.loads(response.content.decode("utf-8"))


def test_a_nul_character_is_400_not_a_server_error(client, dispatch_city, app_key):
    response = post(client, app_key, description="坏\x00了")
    assert response.status_code == 400
    assert "NUL" in errors_of(response)[1]
    token = client.get(f"{BASE}/tokens/a%00b.json", params={"api_key": app_key})
    assert token.status_code == 400


def test_a_request_near_a_building_reads_back_in_json_xml_and_by_id(client, dispatch_city, app_key):
    """The building's code comes back as address_id; reading it never fails (it answered 500)."""
    add_building(dispatch_city["session"], "B-OPEN311", square(111.2919, 30.7049, 0.0002), EAST)
    filed = post(client, app_key)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["service_request_id"]

    listed = client.get(f"{BASE}/requests.json", params={"api_key": app_key})
    assert listed.status_code == 200, listed.text
    assert [r["address_id"] for r in listed.json()] == ["B-OPEN311"]
    one = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": app_key})
    assert one.status_code == 200, one.text
    assert one.json()[0]["address_id"] == "B-OPEN311"
    xml = client.get(f"{BASE}/requests.xml", params={"api_key": app_key})
    assert xml.status_code == 200, xml.text
    assert ET.fromstring(xml.content).findtext("request/address_id") == "B-OPEN311"
    by_id_xml = client.get(f"{BASE}/requests/{request_id}.xml", params={"api_key": app_key})
    assert ET.fromstring(by_id_xml.content).findtext("request/address_id") == "B-OPEN311"
