"""Notification delivery with the real collector process."""

from __future__ import annotations

from sqlalchemy import select

from picket.collector.notify.secretbox import SecretBox
from picket.collector.notify.store import create_channel
from picket.db.engine import transaction
from picket.db.models import Event, Organization
from picket.db.models_notify import Delivery, NotificationRule
from picket.db.monitors import create_monitor
from picket.testing import Stack, wait_for
from tests.collector.notify import receivers
from tests.collector.notify.receivers import Receiver

SECRET = "whsec-e2e"
SECRET_KEY = "e2e-secret-key"


def _setup(stack: Stack, receiver: Receiver) -> tuple[str, str]:
    """A monitor, a signed webhook channel and a rule for monitor.down; (org id, monitor id)."""
    with transaction(stack.sessions) as session:
        org_id = session.scalars(select(Organization.id)).one()
        monitor = create_monitor(session, org_id, name="Shop", type="http", url="http://x")
        channel = create_channel(
            session,
            org_id,
            name="hook",
            type="webhook",
            config={"url": f"{receiver.url}/hook", "secret": SECRET},
            box=SecretBox(SECRET_KEY),
        )
        session.add(
            NotificationRule(
                organization_id=org_id,
                name="all",
                events=["monitor.down"],
                channel_ids=[channel.id],
            )
        )
        return org_id, monitor.id


def _write_event(stack: Stack, org_id: str, monitor_id: str) -> str:
    """The outbox row the consensus engine writes when the monitor goes down."""
    with transaction(stack.sessions) as session:
        event = Event(
            organization_id=org_id,
            type="monitor.down",
            monitor_id=monitor_id,
            payload={
                "monitor": {"id": monitor_id, "name": "Shop", "url": "http://x"},
                "regions": {"us-east": {"ok": False, "error_kind": "connect", "error": "x"}},
            },
        )
        session.add(event)
        session.flush()
        return event.uid


def _delivery(stack: Stack) -> Delivery | None:
    with stack.sessions() as session:
        return session.scalar(select(Delivery))


def test_event_written_while_the_collector_is_dead_is_delivered_after_restart(
    stack: Stack,
) -> None:
    """Acceptance 5: kill -9 the collector, write the event (as consensus would have just
    before dying), restart: the receiver gets it exactly once."""
    receiver = Receiver(receivers.webhook(SECRET)).start()
    try:
        org_id, monitor_id = _setup(stack, receiver)
        stack.start_collector(PICKET_SECRET_KEY=SECRET_KEY).kill()
        uid = _write_event(stack, org_id, monitor_id)
        assert receiver.requests == []

        stack.start_collector("collector-2", PICKET_SECRET_KEY=SECRET_KEY)
        wait_for(
            lambda: (d := _delivery(stack)) is not None and d.status == "delivered",
            timeout=30,
            message="the delivery after the restart",
        )
        [request] = receiver.requests
        assert request.headers["x-picket-event-id"] == uid
        assert receivers.verify_signature(SECRET, request)
    finally:
        receiver.stop()


def test_collector_killed_mid_send_resends_once_after_restart(stack: Stack) -> None:
    """Acceptance 5, the hard case: the collector is killed after the receiver has the
    message but before the outcome is recorded. The next collector sends it once more
    (same X-Picket-Event-Id, so the receiver can drop it), once the dead one's claim
    expires (15 s), and never again."""
    receiver = Receiver(receivers.webhook(SECRET)).start()
    receiver.hold.set()
    try:
        org_id, monitor_id = _setup(stack, receiver)
        first = stack.start_collector(PICKET_SECRET_KEY=SECRET_KEY)
        uid = _write_event(stack, org_id, monitor_id)
        wait_for(lambda: len(receiver.requests) == 1, timeout=30, message="the first send")
        first.kill()
        delivery = _delivery(stack)
        assert delivery is not None and (delivery.status, delivery.attempts) == ("sending", 1)
        receiver.hold.clear()

        stack.start_collector("collector-2", PICKET_SECRET_KEY=SECRET_KEY)
        wait_for(
            lambda: (d := _delivery(stack)) is not None and d.status == "delivered",
            timeout=45,
            message="the resend after the restart",
        )
        delivery = _delivery(stack)
        assert delivery is not None and delivery.attempts == 2
        assert [r.headers["x-picket-event-id"] for r in receiver.requests] == [uid, uid]
    finally:
        receiver.stop()
