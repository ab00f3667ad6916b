"""Connected probes' assignment streams: full set on connect, deltas after, check-now."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from picket.collector.snapshot import Snapshot, build_snapshot, read_signature
from picket.proto.v1 import control_pb2 as pb

log = logging.getLogger("picket.collector.hub")


@dataclass(eq=False)
class ProbeStream:
    probe_id: str
    region: str
    # What the probe runs, as far as we told it: monitor id -> version.
    sent: dict[str, int]
    queue: asyncio.Queue[pb.AssignmentBatch | None] = field(default_factory=asyncio.Queue)
    initial_sent: bool = False

    def close(self) -> None:
        self.queue.put_nowait(None)


class AssignmentHub:
    """Keeps every connected probe's checks in step with the database."""

    def __init__(
        self, sessions: sessionmaker[Session], ping_interval_s: float, poll_interval_s: float = 0.5
    ) -> None:
        self._sessions = sessions
        self._ping_interval_s = ping_interval_s
        self._poll_interval_s = poll_interval_s
        self._streams: dict[str, ProbeStream] = {}
        self._snapshot: Snapshot | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def open(self, probe_id: str, region: str, running: dict[str, int]) -> ProbeStream:
        previous = self._streams.get(probe_id)
        if previous is not None:
            # A probe reconnecting replaces its older stream.
            previous.close()
        stream = ProbeStream(probe_id, region, dict(running))
        self._streams[probe_id] = stream
        self._wake.set()
        return stream

    def release(self, stream: ProbeStream) -> None:
        if self._streams.get(stream.probe_id) is stream:
            del self._streams[stream.probe_id]

    def close_probe(self, probe_id: str, reason: str) -> None:
        stream = self._streams.pop(probe_id, None)
        if stream is not None:
            log.info("closing assignment stream of probe %s: %s", probe_id, reason)
            stream.close()

    def poke(self) -> None:
        """Re-read the database now rather than at the next poll."""
        self._wake.set()

    def request_check_now(self, monitor_id: str, regions: Iterable[str]) -> int:
        """Ask the probes running monitor_id in `regions` to check it at once."""
        if self._snapshot is None:
            return 0
        placed = self._snapshot.placement.get(monitor_id, {})
        asked = 0
        for region in regions:
            probe_id = placed.get(region)
            stream = self._streams.get(probe_id) if probe_id else None
            if stream is None or monitor_id not in stream.sent:
                continue
            request = pb.CheckNow(monitor_id=monitor_id, request_id=uuid.uuid4().hex)
            stream.queue.put_nowait(pb.AssignmentBatch(check_now=[request]))
            asked += 1
        return asked

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.reconcile()
            except Exception:
                log.exception("assignment reconcile failed; retrying")
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(
                waiters, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
        for stream in list(self._streams.values()):
            stream.close()

    async def reconcile(self) -> None:
        async with self._lock:
            connected = set(self._streams)
            fresh = [s for s in self._streams.values() if not s.initial_sent]
            snapshot = self._snapshot
            if snapshot is None or fresh or await asyncio.to_thread(self._changed, snapshot):
                snapshot = await asyncio.to_thread(self._build, connected)
                self._snapshot = snapshot
            for probe_id in snapshot.revoked & set(self._streams):
                self.close_probe(probe_id, "probe revoked")
            for stream in list(self._streams.values()):
                self._push(stream, snapshot.assignments.get(stream.probe_id, {}))

    def _changed(self, snapshot: Snapshot) -> bool:
        with self._sessions() as session:
            return read_signature(session, self._ping_interval_s) != snapshot.signature

    def _build(self, connected: set[str]) -> Snapshot:
        with self._sessions() as session:
            return build_snapshot(session, self._ping_interval_s, connected)

    @staticmethod
    def _push(stream: ProbeStream, desired: dict[str, pb.Assignment]) -> None:
        upserts = [a for mid, a in desired.items() if stream.sent.get(mid) != a.version]
        removals = [mid for mid in stream.sent if mid not in desired]
        if not upserts and not removals and stream.initial_sent:
            return
        batch = pb.AssignmentBatch(
            initial=not stream.initial_sent, upserts=upserts, removals=removals
        )
        stream.sent = {mid: a.version for mid, a in desired.items()}
        stream.initial_sent = True
        stream.queue.put_nowait(batch)
