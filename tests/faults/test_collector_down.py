"""Fault 1: the collector goes away. Probes keep checking on their last assignments and
keep publishing; when a collector returns, nothing in between is missing."""

from __future__ import annotations

from picket.testing import NatsServer, Stack, wait_for
from tests.faults.support import add_monitors, gaps, rows, stream_messages
from tests.http_targets import http_target


def test_collector_down_loses_nothing(stack: Stack, nats: NatsServer) -> None:
    collector = stack.start_collector()
    probe, _ = stack.start_probe("us-east")
    with http_target() as target:
        (monitor,) = add_monitors(stack, target.url, regions=["us-east"])
        wait_for(lambda: len(rows(stack, monitor)) >= 2, timeout=30, message="first results")

        collector.kill()
        published = stream_messages(nats.url)
        wait_for(
            lambda: stream_messages(nats.url) >= published + 4,
            timeout=30,
            message="the probe to keep checking and publishing without a collector",
        )
        stored_while_down = len(rows(stack, monitor))

        stack.start_collector(name="collector-again")
        wait_for(
            lambda: len(rows(stack, monitor)) >= stored_while_down + 4,
            timeout=30,
            message="the returning collector to store what was published meanwhile",
        )
        probe.stop()
        total = stream_messages(nats.url)
        wait_for(
            lambda: len(rows(stack, monitor)) == total,
            timeout=30,
            message=f"all {total} published results stored",
        )
    slots = [r.scheduled_at for r in rows(stack, monitor)]
    assert gaps(slots, interval_s=1) == [], stack.logs()
    assert len(set(slots)) == len(slots)
