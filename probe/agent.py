"""The probe agent: registers, keeps one WatchAssignments stream open, runs checks,
publishes results. It keeps checking on its last assignments while the collector is away."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass

import grpc
import nats
from nats.aio.client import Client as NATS

from picket import __version__
from picket.health import health_server
from picket.nats_client import nats_callbacks
from picket.probe.checks import CheckContext
from picket.probe.publisher import Publisher
from picket.probe.scheduler import Scheduler
from picket.probe.spool import Spool
from picket.proto.v1 import control_pb2 as pb
from picket.proto.v1 import control_pb2_grpc as pb_grpc
from picket.settings import Settings

log = logging.getLogger("picket.probe")

BACKOFF_MAX_S = 10.0


class ProbeRefused(Exception):
    """The collector does not accept this probe's token: retrying cannot help."""


@dataclass(frozen=True)
class Registration:
    probe_id: str
    region: str
    nats_url: str
    subject: str
    ping_interval_s: float


class ProbeAgent:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scheduler: Scheduler | None = None
        self.publisher: Publisher | None = None
        self.registration: Registration | None = None
        self._metadata = (("authorization", f"Bearer {settings.probe_token}"),)
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.ProbeControlStub | None = None
        self._nc: NATS | None = None
        self._clock_offset_s = settings.clock_offset_s
        self.health = health_server(
            settings.health_host,
            settings.health_port,
            {
                "registered": lambda: self.registration is not None,
                "nats": lambda: self._nc is not None and self._nc.is_connected,
            },
        )

    def _clock(self) -> float:
        return time.time() + self._clock_offset_s

    async def _connect_nats(self, stop: asyncio.Event) -> None:
        """Connect to NATS, retrying until it answers; the client reconnects by itself after
        that. Until then results wait in the spool."""
        assert self.registration is not None and self.publisher is not None
        # An explicit PICKET_NATS_URL (a region's own NATS user, say) wins over the
        # collector's suggestion.
        explicit = "nats_url" in self.settings.model_fields_set
        url = self.settings.nats_url if explicit else self.registration.nats_url
        while not stop.is_set():
            try:
                # With reconnects unlimited, the client keeps retrying a first connection
                # that fails, so this returns once NATS answers.
                self._nc = await nats.connect(
                    url,
                    name=f"picket-probe-{self.registration.probe_id}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    **nats_callbacks(log, f"NATS at {url}"),
                )
                self.publisher.attach(self._nc)
                return
            except Exception as exc:
                log.warning("NATS at %s: %s; retrying", url, exc)
                await _sleep_or_stop(stop, 1.0)

    async def _register(self, stop: asyncio.Event) -> Registration | None:
        assert self._stub is not None
        backoff = 0.5
        while not stop.is_set():
            try:
                reply = await self._stub.RegisterProbe(
                    pb.RegisterProbeRequest(
                        version=__version__,
                        hostname=socket.gethostname(),
                        clock_unix_ms=int(self._clock() * 1000),
                    ),
                    metadata=self._metadata,
                    timeout=10,
                )
                return Registration(
                    reply.probe_id,
                    reply.region,
                    reply.nats_url,
                    reply.subject_prefix,
                    float(reply.ping_interval_s or 10),
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    raise ProbeRefused(exc.details()) from None
                log.warning(
                    "collector %s unreachable (%s); retrying in %.1fs",
                    self.settings.collector_addr,
                    exc.code().name,
                    backoff,
                )
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        self._channel = grpc.aio.insecure_channel(self.settings.collector_addr)
        self._stub = pb_grpc.ProbeControlStub(self._channel)
        health = asyncio.create_task(self.health.run(stop)) if self.health else None
        try:
            registration = await self._register(stop)
            if registration is None:
                return
            self.registration = registration
            log.info(
                "registered as probe %s in region %s",
                registration.probe_id,
                registration.region,
                extra={"probe_id": registration.probe_id, "region": registration.region},
            )
            spool = Spool(
                self.settings.data_dir / "spool" / f"{registration.probe_id}.sqlite",
                self.settings.spool_max_bytes,
                self.settings.spool_max_age_s,
            )
            self.publisher = Publisher(
                registration.subject, registration.region, registration.probe_id, spool
            )
            connecting = asyncio.create_task(self._connect_nats(stop))
            # A short head start, so a healthy start does not spool its first results.
            await asyncio.wait([connecting], timeout=2)
            if self._nc is None:
                log.warning("NATS unreachable at start: results wait in the spool meanwhile")
            ctx = CheckContext(
                source_address=self.settings.source_address or None,
                allow_private_targets=self.settings.allow_private_targets,
                ca_file=self.settings.ca_file or None,
            )
            self.scheduler = Scheduler(
                self.publisher.submit,
                ctx,
                concurrency=self.settings.probe_concurrency,
                clock=self._clock,
            )
            publisher_stop = asyncio.Event()
            tasks = [
                asyncio.create_task(self.scheduler.run(stop)),
                asyncio.create_task(self._watch(stop)),
                asyncio.create_task(self._ping(stop)),
            ]
            publishing = asyncio.create_task(self.publisher.run(publisher_stop))
            await stop.wait()
            connecting.cancel()
            await asyncio.gather(*tasks, connecting, return_exceptions=True)
            publisher_stop.set()
            try:
                # What is not sent by then is kept in the spool for the next start.
                await asyncio.wait_for(publishing, timeout=5)
            except TimeoutError:
                pass
            spool.close()
        finally:
            if self._nc is not None and not self._nc.is_closed:
                await self._nc.close()
            await self._channel.close()
            if health is not None:
                health.cancel()
                await asyncio.gather(health, return_exceptions=True)
            log.info("probe stopped")

    def _apply(self, batch: pb.AssignmentBatch) -> None:
        assert self.scheduler is not None
        if batch.initial:
            log.info(
                "assignments: %d to start or update, %d to stop",
                len(batch.upserts),
                len(batch.removals),
            )
        for monitor_id in batch.removals:
            self.scheduler.remove(monitor_id)
        for assignment in batch.upserts:
            self.scheduler.upsert(assignment)
        for request in batch.check_now:
            self.scheduler.check_now(request.monitor_id, request.request_id)

    async def _watch(self, stop: asyncio.Event) -> None:
        assert self._stub is not None and self.scheduler is not None
        backoff = 0.5
        while not stop.is_set():
            running = [
                pb.RunningCheck(monitor_id=m, version=v) for m, v in self.scheduler.running.items()
            ]
            call = self._stub.WatchAssignments(
                pb.WatchAssignmentsRequest(running=running), metadata=self._metadata
            )
            stopper = asyncio.ensure_future(stop.wait())
            try:
                reader = asyncio.ensure_future(self._read(call))
                await asyncio.wait([reader, stopper], return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    call.cancel()
                    reader.cancel()
                    return
                await reader
                backoff = 0.5
                log.warning("assignment stream ended; reconnecting")
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    log.error(
                        "collector refused this probe's token: %s; still running the "
                        "last assignments",
                        exc.details(),
                    )
                else:
                    log.warning(
                        "assignment stream lost (%s); reconnecting in %.1fs",
                        exc.code().name,
                        backoff,
                    )
            finally:
                stopper.cancel()
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _read(self, call: grpc.aio.UnaryStreamCall) -> None:
        async for batch in call:
            self._apply(batch)

    async def _ping(self, stop: asyncio.Event) -> None:
        assert self._stub is not None and self.registration is not None
        while not stop.is_set():
            await _sleep_or_stop(stop, self.registration.ping_interval_s)
            if stop.is_set():
                return
            try:
                await self._stub.Ping(
                    pb.PingRequest(
                        clock_unix_ms=int(self._clock() * 1000),
                        running_checks=len(self.scheduler.running) if self.scheduler else 0,
                    ),
                    metadata=self._metadata,
                    timeout=5,
                )
            except grpc.aio.AioRpcError as exc:
                log.debug("ping failed: %s", exc.code().name)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
