"""Fault 3: the collector is killed with SIGKILL in the middle of storing. After a restart
every published result is stored exactly once."""

from __future__ import annotations

from sqlalchemy import select

from picket.db.models import CheckResult
from picket.testing import NatsServer, Stack, wait_for
from tests.faults.support import add_monitors, count_rows, crafted, publish, stream_messages

COUNT = 15_000


def test_sigkill_mid_batch_stores_each_result_once(stack: Stack, nats: NatsServer) -> None:
    monitors = add_monitors(stack, "http://127.0.0.1:9/", count=50, interval_s=60)
    probes = {region: stack.create_probe(region)[0] for region in ("us-east", "eu-west")}
    # The stream exists once a collector has started; results wait in it meanwhile.
    first = stack.start_collector()
    first.kill()
    publish(nats.url, crafted(monitors, probes, COUNT))
    assert stream_messages(nats.url) == COUNT

    collector = stack.start_collector(name="collector-killed")
    wait_for(lambda: count_rows(stack) > 0, timeout=30, interval=0.01, message="storing begun")
    collector.kill()
    at_kill = count_rows(stack)
    assert 0 < at_kill < COUNT, f"the kill missed the ingest ({at_kill} of {COUNT} stored)"

    stack.start_collector(name="collector-restarted")
    # Batches the dead collector held unacked come back after the consumer's ack wait.
    wait_for(lambda: count_rows(stack) == COUNT, timeout=60, message=f"all {COUNT} stored")
    with stack.sessions() as session:
        keys = session.execute(
            select(CheckResult.monitor_id, CheckResult.region, CheckResult.scheduled_at)
        ).all()
    assert len(set(keys)) == len(keys) == COUNT
