"""A consistent read of what must run where: active monitors and live probes."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from picket.collector.placement import check_offset_ms, rendezvous_winner
from picket.db.models import Monitor, Probe, Region
from picket.db.probes import liveness_cutoff
from picket.proto.v1 import control_pb2 as pb
from picket.specs import PUSH_TYPES


@dataclass(frozen=True)
class LiveProbe:
    id: str
    region: str
    organization_id: str | None


@dataclass
class Snapshot:
    signature: tuple[Any, ...]
    # probe id -> {monitor id -> assignment}
    assignments: dict[str, dict[str, pb.Assignment]] = field(default_factory=dict)
    # monitor id -> {region -> probe id}
    placement: dict[str, dict[str, str]] = field(default_factory=dict)
    live: dict[str, LiveProbe] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)


def read_signature(
    session: Session, ping_interval_s: float, now: datetime | None = None
) -> tuple[Any, ...]:
    """Cheap fingerprint: when it is unchanged, the placement is unchanged too."""
    count, versions, latest = session.execute(
        select(
            func.count(Monitor.id),
            func.coalesce(func.sum(Monitor.version), 0),
            func.max(Monitor.updated_at),
        )
    ).one()
    live = tuple(sorted(p.id for p in _live_probes(session, ping_interval_s, now)))
    regions = tuple(session.scalars(select(Region.name).order_by(Region.name)))
    return (count, versions, str(latest), live, regions)


def _live_probes(
    session: Session, ping_interval_s: float, now: datetime | None = None
) -> list[LiveProbe]:
    cutoff = liveness_cutoff(ping_interval_s, now)
    rows = session.execute(
        select(Probe.id, Probe.region, Probe.organization_id).where(
            Probe.revoked_at.is_(None), Probe.last_seen_at >= cutoff
        )
    ).all()
    return [LiveProbe(*row) for row in rows]


def _assignment(monitor: Monitor, region: str) -> pb.Assignment:
    return pb.Assignment(
        monitor_id=monitor.id,
        version=monitor.version,
        kind=monitor.type,
        target=monitor.url,
        interval_s=monitor.interval_seconds,
        timeout_s=monitor.timeout_seconds,
        offset_ms=check_offset_ms(monitor.id, region, monitor.interval_seconds),
        spec_json=json.dumps(monitor.spec or {}, sort_keys=True),
        retries=monitor.retries,
        retry_delay_ms=monitor.retry_delay_ms,
    )


def build_snapshot(
    session: Session, ping_interval_s: float, connected: set[str], now: datetime | None = None
) -> Snapshot:
    snapshot = Snapshot(signature=read_signature(session, ping_interval_s, now))
    live = _live_probes(session, ping_interval_s, now)
    snapshot.live = {p.id: p for p in live}
    if connected:
        snapshot.revoked = set(
            session.scalars(
                select(Probe.id).where(Probe.id.in_(connected), Probe.revoked_at.is_not(None))
            )
        )
    known_regions = list(session.scalars(select(Region.name)))
    # region -> organization (None: shared) -> probe ids
    pools: dict[str, dict[str | None, list[str]]] = defaultdict(lambda: defaultdict(list))
    for probe in live:
        pools[probe.region][probe.organization_id].append(probe.id)
    monitors = session.scalars(
        select(Monitor).where(
            Monitor.deleted_at.is_(None),
            Monitor.paused.is_(False),
            Monitor.type.not_in(PUSH_TYPES),
        )
    )
    for monitor in monitors:
        placed: dict[str, str] = {}
        for region in monitor.regions or known_regions:
            by_org = pools.get(region, {})
            # An organization's own probes in a region take precedence over shared ones.
            candidates = by_org.get(monitor.organization_id) or by_org.get(None) or []
            winner = rendezvous_winner(monitor.id, candidates)
            if winner is None:
                continue
            placed[region] = winner
            snapshot.assignments.setdefault(winner, {})[monitor.id] = _assignment(monitor, region)
        snapshot.placement[monitor.id] = placed
    return snapshot
