"""The delivery worker counts each attempt's outcome in picket_notification_deliveries."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.collector.notify.conftest import World
from tests.collector.notify.test_worker import step, worker_for


def count(status: str) -> float:
    labels = {"channel_type": "webhook", "status": status}
    return REGISTRY.get_sample_value("picket_notification_deliveries_total", labels) or 0.0


async def test_deliveries_are_counted_by_outcome(world: World) -> None:
    receiver = world.receiver(script=[500])
    world.rule(["monitor.down"], channel_ids=[world.webhook_channel(receiver)])
    world.event("monitor.down")
    before = {status: count(status) for status in ("retrying", "delivered")}
    async with worker_for(world) as worker:
        await step(worker)
        world.clock.advance(seconds=10)
        await step(worker)
    assert count("retrying") - before["retrying"] == 1
    assert count("delivered") - before["delivered"] == 1
