"""The delivery worker against a real database and real local receivers, driven tick by
tick with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import select

from picket.collector.notify.worker import NotificationWorker
from picket.db.engine import transaction
from picket.db.models import Event, Incident
from picket.db.models_notify import Delivery, Escalation, NotificationChannel
from picket.testing import wait_for
from tests.collector.notify.conftest import SECRET_KEY, World
from tests.collector.notify.receivers import Receiver


@asynccontextmanager
async def worker_for(world: World, **kwargs) -> AsyncIterator[NotificationWorker]:
    async with httpx.AsyncClient() as http:
        options = {"retry_delays": (10.0, 30.0), "max_attempts": 4, "send_timeout_s": 5.0}
        options.update(kwargs)
        yield NotificationWorker(
            world.sessions,
            secret_key=SECRET_KEY,
            api_public_url="https://picket.example.com",
            now=world.clock,
            http=http,
            **options,
        )


async def step(worker: NotificationWorker) -> None:
    """One tick, then wait for every send it started."""
    await worker.tick()
    await worker.idle()


def events_at(receiver: Receiver) -> list[tuple[str, str]]:
    """(event type, event id) of each message the receiver accepted, in order."""
    return [(r.json()["event"], r.headers["x-picket-event-id"]) for r in receiver.accepted]


def deliveries(world: World) -> list[Delivery]:
    with world.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_rule_routes_by_event_type_monitor_and_tag(world: World) -> None:
    all_events, tagged, other_tag, by_id = (world.receiver() for _ in range(4))
    world.rule(["monitor.down", "monitor.up"], channel_ids=[world.webhook_channel(all_events, "a")])
    world.rule(["monitor.down"], tags=["prod"], channel_ids=[world.webhook_channel(tagged, "b")])
    world.rule(["monitor.down"], tags=["dev"], channel_ids=[world.webhook_channel(other_tag, "c")])
    world.rule(
        ["monitor.up"], monitor_ids=[world.monitor_id], channel_ids=[world.webhook_channel(by_id)]
    )
    down = world.event("monitor.down")
    world.event("monitor.degraded")
    up = world.event("monitor.up")

    async with worker_for(world) as worker:
        await step(worker)
        await step(worker)  # nothing new: nothing is sent twice

    assert events_at(all_events) == [("monitor.down", down), ("monitor.up", up)]
    assert events_at(tagged) == [("monitor.down", down)]
    assert events_at(other_tag) == []
    assert events_at(by_id) == [("monitor.up", up)]
    body = all_events.accepted[0].json()
    assert body["regions"]["us-east"] == {"ok": False, "error_kind": "connect", "error": "refused"}


async def test_two_rules_to_one_channel_send_one_message(world: World) -> None:
    receiver = world.receiver()
    channel = world.webhook_channel(receiver)
    world.rule(["monitor.down"], channel_ids=[channel])
    world.rule(["monitor.down"], tags=["prod"], channel_ids=[channel])
    world.event("monitor.down")
    async with worker_for(world) as worker:
        await step(worker)
    assert len(receiver.accepted) == 1


async def test_500_twice_then_200_is_delivered_once_after_retries(world: World) -> None:
    """Acceptance 4, first half."""
    receiver = world.receiver(script=[500, 500])
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    uid = world.event("monitor.down")

    async with worker_for(world) as worker:
        await step(worker)
        [delivery] = deliveries(world)
        assert (delivery.status, delivery.attempts) == ("retrying", 1)
        assert delivery.last_error == 'webhook: HTTP 500: {"error": "scripted"}'
        await step(worker)  # not due yet: backoff is 10 s
        assert len(receiver.requests) == 1
        world.clock.advance(seconds=10)
        await step(worker)
        assert deliveries(world)[0].status == "retrying"
        world.clock.advance(seconds=29)
        await step(worker)
        assert len(receiver.requests) == 2  # the second wait is 30 s
        world.clock.advance(seconds=1)
        await step(worker)

    [delivery] = deliveries(world)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
    assert len(receiver.requests) == 3
    assert events_at(receiver) == [("monitor.down", uid)]


async def test_transient_failures_stop_after_max_attempts(world: World) -> None:
    receiver = world.receiver(script=[503] * 10)
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    world.event("monitor.down")
    async with worker_for(world, max_attempts=3) as worker:
        for _ in range(5):
            await step(worker)
            world.clock.advance(minutes=1)
    [delivery] = deliveries(world)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.last_error.startswith("gave up after 3 attempts")
    assert len(receiver.requests) == 3


async def test_404_marks_the_channel_failing_and_stops(world: World) -> None:
    """Acceptance 4, second half."""
    receiver = world.receiver(script=[404])
    channel_id = world.webhook_channel(receiver)
    world.rule(["monitor.down", "monitor.up"], channel_ids=[channel_id])
    world.event("monitor.down")
    async with worker_for(world) as worker:
        await step(worker)
        world.event("monitor.up")
        world.clock.advance(minutes=5)
        await step(worker)

    first, second = deliveries(world)
    assert (first.status, first.error_permanent, first.attempts) == ("failed", True, 1)
    assert second.status == "failed" and second.attempts == 0
    assert second.last_error.startswith("channel is failing: webhook: HTTP 404")
    assert len(receiver.requests) == 1
    with world.sessions() as session:
        channel = session.get(NotificationChannel, channel_id)
        assert channel is not None and channel.failing
        assert channel.failing_reason.startswith("webhook: HTTP 404")


async def test_a_slow_channel_does_not_hold_up_the_others(world: World) -> None:
    slow, fast = world.receiver(), world.receiver()
    slow.hold.set()
    world.rule(
        ["monitor.down"],
        channel_ids=[world.webhook_channel(slow, "slow"), world.webhook_channel(fast, "fast")],
    )
    world.event("monitor.down")
    async with worker_for(world) as worker:
        await worker.tick()
        await _until(
            lambda: (
                len(slow.requests) == 1
                and sorted(d.status for d in deliveries(world)) == ["delivered", "sending"]
            )
        )
        assert len(fast.accepted) == 1
        slow.release.set()
        await worker.idle()
    assert [d.status for d in deliveries(world)] == ["delivered", "delivered"]


async def _until(predicate: Callable[[], bool]) -> None:
    await asyncio.to_thread(wait_for, predicate, 30.0, message="the receivers")


async def test_event_written_while_no_worker_runs_is_delivered_once_by_the_next(
    world: World,
) -> None:
    """Acceptance 5 at the worker level: the event waits in the outbox."""
    receiver = world.receiver()
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    async with worker_for(world) as worker:
        stop = asyncio.Event()
        stop.set()
        await worker.run(stop)  # a worker that stops at once delivers nothing
    uid = world.event("monitor.down")
    assert receiver.requests == []

    async with worker_for(world) as worker:
        await step(worker)
        await step(worker)
    assert events_at(receiver) == [("monitor.down", uid)]


async def test_crash_between_send_and_record_resends_exactly_once(world: World) -> None:
    """Acceptance 5: the first worker dies after the receiver has the message but before
    the outcome is recorded; the next worker re-sends once, with the same event id."""
    receiver = world.receiver()
    receiver.hold.set()
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    uid = world.event("monitor.down")

    async with worker_for(world) as first:
        stop = asyncio.Event()
        task = asyncio.create_task(first.run(stop))
        await _until(lambda: len(receiver.requests) == 1)
        task.cancel()  # dies mid-send: nothing after the send runs
        await asyncio.gather(task, return_exceptions=True)
    [delivery] = deliveries(world)
    assert (delivery.status, delivery.attempts) == ("sending", 1)
    receiver.release.set()

    async with worker_for(world) as second:
        await step(second)
        assert len(receiver.requests) == 1  # the lease is still held by the dead worker
        world.clock.advance(minutes=2)
        await step(second)
        await step(second)

    [delivery] = deliveries(world)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    ids = [r.headers["x-picket-event-id"] for r in receiver.requests]
    assert ids == [uid, uid]


async def test_a_live_worker_keeps_its_claim_through_a_long_send(world: World) -> None:
    """Another worker never takes over a send that is slow but alive."""
    receiver = world.receiver()
    receiver.hold.set()
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    world.event("monitor.down")

    async with worker_for(world, lease_s=0.3) as first, worker_for(world, lease_s=0.3) as other:
        await first.tick()
        await _until(lambda: len(receiver.requests) == 1)
        world.clock.advance(seconds=10)  # far past the first claim

        def renewed() -> bool:
            [delivery] = deliveries(world)
            return delivery.locked_until is not None and delivery.locked_until > world.clock()

        await _until(renewed)
        await step(other)
        assert len(receiver.requests) == 1
        receiver.release.set()
        await first.idle()

    [delivery] = deliveries(world)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(receiver.requests) == 1


async def test_escalation_reaches_step_two_when_nobody_acknowledges(world: World) -> None:
    """Acceptance 3: step 1 at once, step 2 after its delay; recovery auto-acknowledges and
    tells everyone notified."""
    first, second = world.receiver(), world.receiver()
    policy = world.policy(
        [
            {"delay_minutes": 0, "channel_ids": [world.webhook_channel(first, "first")]},
            {"delay_minutes": 5, "channel_ids": [world.webhook_channel(second, "second")]},
        ]
    )
    world.rule(["monitor.down"], escalation_policy_id=policy)
    incident = world.incident()
    down = world.event("monitor.down", incident_id=incident)

    async with worker_for(world) as worker:
        await step(worker)
        assert events_at(first) == [("monitor.down", down)] and events_at(second) == []
        world.clock.advance(minutes=4, seconds=59)
        await step(worker)
        assert events_at(second) == []
        world.clock.advance(seconds=1)
        await step(worker)
        assert events_at(second) == [("monitor.down", down)]
        assert second.accepted[0].json()["escalation_step"] == 2

        world.clock.advance(minutes=3)
        up = world.event("monitor.up", incident_id=incident)
        await step(worker)

    assert events_at(first) == [("monitor.down", down), ("monitor.up", up)]
    assert events_at(second) == [("monitor.down", down), ("monitor.up", up)]
    with world.sessions() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.status == "resolved"
        assert escalation.acknowledged_at == world.clock()
        incident_row = session.get(Incident, incident)
        assert incident_row is not None and incident_row.acknowledged_at == world.clock()


async def test_acknowledged_before_the_delay_step_two_never_fires(world: World) -> None:
    first, second = world.receiver(), world.receiver()
    policy = world.policy(
        [
            {"delay_minutes": 0, "channel_ids": [world.webhook_channel(first, "first")]},
            {"delay_minutes": 5, "channel_ids": [world.webhook_channel(second, "second")]},
        ]
    )
    world.rule(["incident.created"], escalation_policy_id=policy)
    incident = world.incident()
    world.event("incident.created", incident_id=incident)

    async with worker_for(world) as worker:
        await step(worker)
        world.clock.advance(minutes=2)
        with transaction(world.sessions) as session:
            row = session.get(Incident, incident)
            assert row is not None
            row.acknowledged_at = world.clock()
        for _ in range(3):
            world.clock.advance(minutes=5)
            await step(worker)
        world.event("incident.resolved", incident_id=incident)
        await step(worker)

    assert [e for e, _ in events_at(first)] == ["incident.created", "incident.resolved"]
    assert events_at(second) == []
    with world.sessions() as session:
        assert session.scalars(select(Escalation)).one().status == "resolved"


async def test_repeat_while_down_until_acknowledged(world: World) -> None:
    receiver = world.receiver()
    policy = world.policy(
        [{"delay_minutes": 0, "channel_ids": [world.webhook_channel(receiver)]}],
        repeat_every_minutes=10,
    )
    world.rule(["monitor.down"], escalation_policy_id=policy)
    incident = world.incident()
    world.event("monitor.down", incident_id=incident)

    async with worker_for(world) as worker:
        await step(worker)
        for _ in range(2):
            world.clock.advance(minutes=10)
            await step(worker)
        assert len(receiver.accepted) == 3
        with transaction(world.sessions) as session:
            row = session.get(Incident, incident)
            assert row is not None
            row.acknowledged_at = world.clock()
        world.clock.advance(minutes=10)
        await step(worker)
        world.clock.advance(minutes=10)
        await step(worker)

    assert len(receiver.accepted) == 3
    assert [d.reason for d in deliveries(world)] == ["escalation", "repeat", "repeat"]


async def test_monitor_down_and_incident_created_share_one_escalation(world: World) -> None:
    receiver = world.receiver()
    policy = world.policy([{"delay_minutes": 0, "channel_ids": [world.webhook_channel(receiver)]}])
    world.rule(["monitor.down", "incident.created"], escalation_policy_id=policy)
    incident = world.incident()
    world.event("monitor.down", incident_id=incident)
    world.event("incident.created", incident_id=incident)
    async with worker_for(world) as worker:
        await step(worker)
    assert [e for e, _ in events_at(receiver)] == ["monitor.down"]
    with world.sessions() as session:
        assert len(session.scalars(select(Escalation)).all()) == 1


async def test_shared_probe_health_reaches_rules_that_do_not_filter_monitors(world: World) -> None:
    everyone, filtered = world.receiver(), world.receiver()
    world.rule(["probe.unhealthy"], channel_ids=[world.webhook_channel(everyone, "all")])
    world.rule(
        ["probe.unhealthy"], tags=["prod"], channel_ids=[world.webhook_channel(filtered, "tag")]
    )
    with transaction(world.sessions) as session:
        session.add(
            Event(
                organization_id=None,
                type="probe.unhealthy",
                probe_id="p1",
                payload={"probe": {"id": "p1", "name": "probe-us-1", "region": "us-east"}},
            )
        )
    async with worker_for(world) as worker:
        await step(worker)
    assert [r.json()["monitor"]["name"] for r in everyone.accepted] == [
        "Probe probe-us-1 (us-east)"
    ]
    assert filtered.accepted == []


async def test_incident_resolved_by_hand_stops_the_escalation(world: World) -> None:
    first, second = world.receiver(), world.receiver()
    policy = world.policy(
        [
            {"delay_minutes": 0, "channel_ids": [world.webhook_channel(first, "first")]},
            {"delay_minutes": 5, "channel_ids": [world.webhook_channel(second, "second")]},
        ]
    )
    world.rule(["monitor.down"], escalation_policy_id=policy)
    incident = world.incident()
    world.event("monitor.down", incident_id=incident)
    async with worker_for(world) as worker:
        await step(worker)
        with transaction(world.sessions) as session:
            row = session.get(Incident, incident)
            assert row is not None
            row.resolved_at = world.clock()
        world.clock.advance(minutes=10)
        await step(worker)
    assert len(first.accepted) == 1 and second.accepted == []
    with world.sessions() as session:
        assert session.scalars(select(Escalation)).one().status == "resolved"
