"""Every package's errors share a few kinds (gis/errors.py); the API answers each kind with one
status, in the app's error shape and in Open311's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.http import errors
from api.http.routers.open311 import Open311Route
from events import exceptions as event_errors
from gis import errors as domain
from gis.crs import CoordinateError
from gis.geometry import GeometryError
from grid import exceptions as grid_errors
from people import exceptions as people_errors
from people.integrations import InvalidKey

MESSAGE = "事件不存在。event 42 does not exist"

# Each error a service raises, and the status the API has always answered it with.
STATUSES: list[tuple[Exception, int]] = [
    (grid_errors.NotFound(MESSAGE), 404),
    (grid_errors.InvalidQuery(MESSAGE), 400),
    (grid_errors.UnsupportedFormat(MESSAGE), 400),
    (grid_errors.UnreadableFile(MESSAGE), 400),
    (grid_errors.GridError(MESSAGE), 400),
    (grid_errors.InvalidHouse(MESSAGE), 422),  # a floor above the building's top
    (grid_errors.HouseTaken(MESSAGE), 409),  # the unit and room already in the building
    (CoordinateError(MESSAGE), 400),
    (GeometryError(MESSAGE, reason="self_intersection"), 400),
    (people_errors.NotFound(MESSAGE), 404),
    (people_errors.Forbidden(MESSAGE), 403),
    (InvalidKey(MESSAGE), 403),
    (people_errors.Duplicate(MESSAGE), 409),
    (people_errors.InvalidRecord(MESSAGE), 422),
    (people_errors.PeopleError(MESSAGE), 400),
    (event_errors.NotFound(MESSAGE), 404),
    (event_errors.Forbidden(MESSAGE), 403),
    (event_errors.Conflict(MESSAGE), 409),
    (event_errors.ActionNotAllowed(MESSAGE, allowed=["sign"]), 409),
    (event_errors.InvalidReport(MESSAGE), 422),
    (event_errors.EventError(MESSAGE), 400),
]
IDS = [type(error).__module__ + "." + type(error).__name__ for error, _ in STATUSES]


def _raising(error: Exception) -> Callable[[], None]:
    def route() -> None:
        raise error

    return route


def _client(error: Exception, *, open311: bool = False) -> TestClient:
    app = FastAPI()
    errors.install(app)
    router = APIRouter(route_class=Open311Route) if open311 else APIRouter()
    router.add_api_route("/refused.json", _raising(error), methods=["GET"])
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("error", "status"), STATUSES, ids=IDS)
def test_each_domain_error_is_answered_with_its_status_and_sentence(error, status):
    response = _client(error).get("/refused.json")
    assert response.status_code == status
    body = response.json()["error"]
    chinese, english = errors.TITLES[status][1:]
    assert body["message"] == f"{chinese} {english}: {MESSAGE}"
    assert body["field"] is None
    if isinstance(error, event_errors.ActionNotAllowed):
        assert body["allowed"] == ["sign"]
    else:
        assert set(body) == {"code", "message", "field"}


@pytest.mark.parametrize(("error", "status"), STATUSES, ids=IDS)
def test_open311_answers_invalid_fields_as_400_and_the_rest_as_the_app_does(error, status):
    response = _client(error, open311=True).get("/refused.json")
    assert response.status_code == (400 if status == 422 else status)
    assert MESSAGE in response.text


def test_the_kinds_are_shared_and_an_error_of_no_kind_is_not_answered_as_one():
    assert issubclass(people_errors.Duplicate, domain.Conflict)
    assert issubclass(event_errors.InvalidReport, domain.Invalid)
    assert issubclass(grid_errors.NotFound, domain.NotFound)
    assert not issubclass(grid_errors.InvalidQuery, domain.Invalid)  # 400, not 422
    response = _client(RuntimeError("boom")).get("/refused.json")
    assert response.status_code == 500
    assert "boom" not in response.text
