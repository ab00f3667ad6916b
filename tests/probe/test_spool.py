"""The probe's on-disk spool: order, limits, restarts; and the publisher in front of a
nats-server that goes away and comes back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import nats
import pytest

from picket.probe.checks import Outcome
from picket.probe.publisher import Publisher
from picket.probe.scheduler import Completed
from picket.probe.spool import Pending, Spool
from picket.proto.v1 import control_pb2 as pb
from picket.testing import NatsServer


def _items(start: int, count: int, size: int = 100) -> list[Pending]:
    return [
        Pending("results.r.p", f"m:r:{i}", bytes([i % 256]) * size)
        for i in range(start, start + count)
    ]


def test_keeps_order_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "p.sqlite"
    spool = Spool(path, max_bytes=1 << 20, max_age_s=3600)
    spool.append(_items(0, 5))
    first = spool.peek(2)
    assert [e.item.msg_id for e in first] == ["m:r:0", "m:r:1"]
    spool.remove(first)
    spool.close()

    reopened = Spool(path, max_bytes=1 << 20, max_age_s=3600)
    assert len(reopened) == 3 and reopened.size_bytes == 300
    assert [e.item.msg_id for e in reopened.peek(10)] == ["m:r:2", "m:r:3", "m:r:4"]
    reopened.close()


def test_drops_oldest_over_size(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_bytes=1000, max_age_s=3600)
    spool.append(_items(0, 8))
    with caplog.at_level(logging.WARNING, logger="picket.probe.spool"):
        spool.append(_items(8, 5))
    assert spool.size_bytes <= 1000 and len(spool) == 10
    assert spool.dropped == 3
    assert [e.item.msg_id for e in spool.peek(1)] == ["m:r:3"]
    assert "dropped the 3 oldest unpublished results (over 1000 bytes)" in caplog.text
    spool.close()


def test_drops_older_than_max_age(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    spool = Spool(tmp_path / "s.sqlite", max_bytes=1 << 20, max_age_s=60, clock=lambda: now[0])
    spool.append(_items(0, 4))
    now[0] += 30
    spool.append(_items(4, 2))
    now[0] += 40  # the first four are 70 s old, the last two 40 s
    with caplog.at_level(logging.WARNING, logger="picket.probe.spool"):
        remaining = spool.peek(10)
    assert [e.item.msg_id for e in remaining] == ["m:r:4", "m:r:5"]
    assert spool.dropped == 4 and len(spool) == 2
    assert "older than 60s" in caplog.text
    spool.close()


def _completed(slot_ms: int) -> Completed:
    assignment = pb.Assignment(monitor_id="m1", version=1, kind="http", interval_s=1)
    return Completed(assignment, slot_ms, slot_ms + 1, Outcome(ok=True), 1.0, 1, "")


async def _stream_count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return (await js.stream_info("TEST")).state.messages
    finally:
        await nc.close()


async def test_publisher_spools_through_nats_outage(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    try:
        setup = await nats.connect(server.url)
        await setup.jetstream().add_stream(name="TEST", subjects=["results.>"])
        await setup.close()
        nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        spool = Spool(tmp_path / "spool.sqlite", max_bytes=1 << 20, max_age_s=3600)
        publisher = Publisher("results.r.p", "r", "p", spool)
        publisher.attach(nc)
        stop = asyncio.Event()
        running = asyncio.create_task(publisher.run(stop))
        for slot in range(10):
            await publisher.submit(_completed(1_000 * (slot + 1)))
        async with asyncio.timeout(30):
            while publisher.published < 10:  # noqa: ASYNC110 - a counter of the publisher
                await asyncio.sleep(0.05)

        server.stop()
        async with asyncio.timeout(30):
            while nc.is_connected:  # noqa: ASYNC110 - the client notices on its own
                await asyncio.sleep(0.05)
        for slot in range(10, 30):
            await publisher.submit(_completed(1_000 * (slot + 1)))
        assert len(spool) == 20

        server.start()
        async with asyncio.timeout(30):
            while len(spool) or publisher.published < 30:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        stop.set()
        await running
        await nc.close()
        assert await _stream_count(server.url) == 30
    finally:
        server.stop()
