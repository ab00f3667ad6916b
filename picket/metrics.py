"""Prometheus metrics of every Picket process, and the small calls that feed them.

Counters and histograms of what a process does (results ingested, checks run, …) live in
the process's default registry and are fed by the `record_*` calls below. Gauges of what
the database holds (incidents open, probes live, each monitor's state per region) are read
at scrape time by `DatabaseStateCollector`, so every API replica reports the same truth
and nothing has to keep them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from picket.db.types import utcnow

__all__ = ["CONTENT_TYPE_LATEST", "render"]

# --- collector ---------------------------------------------------------------------------

RESULTS_INGESTED = Counter(
    "picket_results_ingested",
    "Check results stored by the ingest consumer (duplicates not counted)",
    ["region"],
)
RESULTS_DUPLICATE = Counter(
    "picket_results_duplicate",
    "Check results dropped because the same monitor, region and slot was already stored",
)
INGEST_BATCH_SIZE = Histogram(
    "picket_ingest_batch_size",
    "Messages per JetStream batch written in one transaction",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
INGEST_LAG = Histogram(
    "picket_ingest_lag_seconds",
    "Time from a check's scheduled slot to its result being committed",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
DECISIONS = Counter(
    "picket_decisions",
    "Monitor state transitions decided by consensus, by the state entered",
    ["status"],
)
NOTIFICATION_DELIVERIES = Counter(
    "picket_notification_deliveries",
    "Notification delivery attempts by channel type and outcome",
    ["channel_type", "status"],
)

# --- probe -------------------------------------------------------------------------------

CHECKS_RUN = Counter(
    "picket_checks",
    "Checks run by this probe, by kind and outcome (ok, or the error kind)",
    ["kind", "outcome"],
)
SCHEDULER_LATENESS = Histogram(
    "picket_scheduler_lateness_seconds",
    "How late a check started after its scheduled slot",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SPOOL_DEPTH = Gauge(
    "picket_spool_depth",
    "Results kept on local disk waiting for NATS",
)
PUBLISH_FAILURES = Counter(
    "picket_publish_failures",
    "Result publishes to JetStream that failed (the result was spooled instead)",
)


def record_ingest(
    stored: Iterable[tuple[str, datetime]],
    batch_size: int,
    duplicates: int,
    now: datetime | None = None,
) -> None:
    """After a batch commits: each stored result's (region, scheduled_at), the batch's size."""
    now = now or utcnow()
    INGEST_BATCH_SIZE.observe(batch_size)
    RESULTS_DUPLICATE.inc(duplicates)
    for region, scheduled_at in stored:
        RESULTS_INGESTED.labels(region=region).inc()
        INGEST_LAG.observe(max(0.0, (now - scheduled_at).total_seconds()))


def record_decision(status: str) -> None:
    DECISIONS.labels(status=status).inc()


def record_delivery(channel_type: str, status: str) -> None:
    NOTIFICATION_DELIVERIES.labels(channel_type=channel_type, status=status).inc()


def record_check(kind: str, error_kind: str | None) -> None:
    """A check's final outcome, after retries: error_kind None means it passed."""
    CHECKS_RUN.labels(kind=kind, outcome=error_kind or "ok").inc()


def record_lateness(seconds: float) -> None:
    SCHEDULER_LATENESS.observe(max(0.0, seconds))


def record_publish_failure() -> None:
    PUBLISH_FAILURES.inc()


def track_spool_depth(depth: Callable[[], int]) -> None:
    """Read the depth at scrape time, so no code path can forget to update it."""
    SPOOL_DEPTH.set_function(depth)


# --- state read from the database at scrape time ------------------------------------------

# Results older than this say nothing about a monitor's current latency.
LATENCY_WINDOW = timedelta(hours=1)


