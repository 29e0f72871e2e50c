"""Webhook subscriptions of shared data (共享订阅): a grant's changes are posted signed to the
department's receiver, the cursor moves only on a 2xx, a failure waits and keeps the cursor,
and an admin replays from any number. The receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from events.share_delivery import claim_of
from events.webhooks import post, verify_signature
from people.share_feed import next_batch, settle
from tests.api.people_city import as_
from tests.api.test_shared_api import _grant
from tests.events.test_outbox import Receiver, free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def subscribed(client, people_city, groups, receiver) -> dict:
    grant = _grant(client, people_city).json()
    response = client.post(
        f"/api/shared/grants/{grant['id']}/subscriptions",
        json={"url": receiver.url},
        headers=as_(people_city, "admin"),
    )
    assert response.status_code == 201, response.text
    return {"grant": grant, **response.json()}


def _cursor(session, subscription_id: int) -> tuple:
    return tuple(
        session.execute(
            text(
                "SELECT delivered_seq, attempts, next_attempt_at > now() FROM share_subscription "
                "WHERE id = :id"
            ),
            {"id": subscription_id},
        ).one()
    )


def test_changes_are_posted_signed_and_the_cursor_moves_on_success(
    people_city, groups, subscribed, receiver
):
    session = people_city["session"]
    batch = next_batch(session, subscription_id=subscribed["id"])
    assert batch is not None
    outcome = post(claim_of(batch), timeout_s=5)
    assert outcome.ok, outcome.error
    (request,) = receiver.requests
    headers = request.headers
    assert verify_signature(
        subscribed["secret"],
        headers["x-gridgov-timestamp"],
        request.body,
        headers["x-gridgov-signature"],
    )
    assert not verify_signature(
        "another-secret",
        headers["x-gridgov-timestamp"],
        request.body,
        headers["x-gridgov-signature"],
    )
    assert headers["x-gridgov-event"] == "shared:special_groups"
    body = json.loads(request.body)
    # Grid A only (the grant's area): 张三's group; 王五's (grid B) is never sent.
    assert {item["id"] for item in body["items"]} == {groups["alone"]}
    assert body["items"][-1]["record"]["name"] == "张三"
    assert settle(session, batch=batch, error=None, retry_in=timedelta(seconds=30))
    assert _cursor(session, subscribed["id"])[:2] == (body["next_after"], 0)
    # Nothing new: nothing to send.
    assert next_batch(session, subscription_id=subscribed["id"]) is None


def test_a_failed_delivery_keeps_the_cursor_and_waits(people_city, groups, subscribed, receiver):
    session = people_city["session"]
    receiver.statuses = [500]
    batch = next_batch(session, subscription_id=subscribed["id"])
    outcome = post(claim_of(batch), timeout_s=5)
    assert not outcome.ok and "HTTP 500" in outcome.error
    settle(session, batch=batch, error=outcome.error, retry_in=timedelta(seconds=30))
    assert _cursor(session, subscribed["id"]) == (0, 1, True)


def test_an_admin_replays_from_a_number_and_a_revoked_grant_sends_nothing(
    client, people_city, groups, subscribed
):
    session = people_city["session"]
    first = next_batch(session, subscription_id=subscribed["id"])
    settle(session, batch=first, error=None, retry_in=timedelta(seconds=30))
    admin = as_(people_city, "admin")
    replayed = client.post(
        f"/api/shared/subscriptions/{subscribed['id']}/replay", json={"after": 0}, headers=admin
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["delivered_seq"] == 0 and replayed.json()["secret"] is None
    again = next_batch(session, subscription_id=subscribed["id"])
    assert [c.seq for c in again.page.items] == [c.seq for c in first.page.items]
    client.post(f"/api/shared/grants/{subscribed['grant']['id']}/revoke", headers=admin)
    assert next_batch(session, subscription_id=subscribed["id"]) is None


def test_the_subscription_list_never_shows_the_secret(client, people_city, subscribed):
    listed = client.get("/api/shared/subscriptions", headers=as_(people_city, "admin")).json()
    assert [(s["id"], s["secret"]) for s in listed] == [(subscribed["id"], None)]
    assert len(subscribed["secret"]) >= 40


def test_a_webhook_url_must_be_http(client, people_city, groups):
    grant = _grant(client, people_city).json()
    response = client.post(
        f"/api/shared/grants/{grant['id']}/subscriptions",
        json={"url": "file:///etc/passwd"},
        headers=as_(people_city, "admin"),
    )
    assert response.status_code == 422
