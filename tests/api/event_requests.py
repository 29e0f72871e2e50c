"""Requests of the events API that several test modules send and check."""

from __future__ import annotations

from typing import Any

from tests.events.workflow_city import SPOT


def report(**fields: Any) -> dict[str, Any]:
    """A valid JSON report at SPOT (grid EAST), overridden by `fields`."""
    return {
        "category": "0101",
        "lon": SPOT[0],
        "lat": SPOT[1],
        "description": "楼道里有可疑人员",
        "address": "西陵一路1号",
    } | fields


def assert_error(response, status: int, *words: str) -> dict[str, Any]:
    """The response is the one error shape with `status`, and its sentence has `words`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "field"}
    for word in words:
        assert word in error["message"]
    return error
