"""Runs assigned checks at their slots: one heap for every check, one task per due check,
bounded concurrency. The scheduler owns the deadline, timing and retries of every kind."""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from picket import metrics
from picket.errors import ErrorKind
from picket.probe.checks import CHECKS, CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.proto.v1 import control_pb2 as pb

log = logging.getLogger("picket.probe.scheduler")


@dataclass(frozen=True)
class Completed:
    """One finished check, ready to publish."""

    assignment: pb.Assignment
    scheduled_ms: int
    started_ms: int
    outcome: Outcome
    latency_ms: float
    attempts: int
    check_now_id: str


Sink = Callable[[Completed], Awaitable[None]]


def slot_at_or_before(now_ms: int, interval_ms: int, offset_ms: int) -> int:
    return ((now_ms - offset_ms) // interval_ms) * interval_ms + offset_ms


class Scheduler:
    def __init__(
        self,
        sink: Sink,
        ctx: CheckContext,
        concurrency: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink = sink
        self._ctx = ctx
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._assignments: dict[str, pb.Assignment] = {}
        self._heap: list[tuple[int, int, str, int]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.lateness_ms: list[float] = []

    @property
    def running(self) -> dict[str, int]:
        return {mid: a.version for mid, a in self._assignments.items()}

    def _push(self, due_ms: int, assignment: pb.Assignment) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due_ms, self._seq, assignment.monitor_id, assignment.version))
        self._wake.set()

    def upsert(self, assignment: pb.Assignment) -> bool:
        """Start or update a check; an unknown kind is refused here, once."""
        if assignment.kind not in CHECKS:
            log.error(
                "refusing check of monitor %s: unknown kind %r (this probe runs: %s)",
                assignment.monitor_id,
                assignment.kind,
                ", ".join(sorted(CHECKS)),
            )
            return False
        if assignment.interval_s <= 0:
            log.error(
                "refusing check of monitor %s: interval must be positive", assignment.monitor_id
            )
            return False
        is_new = assignment.monitor_id not in self._assignments
        self._assignments[assignment.monitor_id] = assignment
        interval_ms = assignment.interval_s * 1000
        now_ms = int(self._clock() * 1000)
        current = slot_at_or_before(now_ms, interval_ms, assignment.offset_ms % interval_ms)
        # A new check runs at once for the slot in progress, so results appear without
        # waiting a whole interval; its slot time keeps resends deduplicated.
        self._push(current if is_new else current + interval_ms, assignment)
        return True

    def remove(self, monitor_id: str) -> None:
        self._assignments.pop(monitor_id, None)

    def check_now(self, monitor_id: str, request_id: str) -> None:
        assignment = self._assignments.get(monitor_id)
        if assignment is None:
            return
        now_ms = int(self._clock() * 1000)
        self._spawn(assignment, now_ms, request_id)

    def _spawn(self, assignment: pb.Assignment, scheduled_ms: int, check_now_id: str) -> None:
        task = asyncio.create_task(self._execute(assignment, scheduled_ms, check_now_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now_ms = int(self._clock() * 1000)
            while self._heap and self._heap[0][0] <= now_ms:
                due_ms, _, monitor_id, version = heapq.heappop(self._heap)
                assignment = self._assignments.get(monitor_id)
                if assignment is None or assignment.version != version:
                    continue  # removed or replaced: its newer entry is in the heap
                self._spawn(assignment, due_ms, "")
                self._push(due_ms + assignment.interval_s * 1000, assignment)
            delay = (self._heap[0][0] - now_ms) / 1000 if self._heap else 1.0
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, min(delay, 1.0))):
                    await self._wake.wait()
            except TimeoutError:
                pass
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _attempt(self, spec: CheckSpec) -> tuple[Outcome, float]:
        check = CHECKS[spec.kind]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(spec.timeout_s):
                outcome = await check(spec, self._ctx)
        except TimeoutError:
            outcome = Outcome.failure(ErrorKind.TIMEOUT, f"no answer within {spec.timeout_s:g}s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            kind, message = classify(exc)
            outcome = Outcome.failure(kind, message)
        measured = (time.perf_counter() - started) * 1000
        return outcome, measured if outcome.latency_ms is None else outcome.latency_ms

    async def _execute(
        self, assignment: pb.Assignment, scheduled_ms: int, check_now_id: str
    ) -> None:
        async with self._semaphore:
            started_ms = int(self._clock() * 1000)
            if not check_now_id:
                self.lateness_ms.append(max(0, started_ms - scheduled_ms))
                metrics.record_lateness((started_ms - scheduled_ms) / 1000)
                if len(self.lateness_ms) > 100_000:
                    del self.lateness_ms[:50_000]
            spec = CheckSpec(
                monitor_id=assignment.monitor_id,
                kind=assignment.kind,
                target=assignment.target,
                timeout_s=float(assignment.timeout_s or 10),
                settings=json.loads(assignment.spec_json) if assignment.spec_json else {},
            )
            attempts = 0
            while True:
                attempts += 1
                outcome, latency_ms = await self._attempt(spec)
                # Retry before reporting, so one dropped packet never reaches the collector.
                if outcome.ok or attempts > assignment.retries:
                    break
                await asyncio.sleep(assignment.retry_delay_ms / 1000)
        metrics.record_check(
            assignment.kind, outcome.error_kind.value if outcome.error_kind else None
        )
        await self._sink(
            Completed(
                assignment, scheduled_ms, started_ms, outcome, latency_ms, attempts, check_now_id
            )
        )
