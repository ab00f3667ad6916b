"""The gRPC control plane (picket.v1.ProbeControl) that probes dial."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from sqlalchemy.orm import Session, sessionmaker

from picket.collector.hub import AssignmentHub
from picket.db.models import Probe
from picket.db.probes import find_probe_by_token
from picket.db.types import utcnow
from picket.proto.v1 import control_pb2 as pb
from picket.proto.v1 import control_pb2_grpc as pb_grpc

log = logging.getLogger("picket.collector.control")

# Beyond this, a probe's clock is reported at registration: its results' scheduled times
# are the probe's, and consensus compares them across regions.
CLOCK_SKEW_WARN_MS = 5_000


@dataclass(frozen=True)
class ProbeIdentity:
    id: str
    region: str
    organization_id: str | None


def results_subject(region: str, probe_id: str) -> str:
    return f"results.{region}.{probe_id}"


class ProbeControl(pb_grpc.ProbeControlServicer):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        hub: AssignmentHub,
        nats_url: str,
        ping_interval_s: float,
    ) -> None:
        self._sessions = sessions
        self._hub = hub
        self._nats_url = nats_url
        self._ping_interval_s = ping_interval_s

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> ProbeIdentity:
        metadata = dict(context.invocation_metadata() or ())
        scheme, _, token = str(metadata.get("authorization", "")).partition(" ")
        identity = None
        if scheme.lower() == "bearer" and token:
            identity = await asyncio.to_thread(self._lookup, token.strip())
        if identity is None:
            log.warning(
                "refused probe from %s: missing, unknown or revoked probe token", context.peer()
            )
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked probe token")
        assert identity is not None
        return identity

    def _lookup(self, token: str) -> ProbeIdentity | None:
        with self._sessions() as session:
            probe = find_probe_by_token(session, token)
            if probe is None:
                return None
            return ProbeIdentity(probe.id, probe.region, probe.organization_id)

    def _seen(self, probe_id: str, **fields: object) -> None:
        with self._sessions() as session, session.begin():
            probe = session.get(Probe, probe_id)
            if probe is not None:
                probe.last_seen_at = utcnow()
                for key, value in fields.items():
                    setattr(probe, key, value)

    async def RegisterProbe(
        self, request: pb.RegisterProbeRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterProbeResponse:
        probe = await self._authenticate(context)
        now_ms = int(time.time() * 1000)
        skew = request.clock_unix_ms - now_ms if request.clock_unix_ms else 0
        if abs(skew) > CLOCK_SKEW_WARN_MS:
            log.warning("probe %s (%s) clock is off by %+d ms", probe.id, probe.region, skew)
        await asyncio.to_thread(
            self._seen,
            probe.id,
            version=request.version or None,
            hostname=request.hostname or None,
            clock_skew_ms=int(skew),
        )
        log.info("probe %s registered in region %s", probe.id, probe.region)
        return pb.RegisterProbeResponse(
            probe_id=probe.id,
            region=probe.region,
            nats_url=self._nats_url,
            subject_prefix=results_subject(probe.region, probe.id),
            ping_interval_s=max(1, round(self._ping_interval_s)),
            server_time_unix_ms=now_ms,
        )

    async def WatchAssignments(
        self, request: pb.WatchAssignmentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.AssignmentBatch]:
        probe = await self._authenticate(context)
        await asyncio.to_thread(self._seen, probe.id)
        running = {c.monitor_id: c.version for c in request.running}
        stream = self._hub.open(probe.id, probe.region, running)
        log.info("probe %s watching assignments (%d running)", probe.id, len(running))
        try:
            while True:
                batch = await stream.queue.get()
                if batch is None:
                    return
                yield batch
        finally:
            self._hub.release(stream)
            log.info("probe %s stopped watching assignments", probe.id)

    async def Ping(
        self, request: pb.PingRequest, context: grpc.aio.ServicerContext
    ) -> pb.PingResponse:
        probe = await self._authenticate(context)
        now_ms = int(time.time() * 1000)
        fields = {}
        if request.clock_unix_ms:
            # Measured again at every ping, so a clock that jumps after registration is
            # corrected within one ping interval.
            fields["clock_skew_ms"] = int(request.clock_unix_ms - now_ms)
        await asyncio.to_thread(self._seen, probe.id, **fields)
        return pb.PingResponse(server_time_unix_ms=now_ms)
