"""Every registered channel conforms: builds its payload without a network, delivers a down
and an up notification to a local stand-in of its service that checks the documented
shape, and says whether a failure is permanent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from typing import Any

import httpx
import pytest

from picket.collector.notify.channels import CHANNELS, DeliveryError, SendContext
from picket.collector.notify.channels.webhook import sign
from picket.collector.notify.event import NotifyEvent
from picket.testing import free_port
from tests.collector.notify import receivers
from tests.collector.notify.receivers import Receiver, SmtpReceiver

TELEGRAM_TOKEN = "123456:AAH-telegram-token-for-tests"
PAGERDUTY_KEY = "R0123456789abcdef0123456789abcde"
OPSGENIE_KEY = "0f1e2d3c-opsgenie-key-for-tests"
NTFY_TOKEN = "tk_ntfytokenfortests"
WEBHOOK_SECRET = "whsec-for-tests"
SMTP_USER, SMTP_PASSWORD = "alerts", "smtp-password-for-tests"


def outage_event(type_: str = "monitor.down") -> NotifyEvent:
    payload = {
        "event": type_,
        "monitor": {"id": "m1", "name": "Shop", "url": "https://shop.example.com", "type": "http"},
        "incident": {"id": "i1", "title": "Shop is down", "status": "investigating"},
        "regions": {
            "us-east": {"ok": False, "error_kind": "connect", "error": "connection refused"},
            "eu-west": {"ok": False, "error_kind": "timeout", "error": "no answer in 10s"},
            "ap-south": {"ok": True, "error_kind": None, "error": None},
        },
        "timestamp": "2026-11-24T03:00:00+00:00",
    }
    return NotifyEvent.from_outbox(
        uid=f"evt-{type_}",
        type=type_,
        payload=payload,
        created_at=datetime(2026, 11, 24, 3, tzinfo=UTC),
        api_public_url="https://picket.example.com",
    )


@dataclass
class Case:
    """A channel pointed at its local stand-in."""

    config: dict[str, Any]
    # What the stand-in accepted, as text to search for the event's details.
    accepted: Callable[[], list[str]]
    problems: Callable[[], list[str]]
    receiver: Receiver | None = None


def _http_case(checker: receivers.Checker, config: Callable[[str], dict[str, Any]]) -> Case:
    receiver = Receiver(checker).start()
    return Case(
        config=config(receiver.url),
        accepted=lambda: [r.body.decode() for r in receiver.accepted],
        problems=lambda: receiver.problems,
        receiver=receiver,
    )


def _email_text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return f"{message['Subject']}\n{payload.decode()}"


HTTP_CASES: dict[str, Callable[[], Case]] = {
    "slack": lambda: _http_case(
        receivers.slack, lambda url: {"webhook_url": f"{url}/services/T0/B0/XXXX"}
    ),
    "discord": lambda: _http_case(
        receivers.discord, lambda url: {"webhook_url": f"{url}/api/webhooks/1/tok"}
    ),
    "teams": lambda: _http_case(
        receivers.teams,
        lambda url: {"webhook_url": f"{url}/workflows/1/triggers/manual/paths/invoke?sig=S"},
    ),
    "telegram": lambda: _http_case(
        receivers.telegram(TELEGRAM_TOKEN),
        lambda url: {"bot_token": TELEGRAM_TOKEN, "chat_id": "-1001", "api_base_url": url},
    ),
    "pagerduty": lambda: _http_case(
        receivers.pagerduty, lambda url: {"routing_key": PAGERDUTY_KEY, "api_base_url": url}
    ),
    "opsgenie": lambda: _http_case(
        receivers.opsgenie(OPSGENIE_KEY),
        lambda url: {"api_key": OPSGENIE_KEY, "api_base_url": url},
    ),
    "ntfy": lambda: _http_case(
        receivers.ntfy, lambda url: {"server_url": url, "topic": "alerts", "token": NTFY_TOKEN}
    ),
    "webhook": lambda: _http_case(
        receivers.webhook(WEBHOOK_SECRET),
        lambda url: {"url": f"{url}/hook", "secret": WEBHOOK_SECRET},
    ),
}


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    kind = request.param
    if kind == "email":
        smtp = SmtpReceiver("starttls", SMTP_USER, SMTP_PASSWORD).start()
        yield Case(
            config={
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "starttls",
                "username": SMTP_USER,
                "password": SMTP_PASSWORD,
                "from_address": "picket@example.com",
                "to_addresses": ["oncall@example.com"],
                "ca_cert_pem": smtp.ca_pem,
            },
            accepted=lambda: [_email_text(m) for m in smtp.messages],
            problems=lambda: [] if smtp.logins else ["no login happened"],
        )
        smtp.stop()
        return
    made = HTTP_CASES[kind]()
    yield made
    assert made.receiver is not None
    made.receiver.stop()


@pytest.mark.parametrize("case", sorted(CHANNELS), indirect=True)
async def test_channel_delivers_down_and_up_in_the_service_shape(case: Case, request) -> None:
    kind = CHANNELS[request.node.callspec.params["case"]]
    config = kind.config.model_validate(case.config)
    down, up = outage_event("monitor.down"), outage_event("monitor.up")

    # Pure: the payload is built without a network, the same way every time.
    first, second = kind.build_payload(config, down), kind.build_payload(config, down)
    if isinstance(first, EmailMessage):
        assert first["Subject"] == second["Subject"] and first.get_content() == second.get_content()
    else:
        assert first == second

    async with httpx.AsyncClient() as http:
        ctx = SendContext(http=http, timeout_s=10)
        await kind.send(config, down, ctx)
        await kind.send(config, up, ctx)

    assert case.problems() == []
    accepted = case.accepted()
    assert len(accepted) == 2
    assert "connection refused" in accepted[0] and "us-east" in accepted[0]
    assert "Shop" in accepted[0]


@pytest.mark.parametrize("kind", sorted(HTTP_CASES))
async def test_http_channel_errors_say_whether_retrying_helps(kind: str) -> None:
    expected = {500: False, 503: False, 429: False, 404: True, 401: True, 403: True, 410: True}
    case = HTTP_CASES[kind]()
    assert case.receiver is not None
    case.receiver.script = list(expected)
    config = CHANNELS[kind].config.model_validate(case.config)
    errors: dict[int, DeliveryError] = {}
    try:
        async with httpx.AsyncClient() as http:
            for status in expected:
                with pytest.raises(DeliveryError) as caught:
                    await CHANNELS[kind].send(config, outage_event(), SendContext(http=http))
                errors[status] = caught.value
    finally:
        case.receiver.stop()
    assert {status: e.permanent for status, e in errors.items()} == expected
    assert all(e.status_code == status for status, e in errors.items())


@pytest.mark.parametrize("kind", sorted(HTTP_CASES))
async def test_unreachable_service_is_transient_and_error_has_no_secret(kind: str) -> None:
    case = HTTP_CASES[kind]()
    assert case.receiver is not None
    case.receiver.stop()
    dead = f"http://127.0.0.1:{free_port()}"
    config_dict = json.loads(json.dumps(case.config).replace(case.receiver.url, dead))
    config = CHANNELS[kind].config.model_validate(config_dict)
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryError) as caught:
            await CHANNELS[kind].send(config, outage_event(), SendContext(http=http))
    assert caught.value.permanent is False
    for secret in (TELEGRAM_TOKEN, PAGERDUTY_KEY, OPSGENIE_KEY, NTFY_TOKEN, WEBHOOK_SECRET, "XXXX"):
        assert secret not in caught.value.message


async def test_revoked_telegram_token_and_opsgenie_key_are_permanent() -> None:
    tg = HTTP_CASES["telegram"]()
    og = HTTP_CASES["opsgenie"]()
    assert tg.receiver and og.receiver
    try:
        async with httpx.AsyncClient() as http:
            ctx = SendContext(http=http)
            tg_config = CHANNELS["telegram"].config.model_validate(
                {**tg.config, "bot_token": "999:revoked"}
            )
            with pytest.raises(DeliveryError) as tg_error:
                await CHANNELS["telegram"].send(tg_config, outage_event(), ctx)
            og_config = CHANNELS["opsgenie"].config.model_validate(
                {**og.config, "api_key": "wrong-key"}
            )
            with pytest.raises(DeliveryError) as og_error:
                await CHANNELS["opsgenie"].send(og_config, outage_event(), ctx)
    finally:
        tg.receiver.stop()
        og.receiver.stop()
    assert tg_error.value.permanent and og_error.value.permanent
    assert "revoked" not in tg_error.value.message


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    config = CHANNELS["pagerduty"].config.model_validate({"routing_key": PAGERDUTY_KEY})
    trigger = CHANNELS["pagerduty"].build_payload(config, outage_event("monitor.down"))
    resolve = CHANNELS["pagerduty"].build_payload(config, outage_event("monitor.up"))
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "picket-incident-i1"
    assert trigger["payload"]["custom_details"]["regions"]["us-east"]["error_kind"] == "connect"


async def test_webhook_signature_verifies_and_a_tampered_body_does_not() -> None:
    """Acceptance 2: the receiver's standard HMAC-SHA256 recipe over the raw body."""
    receiver = Receiver(receivers.webhook(WEBHOOK_SECRET)).start()
    try:
        config = CHANNELS["webhook"].config.model_validate(
            {"url": f"{receiver.url}/hook", "secret": WEBHOOK_SECRET}
        )
        async with httpx.AsyncClient() as http:
            await CHANNELS["webhook"].send(config, outage_event(), SendContext(http=http))
    finally:
        receiver.stop()
    [request] = receiver.requests
    assert receiver.accepted == [request]
    assert request.headers["x-signature-256"] == sign(WEBHOOK_SECRET, request.body)
    assert receivers.verify_signature(WEBHOOK_SECRET, request)
    assert request.headers["x-picket-event-id"] == "evt-monitor.down"
    assert request.json()["regions"]["eu-west"]["error"] == "no answer in 10s"

    tampered = receivers.Received(
        **{
            **request.__dict__,
            "body": request.body.replace(b"connection refused", b"connection accepted"),
        }
    )
    assert not receivers.verify_signature(WEBHOOK_SECRET, tampered)
    assert not receivers.verify_signature("another-secret", request)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_email_over_tls_and_starttls_with_login(security: str) -> None:
    smtp = SmtpReceiver(security, SMTP_USER, SMTP_PASSWORD).start()
    base = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": security,
        "username": SMTP_USER,
        "from_address": "picket@example.com",
        "to_addresses": ["a@example.com", "b@example.com"],
        "ca_cert_pem": smtp.ca_pem,
    }
    try:
        email = CHANNELS["email"]
        async with httpx.AsyncClient() as http:
            ctx = SendContext(http=http, timeout_s=10)
            await email.send(
                email.config.model_validate({**base, "password": SMTP_PASSWORD}),
                outage_event(),
                ctx,
            )
            with pytest.raises(DeliveryError) as wrong_password:
                await email.send(
                    email.config.model_validate({**base, "password": "wrong"}), outage_event(), ctx
                )
            with pytest.raises(DeliveryError) as untrusted:
                await email.send(
                    email.config.model_validate(
                        {**base, "password": SMTP_PASSWORD, "ca_cert_pem": None}
                    ),
                    outage_event(),
                    ctx,
                )
    finally:
        smtp.stop()
    [message] = smtp.messages
    assert message["X-Picket-Event-Id"] == "evt-monitor.down"
    assert smtp.mailbox.envelopes == [("picket@example.com", ["a@example.com", "b@example.com"])]
    assert wrong_password.value.permanent
    assert untrusted.value.permanent
    assert SMTP_PASSWORD not in wrong_password.value.message


