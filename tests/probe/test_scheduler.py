"""The probe's scheduler with real HTTP checks against a local server."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from picket.probe.checks import CheckContext
from picket.probe.scheduler import Completed, Scheduler, slot_at_or_before
from picket.proto.v1 import control_pb2 as pb
from tests.http_targets import http_target


def _assignment(url: str, version: int = 1, interval_s: int = 1, **kw: object) -> pb.Assignment:
    fields = {
        "monitor_id": "m1",
        "version": version,
        "kind": "http",
        "target": url,
        "interval_s": interval_s,
        "timeout_s": 2,
        "offset_ms": 250,
        "spec_json": json.dumps({"expected_status": ["2xx"]}),
        "retries": 0,
        "retry_delay_ms": 50,
    }
    fields.update(kw)
    return pb.Assignment(**fields)


async def _collect(scheduler: Scheduler, results: list[Completed], count: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    try:
        async with asyncio.timeout(30):
            while len(results) < count:  # noqa: ASYNC110 - results arrive from the sink
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


def test_slots_align_to_offset() -> None:
    assert slot_at_or_before(10_250, 1000, 250) == 10_250
    assert slot_at_or_before(10_249, 1000, 250) == 9_250
    assert slot_at_or_before(65_000, 60_000, 7_000) == 7_000


async def test_runs_at_once_then_on_its_slots() -> None:
    results: list[Completed] = []

    async def sink(done: Completed) -> None:
        results.append(done)

    with http_target() as target:
        scheduler = Scheduler(sink, CheckContext(allow_private_targets=True))
        assert scheduler.upsert(_assignment(target.url))
        await _collect(scheduler, results, 3)
    slots = [r.scheduled_ms for r in results[:3]]
    assert all(s % 1000 == 250 for s in slots), slots
    assert len(set(slots)) == 3  # three distinct slots, whatever order they finished in
    assert all(r.outcome.ok and r.outcome.status_code == 200 for r in results)
    assert all(r.latency_ms > 0 and r.attempts == 1 for r in results)


async def test_retry_hides_one_failure() -> None:
    results: list[Completed] = []

    async def sink(done: Completed) -> None:
        results.append(done)

    with http_target() as target:
        target.fail_next = 1  # the first request fails, the retry succeeds
        scheduler = Scheduler(sink, CheckContext(allow_private_targets=True))
        scheduler.upsert(_assignment(target.url, retries=1, interval_s=60))
        await _collect(scheduler, results, 1)
    assert results[0].outcome.ok and results[0].attempts == 2


async def test_failure_after_retries_reports_the_error_kind() -> None:
    results: list[Completed] = []

    async def sink(done: Completed) -> None:
        results.append(done)

    with http_target() as target:
        target.status = 503
        scheduler = Scheduler(sink, CheckContext(allow_private_targets=True))
        scheduler.upsert(_assignment(target.url, retries=2, interval_s=60))
        await _collect(scheduler, results, 1)
        assert len(target.requests) == 3
    outcome = results[0].outcome
    assert not outcome.ok and outcome.error_kind == "status" and results[0].attempts == 3


async def test_unknown_kind_is_refused_once(caplog: pytest.LogCaptureFixture) -> None:
    async def sink(done: Completed) -> None:
        raise AssertionError("nothing should run")

    scheduler = Scheduler(sink, CheckContext())
    with caplog.at_level(logging.ERROR):
        assert not scheduler.upsert(_assignment("http://x/", kind="gopher"))
    assert "unknown kind 'gopher'" in caplog.text
    assert scheduler.running == {}


async def test_new_version_replaces_the_old() -> None:
    results: list[Completed] = []

    async def sink(done: Completed) -> None:
        results.append(done)

    with http_target() as old, http_target() as new:
        scheduler = Scheduler(sink, CheckContext(allow_private_targets=True))
        scheduler.upsert(_assignment(old.url, interval_s=60))
        scheduler.upsert(_assignment(new.url, version=2, interval_s=1))
        await _collect(scheduler, results, 2)
    assert {r.assignment.version for r in results[1:]} == {2}
    assert scheduler.running == {"m1": 2}
