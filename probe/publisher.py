"""Publishes results to JetStream with deterministic message ids, keeping them while NATS is
unreachable and sending them when it returns."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from picket import metrics
from picket.probe.scheduler import Completed
from picket.probe.spool import Pending, Spool
from picket.proto.v1 import results_pb2

log = logging.getLogger("picket.probe.publisher")

# Results published before waiting for their acks. With the event loop busy with checks
# an ack round trip takes a few of its turns; 128 at a time capped a probe at ~900/s.
IN_FLIGHT = 512
ACK_TIMEOUT_S = 5.0
# A result waits up to this long for others to go with it: one write to NATS for dozens
# of results rather than one each, a tenth of the CPU per check at 1,000 checks/s.
LINGER_S = 0.05
# Results kept in memory while NATS answers; beyond this they wait in the spool on disk.
MEMORY_LIMIT = 10_000


def encode(done: Completed, region: str, probe_id: str) -> results_pb2.CheckResult:
    outcome = done.outcome
    return results_pb2.CheckResult(
        monitor_id=done.assignment.monitor_id,
        monitor_version=done.assignment.version,
        region=region,
        probe_id=probe_id,
        scheduled_at_ms=done.scheduled_ms,
        started_at_ms=done.started_ms,
        ok=outcome.ok,
        error_kind=outcome.error_kind.value if outcome.error_kind else "",
        error=outcome.error[:2000],
        status_code=outcome.status_code or 0,
        detail_json=json.dumps(outcome.detail, default=str) if outcome.detail else "",
        latency_ms=round(done.latency_ms, 3),
        timings=outcome.timings,
        attempts=done.attempts,
        check_now_id=done.check_now_id,
    )


def result_msg_id(monitor_id: str, region: str, scheduled_ms: int) -> str:
    return f"{monitor_id}:{region}:{scheduled_ms}"


class Publisher:
    """Sends results in order, oldest first. While NATS answers they pass through memory;
    when a publish fails, or the probe stops, what is not sent goes to the on-disk spool,
    and new results follow it there until the spool is drained."""

    def __init__(self, subject: str, region: str, probe_id: str, spool: Spool) -> None:
        self._subject = subject
        self._region = region
        self._probe_id = probe_id
        self.spool = spool
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._memory: deque[Pending] = deque()
        self._in_flight: list[Pending] = []
        self._ready = asyncio.Event()
        self._outage = False
        self.published = 0
        self.failures = 0
        metrics.track_spool_depth(lambda: self.depth)

    @property
    def depth(self) -> int:
        return len(self._memory) + len(self._in_flight) + len(self.spool)

    def attach(self, nc: NATS) -> None:
        """NATS is connected: start sending (what was spooled first)."""
        self._nc = nc
        self._js = nc.jetstream()
        self._ready.set()

    @property
    def _connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def submit(self, done: Completed) -> None:
        message = encode(done, self._region, self._probe_id)
        item = Pending(
            self._subject,
            result_msg_id(message.monitor_id, self._region, message.scheduled_at_ms),
            message.SerializeToString(),
        )
        if len(self.spool) or not self._connected or len(self._memory) >= MEMORY_LIMIT:
            self._spill([item])
        else:
            self._memory.append(item)
        self._ready.set()

    def _spill(self, items: list[Pending]) -> None:
        if not self._outage:
            self._outage = True
            log.warning(
                "NATS unreachable or behind: keeping results in the spool %s until it answers",
                self.spool.path,
            )
        self.spool.append(items)

    def _persist(self) -> None:
        """Everything not yet sent goes to disk, oldest first."""
        items = self._in_flight + list(self._memory)
        self._in_flight = []
        self._memory.clear()
        if items:
            self.spool.append(items)

    async def _send_all(self, items: list[Pending]) -> list[bool]:
        """Publish every item, then wait for their acks together: one ack future each
        rather than a request (and a task) each, a third of the CPU per result."""
        if self._js is None:
            return [False] * len(items)
        acks: list[asyncio.Future[Any] | None] = []
        for item in items:
            try:
                ack = await self._js.publish_async(
                    item.subject, item.payload, headers={"Nats-Msg-Id": item.msg_id}
                )
            except Exception as exc:
                self._failed(item, exc)
                ack = None
            acks.append(ack)
        waiting = [ack for ack in acks if ack is not None]
        if waiting:
            await asyncio.wait(waiting, timeout=ACK_TIMEOUT_S)
        sent: list[bool] = []
        for item, ack in zip(items, acks, strict=True):
            if ack is None:
                sent.append(False)
                continue
            error: BaseException | None
            if not ack.done():
                ack.cancel()  # which also frees its place among the client's pending publishes
                error = TimeoutError(f"no ack within {ACK_TIMEOUT_S:g}s")
            else:
                error = asyncio.CancelledError() if ack.cancelled() else ack.exception()
            if error is not None:
                self._failed(item, error)
            sent.append(error is None)
        return sent

    def _failed(self, item: Pending, exc: BaseException) -> None:
        self.failures += 1
        metrics.record_publish_failure()
        log.debug("publish of %s failed: %s", item.msg_id, exc)

    async def _wait(self, stop: asyncio.Event, at_most_s: float | None) -> None:
        self._ready.clear()
        waiter = asyncio.ensure_future(self._ready.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            [waiter, stopper], timeout=at_most_s, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        stopper.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        try:
            while not stop.is_set() or (self._memory and self._connected):
                if not self._connected:
                    self._persist()
                    await self._wait(stop, at_most_s=0.5)
                    continue
                if self._memory:
                    if len(self._memory) < IN_FLIGHT and not stop.is_set():
                        await asyncio.sleep(LINGER_S)
                    ok = await self._send_memory()
                elif len(self.spool) and not stop.is_set():
                    ok = await self._send_spooled()
                else:
                    await self._wait(stop, at_most_s=None)
                    continue
                if ok:
                    backoff = 0.2
                    continue
                if stop.is_set():
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        finally:
            self._persist()
            if len(self.spool):
                log.warning(
                    "stopping with %d unpublished results in the spool %s; they are sent at "
                    "the next start",
                    len(self.spool),
                    self.spool.path,
                )

    async def _send_memory(self) -> bool:
        count = min(IN_FLIGHT, len(self._memory))
        self._in_flight = [self._memory.popleft() for _ in range(count)]
        sent = await self._send_all(self._in_flight)
        failed = [item for item, ok in zip(self._in_flight, sent, strict=True) if not ok]
        self.published += len(sent) - len(failed)
        self._in_flight = []
        if failed:
            # Order is kept: the failed ones are older than anything still in memory.
            self._spill(failed + list(self._memory))
            self._memory.clear()
        return not failed

    async def _send_spooled(self) -> bool:
        entries = self.spool.peek(IN_FLIGHT)
        sent = await self._send_all([e.item for e in entries])
        done = [e for e, ok in zip(entries, sent, strict=True) if ok]
        self.spool.remove(done)
        self.published += len(done)
        if len(done) < len(entries):
            return False
        if not len(self.spool) and self._outage:
            self._outage = False
            log.info("spool drained: %d results sent after the outage", self.spool.sent)
        return True