class DatabaseStateCollector(Collector):
    """Gauges computed from the database on each scrape.

    With `organization_id`, only that organization's monitors (the per-monitor gauges users
    graph, behind their API key); without it, the operator's totals.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        ping_interval_s: float,
        organization_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.ping_interval_s = ping_interval_s
        self.organization_id = organization_id

    def collect(self) -> Iterable[Any]:
        with self.sessions() as session:
            if self.organization_id is None:
                yield from self._operator(session)
            else:
                yield from self._monitors(session, self.organization_id)

    def _operator(self, session: Session) -> Iterable[GaugeMetricFamily]:
        from picket.db.models import Incident, Probe, Region
        from picket.db.probes import liveness_cutoff

        open_incidents = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None))
        )
        yield GaugeMetricFamily(
            "picket_incidents_open", "Incidents not yet resolved", value=open_incidents or 0
        )
        cutoff = liveness_cutoff(self.ping_interval_s)
        live = dict(
            session.execute(
                select(Probe.region, func.count())
                .where(Probe.revoked_at.is_(None), Probe.last_seen_at >= cutoff)
                .group_by(Probe.region)
            ).all()
        )
        family = GaugeMetricFamily(
            "picket_probes_live", "Probes heard from within three ping intervals", labels=["region"]
        )
        for region in session.scalars(select(Region.name).order_by(Region.name)):
            family.add_metric([region], live.get(region, 0))
        yield family

    def _monitors(self, session: Session, organization_id: str) -> Iterable[GaugeMetricFamily]:
        from picket.db.models import CheckResult, Monitor, MonitorState

        monitors = session.execute(
            select(Monitor.id, Monitor.name, Monitor.type, MonitorState.region_status)
            .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
            .where(Monitor.organization_id == organization_id, Monitor.deleted_at.is_(None))
            .order_by(Monitor.id)
        ).all()
        info = GaugeMetricFamily(
            "picket_monitor_info",
            "Always 1: a monitor's name and type, to join on the monitor label",
            labels=["monitor", "name", "type"],
        )
        up = GaugeMetricFamily(
            "picket_monitor_up",
            "1 when the region sees the monitor up, 0 when down or degraded",
            labels=["monitor", "region"],
        )
        for monitor_id, name, kind, region_status in monitors:
            info.add_metric([monitor_id, name, kind], 1)
            for region, status in sorted((region_status or {}).items()):
                if status in ("up", "down", "degraded"):
                    up.add_metric([monitor_id, region], 1 if status == "up" else 0)
        latency = GaugeMetricFamily(
            "picket_monitor_latency_ms",
            "Latency of the latest check of the monitor from the region",
            labels=["monitor", "region"],
        )
        ids = [row[0] for row in monitors]
        if ids:
            for monitor_id, region, value in self._latest_latency(session, ids, CheckResult):
                latency.add_metric([monitor_id, region], value)
        return [info, up, latency]

    @staticmethod
    def _latest_latency(
        session: Session, monitor_ids: Sequence[str], model: Any
    ) -> list[tuple[str, str, float]]:
        latest = (
            select(
                model.monitor_id,
                model.region,
                func.max(model.scheduled_at).label("at"),
            )
            .where(
                model.monitor_id.in_(monitor_ids),
                model.scheduled_at >= utcnow() - LATENCY_WINDOW,
            )
            .group_by(model.monitor_id, model.region)
            .subquery()
        )
        rows = session.execute(
            select(model.monitor_id, model.region, model.latency_ms)
            .join(
                latest,
                and_(
                    model.monitor_id == latest.c.monitor_id,
                    model.region == latest.c.region,
                    model.scheduled_at == latest.c.at,
                ),
            )
            .where(model.latency_ms.is_not(None))
            .order_by(model.monitor_id, model.region)
        ).all()
        return [(m, r, float(v)) for m, r, v in rows]


def render(*collectors: Collector, include_process: bool = True) -> bytes:
    """The exposition text: this process's registry (optionally) plus extra collectors."""
    parts = [generate_latest(REGISTRY)] if include_process else []
    if collectors:
        extra = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            extra.register(collector)
        parts.append(generate_latest(extra))
    return b"".join(parts)
