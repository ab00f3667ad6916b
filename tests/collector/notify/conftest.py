from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from picket.collector.notify.secretbox import SecretBox
from picket.collector.notify.store import create_channel
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import Event, Incident
from picket.db.models_notify import EscalationPolicy, NotificationRule
from picket.db.monitors import create_monitor
from tests.collector.notify.receivers import Receiver, webhook

SECRET_KEY = "test-secret-key"
WEBHOOK_SECRET = "whsec-worker-tests"


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class World:
    """An organization with one monitor, and helpers to add channels, rules and events."""

    sessions: sessionmaker[Session]
    organization_id: str
    monitor_id: str
    clock: FakeClock
    receivers: list[Receiver]

    def receiver(self, script: list[int] | None = None) -> Receiver:
        receiver = Receiver(webhook(WEBHOOK_SECRET), script=list(script or [])).start()
        self.receivers.append(receiver)
        return receiver

    def webhook_channel(self, receiver: Receiver, name: str = "hook") -> str:
        with transaction(self.sessions) as session:
            channel = create_channel(
                session,
                self.organization_id,
                name=name,
                type="webhook",
                config={"url": f"{receiver.url}/{name}", "secret": WEBHOOK_SECRET},
                box=SecretBox(SECRET_KEY),
            )
            return channel.id

    def rule(self, events: list[str], **fields: Any) -> str:
        with transaction(self.sessions) as session:
            rule = NotificationRule(
                organization_id=self.organization_id, name="rule", events=events, **fields
            )
            session.add(rule)
            session.flush()
            return rule.id

    def policy(self, steps: list[dict[str, Any]], repeat_every_minutes: int | None = None) -> str:
        with transaction(self.sessions) as session:
            policy = EscalationPolicy(
                organization_id=self.organization_id,
                name="on-call",
                steps=steps,
                repeat_every_minutes=repeat_every_minutes,
            )
            session.add(policy)
            session.flush()
            return policy.id

    def incident(self) -> str:
        with transaction(self.sessions) as session:
            incident = Incident(
                organization_id=self.organization_id,
                monitor_id=self.monitor_id,
                monitor_ids=[self.monitor_id],
                title="Shop is down",
                started_at=self.clock(),
            )
            session.add(incident)
            session.flush()
            return incident.id

    def event(self, type_: str, incident_id: str | None = None, **payload: Any) -> str:
        """Write an outbox event as the consensus engine does."""
        with transaction(self.sessions) as session:
            event = Event(
                organization_id=self.organization_id,
                type=type_,
                monitor_id=self.monitor_id,
                incident_id=incident_id,
                payload={
                    "event": type_,
                    "monitor": {
                        "id": self.monitor_id,
                        "name": "Shop",
                        "url": "https://shop.example.com",
                        "type": "http",
                    },
                    "incident": {"id": incident_id, "title": "Shop is down"}
                    if incident_id
                    else None,
                    "regions": {
                        "us-east": {"ok": False, "error_kind": "connect", "error": "refused"}
                    },
                    "timestamp": self.clock().isoformat(),
                    **payload,
                },
                created_at=self.clock(),
            )
            session.add(event)
            session.flush()
            return event.uid


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "Acme")
        monitor = create_monitor(
            session,
            org.id,
            name="Shop",
            type="http",
            url="https://shop.example.com",
            tags=["prod"],
        )
        ids = (org.id, monitor.id)
    made = World(sessions, ids[0], ids[1], FakeClock(), [])
    yield made
    for receiver in made.receivers:
        receiver.stop()
    engine.dispose()
