"""/api/v1/notifications against a real database and real local receivers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from picket.api.app import create_app
from picket.collector.notify.worker import NotificationWorker
from picket.db.accounts import create_api_key, create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import Event
from picket.db.models_notify import NotificationChannel
from picket.db.monitors import create_monitor
from picket.settings import Settings
from tests.collector.notify import receivers
from tests.collector.notify.receivers import Receiver

SECRET_KEY = "api-test-secret-key"
WEBHOOK_SECRET = "whsec-7f3a9c2e-api"
TELEGRAM_TOKEN = "7000001:AAF-telegram-api-secret"
SLACK_PATH = "/services/T01/B02/slack-api-secret"
SMTP_PASSWORD = "smtp-api-secret-pw"
PAGERDUTY_KEY = "PDKEY0123456789abcdef0123456789a"
OPSGENIE_KEY = "opsgenie-api-secret-key"
NTFY_TOKEN = "tk_ntfyapisecret"
SECRETS = (
    WEBHOOK_SECRET,
    TELEGRAM_TOKEN,
    "slack-api-secret",
    SMTP_PASSWORD,
    PAGERDUTY_KEY,
    OPSGENIE_KEY,
    NTFY_TOKEN,
)


@dataclass
class NotifyApi:
    client: TestClient
    database_url: str
    organization_id: str
    monitor_id: str
    read_only_key: str
    other_org_key: str


@pytest.fixture
def notify_api(database_url: str) -> Iterator[NotifyApi]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "Acme")
        monitor = create_monitor(session, org.id, name="Shop", type="http", url="https://x.io")
        _, full = create_api_key(session, org.id, "full", ["full"])
        _, read_only = create_api_key(session, org.id, "ro", ["read_only"])
        other = create_organization(session, "Other")
        _, other_key = create_api_key(session, other.id, "other", ["full"])
        ids = (org.id, monitor.id)
    engine.dispose()
    settings = Settings(
        database_url=database_url, allow_private_targets=True, secret_key=SECRET_KEY
    )
    with TestClient(
        create_app(settings),
        base_url="http://testserver/api/v1",
        headers={"Authorization": f"Bearer {full}"},
    ) as client:
        yield NotifyApi(client, database_url, ids[0], ids[1], read_only, other_key)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(receivers.webhook(WEBHOOK_SECRET)).start()
    yield made
    made.stop()


def _echo_404(request: receivers.Received) -> receivers.Answer:
    # Some services echo the request path in their error, and the path may hold a token.
    return 404, {"description": f"Not Found: {request.path}"}


def _channel_bodies(url: str) -> list[dict]:
    return [
        {
            "name": "hook",
            "type": "webhook",
            "config": {"url": f"{url}/h", "secret": WEBHOOK_SECRET},
        },
        {
            "name": "tg",
            "type": "telegram",
            "config": {"bot_token": TELEGRAM_TOKEN, "chat_id": "42", "api_base_url": url},
        },
        {"name": "slack", "type": "slack", "config": {"webhook_url": f"{url}{SLACK_PATH}"}},
        {
            "name": "mail",
            "type": "email",
            "config": {
                "host": "127.0.0.1",
                "port": 2525,
                "username": "u",
                "password": SMTP_PASSWORD,
                "from_address": "p@example.com",
                "to_addresses": ["o@example.com"],
            },
        },
        {
            "name": "pd",
            "type": "pagerduty",
            "config": {"routing_key": PAGERDUTY_KEY, "api_base_url": url},
        },
        {
            "name": "og",
            "type": "opsgenie",
            "config": {"api_key": OPSGENIE_KEY, "api_base_url": url},
        },
        {
            "name": "ntfy",
            "type": "ntfy",
            "config": {"server_url": url, "topic": "t", "token": NTFY_TOKEN},
        },
    ]


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_secrets_never_appear_in_responses_or_logs(
    notify_api: NotifyApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Acceptance 6: every secret goes in, none comes out: not in create, get, list, patch,
    test or delivery answers, not in any log line, not readable in the database."""
    caplog.set_level(logging.DEBUG)
    echo = Receiver(_echo_404).start()
    try:
        responses: list[httpx.Response] = []
        ids = []
        for body in _channel_bodies(echo.url):
            created = notify_api.client.post("/notifications/channels", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["secret_fields_set"]
            ids.append(created.json()["id"])
            responses.append(created)
        for channel_id in ids:
            responses.append(notify_api.client.get(f"/notifications/channels/{channel_id}"))
            responses.append(
                notify_api.client.patch(
                    f"/notifications/channels/{channel_id}", json={"name": "renamed"}
                )
            )
        responses.append(notify_api.client.get("/notifications/channels", params={"limit": 100}))
        tested = notify_api.client.post(f"/notifications/channels/{ids[1]}/test")  # telegram
        assert tested.status_code == 200 and tested.json()["ok"] is False
        assert tested.json()["permanent"] is True
        assert "Not Found: /bot***/sendMessage" in tested.json()["error"]
        responses.append(tested)
        responses.append(notify_api.client.post(f"/notifications/channels/{ids[2]}/test"))  # slack

        # The collector's worker fails on the same echoing service: its log lines too.
        rule = notify_api.client.post(
            "/notifications/rules",
            json={"name": "all", "events": ["monitor.down"], "channel_ids": ids[:3]},
        )
        assert rule.status_code == 201, rule.text
        engine = make_engine(notify_api.database_url)
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as session:
            session.add(
                Event(
                    organization_id=notify_api.organization_id,
                    type="monitor.down",
                    monitor_id=notify_api.monitor_id,
                    payload={"monitor": {"id": notify_api.monitor_id, "name": "Shop"}},
                )
            )
        async with httpx.AsyncClient() as http:
            worker = NotificationWorker(sessions, secret_key=SECRET_KEY, http=http)
            await worker.tick()
            await worker.idle()
        deliveries = notify_api.client.get("/notifications/deliveries", params={"limit": 100})
        assert deliveries.json()["pagination"]["total"] == 5
        assert {d["status"] for d in deliveries.json()["data"]} == {"failed"}
        responses.append(deliveries)
        with sessions() as session:
            sealed = [c.sealed_secrets for c in session.scalars(select(NotificationChannel))]
        engine.dispose()
    finally:
        echo.stop()

    assert any("telegram" in r.message for r in caplog.records)
    for response in responses:
        assert response.status_code < 300, response.text
        _assert_no_secret(response.text)
    _assert_no_secret(caplog.text)
    for record in caplog.records:
        _assert_no_secret(record.getMessage())
    assert all(blob.startswith("fernet:") for blob in sealed)
    _assert_no_secret("\n".join(sealed))
    # What the requests carried out: the real secrets, or nothing would work.
    assert any(TELEGRAM_TOKEN in r.path for r in echo.requests)


def test_channel_crud_and_patch_keeps_secrets(notify_api: NotifyApi, receiver: Receiver) -> None:
    created = notify_api.client.post(
        "/notifications/channels",
        json={
            "name": "Ops",
            "type": "webhook",
            "config": {"url": f"{receiver.url}/a", "secret": WEBHOOK_SECRET},
        },
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["config"] == {"url": f"{receiver.url}/a"}
    assert channel["secret_fields_set"] == ["secret"]
    assert channel["failing"] is False

    moved = notify_api.client.patch(
        f"/notifications/channels/{channel['id']}", json={"config": {"url": f"{receiver.url}/b"}}
    )
    assert moved.status_code == 200 and moved.json()["secret_fields_set"] == ["secret"]
    tested = notify_api.client.post(f"/notifications/channels/{channel['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True and tested.json()["delivery"]["status"] == "delivered"
    [request] = receiver.accepted
    assert request.path == "/b" and request.json()["test"] is True  # signed with the kept secret

    listed = notify_api.client.get("/notifications/channels", params={"limit": 1})
    assert listed.json()["pagination"] == {"page": 1, "limit": 1, "total": 1, "pages": 1}
    assert notify_api.client.delete(f"/notifications/channels/{channel['id']}").status_code == 204
    assert notify_api.client.get(f"/notifications/channels/{channel['id']}").status_code == 404
    assert notify_api.client.get("/notifications/channels").json()["data"] == []


def test_test_send_reports_transient_and_permanent_errors(
    notify_api: NotifyApi, receiver: Receiver
) -> None:
    channel = notify_api.client.post(
        "/notifications/channels",
        json={"name": "Ops", "type": "webhook", "config": {"url": f"{receiver.url}/a"}},
    ).json()
    receiver.script = [503, 410]
    first = notify_api.client.post(f"/notifications/channels/{channel['id']}/test").json()
    second = notify_api.client.post(f"/notifications/channels/{channel['id']}/test").json()
    assert (first["ok"], first["permanent"]) == (False, False)
    assert (second["ok"], second["permanent"]) == (False, True)
    assert first["error"].startswith("webhook: HTTP 503")
    tests = notify_api.client.get("/notifications/deliveries", params={"channel_id": channel["id"]})
    assert [d["reason"] for d in tests.json()["data"]] == ["test", "test"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "x", "type": "carrier-pigeon", "config": {}}, "type: unknown channel type"),
        ({"name": "x", "type": "webhook", "config": {"url": "ftp://x"}}, "config.url:"),
        ({"name": "x", "type": "telegram", "config": {"chat_id": "1"}}, "config.bot_token:"),
        (
            {"name": "x", "type": "webhook", "config": {"url": "http://169.254.169.254/latest"}},
            "config.url: 169.254.169.254 is a link-local or metadata address",
        ),
        (
            {"name": "x", "type": "slack", "config": {"webhook_url": "nope-secret-value"}},
            "config.webhook_url: Value error, expected an http",
        ),
    ],
)
def test_bad_channel_bodies_are_422_naming_the_field(
    notify_api: NotifyApi, body: dict, detail: str
) -> None:
    response = notify_api.client.post("/notifications/channels", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()
    assert "nope-secret-value" not in response.text


def test_rules_and_policies(notify_api: NotifyApi, receiver: Receiver) -> None:
    channel = notify_api.client.post(
        "/notifications/channels",
        json={"name": "Ops", "type": "webhook", "config": {"url": f"{receiver.url}/a"}},
    ).json()["id"]
    policy = notify_api.client.post(
        "/notifications/escalation-policies",
        json={
            "name": "on-call",
            "steps": [{"channel_ids": [channel]}, {"delay_minutes": 15, "channel_ids": [channel]}],
            "repeat_every_minutes": 30,
        },
    )
    assert policy.status_code == 201, policy.text
    assert policy.json()["steps"][1] == {"delay_minutes": 15, "channel_ids": [channel]}
    rule = notify_api.client.post(
        "/notifications/rules",
        json={
            "name": "prod down",
            "events": ["monitor.down", "monitor.up"],
            "tags": ["prod"],
            "monitor_ids": [notify_api.monitor_id],
            "escalation_policy_id": policy.json()["id"],
        },
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["channel_ids"] == []

    refused = {
        "unknown channel": notify_api.client.post(
            "/notifications/rules",
            json={"name": "r", "events": ["monitor.up"], "channel_ids": ["nope"]},
        ),
        "no target": notify_api.client.post(
            "/notifications/rules", json={"name": "r", "events": ["monitor.up"]}
        ),
        "bad event": notify_api.client.post(
            "/notifications/rules",
            json={"name": "r", "events": ["monitor.sad"], "channel_ids": [channel]},
        ),
        "unknown monitor": notify_api.client.post(
            "/notifications/rules",
            json={
                "name": "r",
                "events": ["monitor.up"],
                "channel_ids": [channel],
                "monitor_ids": ["m"],
            },
        ),
        "policy step channel": notify_api.client.post(
            "/notifications/escalation-policies",
            json={"name": "p", "steps": [{"channel_ids": ["nope"]}]},
        ),
    }
    for what, response in refused.items():
        assert response.status_code == 422, what
        assert response.json()["detail"], what
    assert refused["unknown channel"].json()["detail"] == "channel_ids: unknown channel(s) nope"
    assert refused["policy step channel"].json()["detail"].startswith("steps.0.channel_ids")

    in_use = notify_api.client.delete(f"/notifications/escalation-policies/{policy.json()['id']}")
    assert in_use.status_code == 409
    patched = notify_api.client.patch(
        f"/notifications/rules/{rule.json()['id']}",
        json={"channel_ids": [channel], "escalation_policy_id": None, "enabled": False},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False and patched.json()["escalation_policy_id"] is None
    assert (
        notify_api.client.delete(
            f"/notifications/escalation-policies/{policy.json()['id']}"
        ).status_code
        == 204
    )
    assert notify_api.client.get("/notifications/rules").json()["pagination"]["total"] == 1
    assert notify_api.client.delete(f"/notifications/rules/{rule.json()['id']}").status_code == 204


def test_scopes_and_other_organizations(notify_api: NotifyApi, receiver: Receiver) -> None:
    channel = notify_api.client.post(
        "/notifications/channels",
        json={"name": "Ops", "type": "webhook", "config": {"url": f"{receiver.url}/a"}},
    ).json()["id"]
    read_only = {"Authorization": f"Bearer {notify_api.read_only_key}"}
    assert notify_api.client.get("/notifications/channels", headers=read_only).status_code == 200
    denied = notify_api.client.post(
        "/notifications/channels",
        headers=read_only,
        json={"name": "x", "type": "webhook", "config": {"url": f"{receiver.url}/a"}},
    )
    assert denied.status_code == 403
    assert "notifications:write" in denied.json()["detail"]
    assert (
        notify_api.client.post(
            f"/notifications/channels/{channel}/test", headers=read_only
        ).status_code
        == 403
    )

    other = {"Authorization": f"Bearer {notify_api.other_org_key}"}
    assert (
        notify_api.client.get(f"/notifications/channels/{channel}", headers=other).status_code
        == 404
    )
    assert (
        notify_api.client.post(f"/notifications/channels/{channel}/test", headers=other).status_code
        == 404
    )
    assert notify_api.client.get("/notifications/channels", headers=other).json()["data"] == []
    other_rule = notify_api.client.post(
        "/notifications/rules",
        headers=other,
        json={"name": "r", "events": ["monitor.down"], "channel_ids": [channel]},
    )
    assert other_rule.status_code == 422
    assert receiver.requests == []


def test_channel_types_describe_their_config(notify_api: NotifyApi) -> None:
    response = notify_api.client.get("/notifications/channel-types")
    assert response.status_code == 200
    types = {t["type"]: t for t in response.json()["data"]}
    assert set(types) == {
        "discord",
        "email",
        "ntfy",
        "opsgenie",
        "pagerduty",
        "slack",
        "teams",
        "telegram",
        "webhook",
    }
    assert types["webhook"]["secret_fields"] == ["secret"]
    assert types["telegram"]["config_schema"]["required"] == ["bot_token", "chat_id"]
    password = types["email"]["config_schema"]["properties"]["password"]["anyOf"][0]
    assert password["writeOnly"] is True
