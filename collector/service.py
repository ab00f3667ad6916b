"""The collector process: control plane, ingest and background loops, started and stopped
together."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable

import grpc
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from picket.collector.consensus import ConsensusLoop, ConsensusProcessor
from picket.collector.control import ProbeControl
from picket.collector.heartbeats import HeartbeatEvaluator
from picket.collector.hub import AssignmentHub
from picket.collector.ingest import Ingestor, ResultStore, ensure_stream
from picket.collector.notify.worker import NotificationWorker
from picket.collector.retention import Retention
from picket.collector.rollups import RollupProcessor
from picket.collector.tls_expiry import TlsExpiryProcessor
from picket.db.engine import make_engine, make_sessionmaker
from picket.health import database_check, health_server
from picket.nats_client import nats_callbacks
from picket.proto.v1 import control_pb2_grpc as pb_grpc
from picket.settings import Settings

log = logging.getLogger("picket.collector")

# NATS core, not JetStream: a check-now is only useful at once, and every collector
# hears it so that whichever holds the probe's stream delivers it.
CHECK_NOW_SUBJECT = "picket.checknow"

Loop = Callable[[asyncio.Event], Awaitable[None]]


class Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.effective_database_url)
        # Ingest, consensus and the loops read state they then change; placement and the
        # probes' control stream only read or stamp.
        self.sessions = make_sessionmaker(self.engine, serialized=True)
        self.readers = make_sessionmaker(self.engine)
        self.hub = AssignmentHub(self.readers, settings.ping_interval_s)
        self.consensus = ConsensusProcessor(confirm=self.request_check_now)
        # Rollups after consensus: all in the ingest transaction.
        self.store = ResultStore(
            self.sessions, [self.consensus, TlsExpiryProcessor(), RollupProcessor()]
        )
        self.notifier = NotificationWorker(
            self.sessions,
            secret_key=settings.secret_key,
            api_public_url=settings.api_public_url
            or f"http://{settings.api_host}:{settings.api_port}",
        )
        self.loops: list[Loop] = [
            self.hub.run,
            ConsensusLoop(self.sessions).run,
            self.notifier.run,
            Retention(self.sessions, settings).run,
        ]
        self.loops.append(HeartbeatEvaluator(self.sessions, self.store).run)
        self.ingestor: Ingestor | None = None
        self.nc: NATS | None = None
        self.server: grpc.aio.Server | None = None
        self.bound_port: int | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._publishing: set[asyncio.Future[None]] = set()
        self.health = health_server(
            settings.health_host,
            settings.health_port,
            {
                "database": database_check(self.engine),
                "nats": lambda: self.nc is not None and self.nc.is_connected,
                "grpc": lambda: bool(self.bound_port),
            },
        )

    async def start(self) -> None:
        self.nc = await nats.connect(
            self.settings.nats_url,
            name="picket-collector",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            **nats_callbacks(log, f"NATS at {self.settings.nats_url}"),
        )
        self._event_loop = asyncio.get_running_loop()
        await self.nc.subscribe(CHECK_NOW_SUBJECT, cb=self._on_check_now)
        js = self.nc.jetstream()
        await ensure_stream(js)
        self.ingestor = Ingestor(js, self.store, batch_size=self.settings.ingest_batch_size)
        self.loops.append(self.ingestor.run)
        self.server = grpc.aio.server()
        pb_grpc.add_ProbeControlServicer_to_server(
            ProbeControl(
                self.readers, self.hub, self.settings.nats_url, self.settings.ping_interval_s
            ),
            self.server,
        )
        self.bound_port = self.server.add_insecure_port(self.settings.collector_addr)
        if not self.bound_port:
            raise RuntimeError(f"cannot listen on {self.settings.collector_addr}")
        await self.server.start()
        log.info(
            "collector listening on %s (gRPC), consuming results from %s",
            self.settings.collector_addr,
            self.settings.nats_url,
        )

    def request_check_now(self, monitor_id: str, regions: Iterable[str]) -> None:
        """Ask the probes running monitor_id in `regions` to check it at once; safe to call
        from any thread. It goes over NATS core to every collector, because the probe that
        must run the check may hold its assignment stream with another collector."""
        if self._event_loop is None or self.nc is None:
            return
        payload = json.dumps({"monitor_id": monitor_id, "regions": sorted(regions)}).encode()
        self._event_loop.call_soon_threadsafe(self._publish_check_now, payload)

    def _publish_check_now(self, payload: bytes) -> None:
        assert self.nc is not None
        task = asyncio.ensure_future(self.nc.publish(CHECK_NOW_SUBJECT, payload))
        # Held until done: the event loop keeps only weak references to tasks.
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _on_check_now(self, msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            monitor_id, regions = str(request["monitor_id"]), [str(r) for r in request["regions"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed check-now request on %s", msg.subject)
            return
        asked = self.hub.request_check_now(monitor_id, regions)
        if asked:
            log.info("check now: monitor %s asked of %d probe(s) connected here", monitor_id, asked)

    async def run(self, stop: asyncio.Event) -> None:
        # Health first: /healthz answers while NATS and the database are still awaited.
        tasks = [asyncio.create_task(self.health.run(stop))] if self.health else []
        await self.start()
        tasks += [asyncio.create_task(loop(stop)) for loop in self.loops]
        try:
            await stop.wait()
        finally:
            if self.server is not None:
                await self.server.stop(grace=2)
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.nc is not None and not self.nc.is_closed:
                # Acks are already sent after each batch; flush them and close. (Draining a
                # pull subscription waits on a queue nats-py never finishes.)
                try:
                    await asyncio.wait_for(self.nc.flush(), timeout=2)
                except Exception:
                    log.warning("could not flush NATS at shutdown")
                await self.nc.close()
            self.engine.dispose()
            log.info("collector stopped")
