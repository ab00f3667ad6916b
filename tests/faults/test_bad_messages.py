"""Fault 8: bad messages on the results subject. Each is terminated (never redelivered),
counted in the log, and results around them are stored as usual."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from nats.js.errors import APIError

from picket.collector.ingest import DURABLE, MAX_PAYLOAD, STREAM
from picket.proto.v1 import results_pb2
from picket.testing import NatsServer, Stack, wait_for
from tests.faults.support import add_monitors, count_rows


def _result(monitor: str, region: str, probe: str, slot_ms: int) -> results_pb2.CheckResult:
    return results_pb2.CheckResult(
        monitor_id=monitor,
        monitor_version=1,
        region=region,
        probe_id=probe,
        scheduled_at_ms=slot_ms,
        ok=True,
        latency_ms=1.0,
    )


async def _publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        for i, (subject, payload) in enumerate(messages):
            await js.publish(subject, payload, headers={"Nats-Msg-Id": f"bad-{i}"})
        with pytest.raises(APIError):
            # Oversized payloads are refused by the stream itself, before any consumer.
            await js.publish(messages[0][0], b"x" * (MAX_PAYLOAD + 1))
    finally:
        await nc.close()


async def _consumer_settled(url: str) -> bool:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, DURABLE)
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0
    finally:
        await nc.close()


def test_bad_messages_are_terminated(stack: Stack, nats: NatsServer) -> None:
    collector = stack.start_collector()
    (monitor,) = add_monitors(stack, "http://127.0.0.1:9/", regions=["us-east"])
    us_probe, _ = stack.create_probe("us-east")
    eu_probe, _ = stack.create_probe("eu-west")
    slot = int(time.time() * 1000) // 1000 * 1000
    good = _result(monitor, "us-east", us_probe, slot)
    messages = [
        (f"results.us-east.{us_probe}", b"\xff\x00 not a protobuf"),
        (
            f"results.us-east.{us_probe}",
            _result("no-such-monitor", "us-east", us_probe, slot).SerializeToString(),
        ),
        # A probe of eu-west claiming a us-east result.
        (
            f"results.us-east.{eu_probe}",
            _result(monitor, "us-east", eu_probe, slot).SerializeToString(),
        ),
        # The subject names another probe than the payload.
        (f"results.us-east.{eu_probe}", good.SerializeToString()),
        (f"results.us-east.{us_probe}", good.SerializeToString()),
    ]
    asyncio.run(_publish_all(nats.url, messages))
    wait_for(lambda: count_rows(stack) == 1, timeout=30, message="the good result stored")
    wait_for(
        lambda: asyncio.run(_consumer_settled(nats.url)),
        timeout=30,
        message="every message acked or terminated, none redelivered",
    )
    log = collector.log_text()
    for reason in (
        "malformed",
        "unknown monitor",
        "unknown probe, or probe not allowed in that region",
        "subject does not match the result's region and probe",
    ):
        assert log.count(f": {reason}") == 1, log
    assert collector.running