async def test_email_to_a_closed_port_is_transient() -> None:
    email = CHANNELS["email"]
    config = email.config.model_validate(
        {
            "host": "127.0.0.1",
            "port": free_port(),
            "security": "starttls",
            "from_address": "picket@example.com",
            "to_addresses": ["a@example.com"],
        }
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(DeliveryError) as caught:
            await email.send(config, outage_event(), SendContext(http=http, timeout_s=5))
    assert caught.value.permanent is False


def test_event_payload_is_read_defensively() -> None:
    event = NotifyEvent.from_outbox(
        uid="u1",
        type="monitor.down",
        payload={"monitor": "not a dict", "regions": {"us-east": None}},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        monitor_id="m9",
    )
    assert event.monitor["id"] == "m9"
    assert event.regions == {"us-east": {"ok": False, "error_kind": None, "error": None}}
    assert event.incident is None and event.incident_url is None
    assert "m9" in event.text()


def test_probe_health_event_names_the_probe() -> None:
    event = NotifyEvent.from_outbox(
        uid="u2",
        type="probe.unhealthy",
        payload={
            "type": "probe.unhealthy",
            "probe": {"id": "p1", "name": "probe-us-1", "region": "us-east"},
            "compared": 10,
            "disagreed": 9,
        },
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert event.title() == "Probe probe-us-1 (us-east) is unhealthy: its results are set aside"
    assert event.as_json()["detail"]["disagreed"] == 9
    assert "type" not in event.as_json()["detail"]
    assert event.alert_key == "picket-probe-p1"


def test_manual_incident_without_a_monitor_is_the_subject() -> None:
    event = NotifyEvent.from_outbox(
        uid="u3",
        type="incident.updated",
        payload={
            "type": "incident.updated",
            "monitor": None,
            "incident": {"id": "i9", "title": "Payments are slow", "status": "identified"},
            "update": {"status": "identified", "message": "A bad deploy; rolling back."},
            "regions": {},
        },
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        api_public_url="https://picket.example.com",
    )
    assert event.title() == "Incident update: Payments are slow"
    assert "Update (identified): A bad deploy; rolling back." in event.text()
    assert "Details: https://picket.example.com/api/v1/incidents/i9" in event.text()
    assert event.alert_key == "picket-incident-i9"


def test_tls_expiry_event_from_the_checks_payload() -> None:
    event = NotifyEvent.from_outbox(
        uid="u4",
        type="ssl.expiring",
        payload={
            "monitor_id": "m7",
            "monitor_name": "Shop TLS",
            "host": "shop.example.com",
            "threshold_days": 14,
            "days_left": 13,
            "not_after": "2026-12-07T00:00:00+00:00",
            "region": "eu-west",
        },
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
        monitor_id="m7",
    )
    assert event.monitor == {
        "id": "m7",
        "name": "Shop TLS",
        "url": "shop.example.com",
        "type": None,
    }
    assert event.title() == "Shop TLS has a TLS certificate expiring in 13 day(s)"
    assert "Certificate valid until: 2026-12-07T00:00:00+00:00" in event.text()
    assert event.as_json()["detail"]["threshold_days"] == 14
