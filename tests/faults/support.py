"""What the fault scenarios share: seeding the database, publishing crafted results,
reading back what was stored, and a TCP proxy that can cut a database away."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import nats
from sqlalchemy import func, select

from picket.collector.ingest import STREAM, msg_id
from picket.db.accounts import create_organization
from picket.db.engine import transaction
from picket.db.models import CheckResult
from picket.db.monitors import create_monitor
from picket.proto.v1 import results_pb2
from picket.testing import Stack


def add_monitors(
    stack: Stack, url: str, count: int = 1, interval_s: int = 1, regions: list[str] | None = None
) -> list[str]:
    with transaction(stack.sessions) as session:
        org = create_organization(session, "faults")
        return [
            create_monitor(
                session,
                org.id,
                name=f"m{i}",
                type="http",
                url=url,
                interval_seconds=interval_s,
                timeout_seconds=2,
                regions=regions,
            ).id
            for i in range(count)
        ]


@dataclass(frozen=True)
class Row:
    monitor_id: str
    region: str
    probe_id: str
    scheduled_at: datetime
    received_at: datetime
    check_now_id: str | None


def rows(stack: Stack, monitor_id: str | None = None) -> list[Row]:
    query = select(
        CheckResult.monitor_id,
        CheckResult.region,
        CheckResult.probe_id,
        CheckResult.scheduled_at,
        CheckResult.received_at,
        CheckResult.check_now_id,
    ).order_by(CheckResult.scheduled_at)
    if monitor_id is not None:
        query = query.where(CheckResult.monitor_id == monitor_id)
    with stack.sessions() as session:
        return [Row(*r) for r in session.execute(query)]


def count_rows(stack: Stack) -> int:
    with stack.sessions() as session:
        return session.scalar(select(func.count()).select_from(CheckResult)) or 0


def gaps(slots: Iterable[datetime], interval_s: float) -> list[tuple[datetime, datetime]]:
    """Consecutive scheduled slots further apart than one interval: checks that are missing."""
    ordered = sorted(slots)
    return [
        (a, b)
        for a, b in zip(ordered, ordered[1:], strict=False)
        if (b - a).total_seconds() > interval_s * 1.5
    ]


def stream_messages(nats_url: str) -> int:
    """Distinct results JetStream holds (resends are dropped by its duplicate window)."""

    async def read() -> int:
        nc = await nats.connect(nats_url)
        try:
            return (await nc.jetstream().stream_info(STREAM)).state.messages
        finally:
            await nc.close()

    return asyncio.run(read())


# An hour ago, fixed for the session: recent enough that retention keeps the results, and
# the same in every call so that a set published twice is the same results.
RECENT_MS = (int(time.time()) - 3600) * 1000


def crafted(
    monitors: list[str], probes: dict[str, str], count: int, base_ms: int = RECENT_MS
) -> list[results_pb2.CheckResult]:
    """`count` distinct results spread over monitors and regions, one per slot."""
    regions = sorted(probes)
    out = []
    for i in range(count):
        region = regions[i % len(regions)]
        slot = base_ms + (i // (len(regions) * len(monitors))) * 1000
        out.append(
            results_pb2.CheckResult(
                monitor_id=monitors[(i // len(regions)) % len(monitors)],
                monitor_version=1,
                region=region,
                probe_id=probes[region],
                scheduled_at_ms=slot,
                ok=True,
                status_code=200,
                latency_ms=5.0,
            )
        )
    return out


def publish(nats_url: str, results: list[results_pb2.CheckResult]) -> None:
    async def send() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            for start in range(0, len(results), 1000):
                await asyncio.gather(
                    *(
                        js.publish(
                            f"results.{r.region}.{r.probe_id}",
                            r.SerializeToString(),
                            headers={
                                "Nats-Msg-Id": msg_id(r.monitor_id, r.region, r.scheduled_at_ms)
                            },
                        )
                        for r in results[start : start + 1000]
                    )
                )
        finally:
            await nc.close()

    asyncio.run(send())


class TcpProxy:
    """Forwards a free loopback port to a server; cut() drops every connection and refuses
    new ones, as a database host that went away would; restore() lets them through again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._conns.discard(source)
                self._conns.discard(sink)

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()
