"""An outage end to end — probes in three regions, consensus, incident — reaches every
routed channel exactly once going down and once coming back, with the regions and their
errors in the message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from picket.db.models_notify import Delivery
from picket.testing import Stack, wait_for
from tests.collector.notify import receivers
from tests.collector.notify.receivers import Receiver, SmtpReceiver
from tests.http_targets import http_target

SOURCES = {"us-east": "127.0.0.11", "eu-west": "127.0.0.12", "ap-south": "127.0.0.13"}
SECRET = "whsec-outage-e2e"
SMTP_USER, SMTP_PASSWORD = "alerts", "smtp-outage-e2e"
DEADLINE = 30.0


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    stack.start_collector(PICKET_SECRET_KEY="outage-e2e-key")
    stack.start_api()
    for region, address in SOURCES.items():
        stack.start_probe(region, PICKET_SOURCE_ADDRESS=address)
    with stack.api() as api:
        yield api


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def _wait_status(stack: Stack, client: httpx.Client, monitor_id: str, status: str) -> None:
    def reached() -> bool:
        return client.get(f"/monitors/{monitor_id}").json()["status"] == status

    try:
        wait_for(reached, timeout=DEADLINE, message=f"the monitor to be {status}")
    except TimeoutError:
        print(stack.logs())
        raise


def _settled(stack: Stack, expected: int) -> bool:
    with stack.sessions() as session:
        statuses = list(session.scalars(select(Delivery.status)))
    return len(statuses) == expected and set(statuses) == {"delivered"}


def test_outage_notifies_each_routed_channel_once_down_and_once_up(
    stack: Stack, client: httpx.Client
) -> None:
    webhook = Receiver(receivers.webhook(SECRET)).start()
    slack = Receiver(receivers.slack).start()
    ntfy = Receiver(receivers.ntfy).start()
    smtp = SmtpReceiver("starttls", SMTP_USER, SMTP_PASSWORD).start()
    try:
        with http_target() as target, http_target() as other_target:
            shop = _created(
                client.post(
                    "/monitors",
                    json={"name": "Shop", "type": "http", "url": target.url, "interval_seconds": 2},
                )
            )["id"]
            # Not routed: its outage must reach no channel.
            other = _created(
                client.post(
                    "/monitors",
                    json={
                        "name": "Other",
                        "type": "http",
                        "url": other_target.url,
                        "interval_seconds": 2,
                    },
                )
            )["id"]
            channels = [
                {"type": "webhook", "config": {"url": f"{webhook.url}/in", "secret": SECRET}},
                {"type": "slack", "config": {"webhook_url": f"{slack.url}/services/T/B/X"}},
                {"type": "ntfy", "config": {"server_url": ntfy.url, "topic": "outages"}},
                {
                    "type": "email",
                    "config": {
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "username": SMTP_USER,
                        "password": SMTP_PASSWORD,
                        "from_address": "picket@example.com",
                        "to_addresses": ["oncall@example.com"],
                        "ca_cert_pem": smtp.ca_pem,
                    },
                },
            ]
            ids = [
                _created(client.post("/notifications/channels", json={"name": c["type"], **c}))[
                    "id"
                ]
                for c in channels
            ]
            _created(
                client.post(
                    "/notifications/rules",
                    json={
                        "name": "shop",
                        "events": ["monitor.down", "monitor.up"],
                        "monitor_ids": [shop],
                        "channel_ids": ids,
                    },
                )
            )
            _wait_status(stack, client, shop, "up")
            _wait_status(stack, client, other, "up")

            failing = {SOURCES["us-east"], SOURCES["eu-west"]}
            target.refuse_from = failing
            other_target.refuse_from = failing
            _wait_status(stack, client, shop, "down")
            _wait_status(stack, client, other, "down")
            wait_for(lambda: _settled(stack, 4), timeout=DEADLINE, message="down notifications")

            target.refuse_from = set()
            other_target.refuse_from = set()
            _wait_status(stack, client, shop, "up")
            wait_for(lambda: _settled(stack, 8), timeout=DEADLINE, message="up notifications")

        http_bodies = {
            "webhook": [r.json() for r in webhook.accepted],
            "slack": [r.json() for r in slack.accepted],
            "ntfy": [r.json() for r in ntfy.accepted],
        }
        mails = [m["Subject"] for m in smtp.messages]
    finally:
        for receiver in (webhook, slack, ntfy):
            receiver.stop()
        smtp.stop()

    assert [b["event"] for b in http_bodies["webhook"]] == ["monitor.down", "monitor.up"]
    down = http_bodies["webhook"][0]
    assert down["monitor"]["id"] == shop
    assert {r: v["ok"] for r, v in down["regions"].items()} == {
        "us-east": False,
        "eu-west": False,
        "ap-south": True,
    }
    assert down["regions"]["eu-west"]["error_kind"] == "status"
    assert "503" in down["regions"]["eu-west"]["error"]
    assert all(receivers.verify_signature(SECRET, r) for r in webhook.accepted)
    assert [b["text"].splitlines()[0] for b in http_bodies["slack"]] == [
        "Shop is DOWN",
        "Shop is back UP",
    ]
    assert "eu-west: failing [status]" in http_bodies["slack"][0]["text"]
    assert [b["title"] for b in http_bodies["ntfy"]] == ["Shop is DOWN", "Shop is back UP"]
    assert mails == ["Shop is DOWN", "Shop is back UP"]
    assert webhook.problems == slack.problems == ntfy.problems == []
