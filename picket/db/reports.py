"""Uptime figures read from rollups and state transitions, never by summing raw results.

A range is covered by the coarsest rollup buckets that fit inside it ("tiles"): whole days
from the daily table, the edges from hourly, the last edges from minute buckets. A range
that ends now may take the current, still-filling bucket of each level whole, since no
data lies in the future. Edges older than a level's retention are rounded to the next
coarser level (`align_range`), so a report never asks for pruned buckets.

Region figures (checks, latency, the region's own downtime) come from rollups; the
monitor's overall downtime comes from `state_transitions` (the consensus between regions),
which are few per monitor and read directly.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from picket.db.models import CheckResult, Incident, Monitor, StateTransition
from picket.db.models_reports import RollupDayTotal
from picket.db.rollups import (
    DAY,
    HOUR,
    MINUTE,
    LatencyHistogram,
    Level,
    split_interval,
    stale_after_for,
)

PERIOD = re.compile(r"^(\d{1,4})([hd])$")
MAX_PERIOD = timedelta(days=3660)


class RangeError(ValueError):
    """A report range that cannot be answered; the message names the parameter."""


def period_range(period: str, now: datetime) -> tuple[datetime, datetime]:
    """`30d`: the 30 UTC calendar days ending today (today so far included); `24h`: the
    24 hours ending now."""
    match = PERIOD.match(period)
    if not match or int(match.group(1)) == 0:
        raise RangeError("period: expected a number of days or hours such as 30d or 24h")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        start = now - timedelta(hours=count)
    else:
        start = DAY.floor(now) - timedelta(days=count - 1)
    if now - start > MAX_PERIOD:
        raise RangeError("period: at most 3660 days")
    return start, now


def align_range(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """Round each edge down to the finest level still kept at its age; an end in the
    future becomes now."""
    if start.tzinfo is None or end.tzinfo is None:
        raise RangeError("from/to: give a timezone, e.g. 2026-01-01T00:00:00Z")
    end = min(end, now)

    def floor(at: datetime) -> datetime:
        for level in (MINUTE, HOUR):
            assert level.retention is not None
            if at >= now - level.retention + level.step:
                return level.floor(at)
        return DAY.floor(at)

    start = floor(start)
    if end < now:
        end = floor(end)
    if start >= end:
        raise RangeError("from: must be before to (and not in the future)")
    return start, end


def tiles(
    start: datetime, end: datetime, now: datetime, levels: tuple[Level, ...] = (DAY, HOUR, MINUTE)
) -> list[tuple[Level, datetime, datetime]]:
    """Buckets covering [start, end): (level, first bucket, bucket bound) per piece."""
    open_end = end >= now
    out: list[tuple[Level, datetime, datetime]] = []

    def cover(a: datetime, b: datetime, rest: tuple[Level, ...]) -> None:
        if a >= b:
            return
        level = rest[0]
        upper = level.ceil(b) if open_end and b == end else level.floor(b)
        lower = level.ceil(a)
        if len(rest) == 1:
            out.append((level, level.floor(a), upper))
            return
        if lower < upper:
            cover(a, lower, rest[1:])
            out.append((level, lower, upper))
            if upper < b:
                cover(upper, b, rest[1:])
        else:
            cover(a, b, rest[1:])

    cover(start, end, levels)
    return out


@dataclass
class Figures:
    checks: int = 0
    failures: int = 0
    downtime_s: float = 0.0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add_row(self, row: Any) -> None:
        self.checks += row.checks
        self.failures += row.failures
        # Summary rows carry no downtime: theirs comes from state transitions.
        self.downtime_s += getattr(row, "downtime_s", 0.0)
        self.latency_count += row.latency_count
        self.latency_sum += row.latency_sum
        if row.latency_min is not None:
            self.latency_min = (
                row.latency_min
                if self.latency_min is None
                else min(self.latency_min, row.latency_min)
            )
        if row.latency_max is not None:
            self.latency_max = (
                row.latency_max
                if self.latency_max is None
                else max(self.latency_max, row.latency_max)
            )
        if hasattr(row, "histogram"):
            self.histogram.merge(row.histogram)

    def add(self, other: Figures) -> None:
        self.add_row(other)

    def latency(self) -> dict[str, float | None]:
        def q(value: float) -> float | None:
            estimate = self.histogram.quantile(value, self.latency_min, self.latency_max)
            return None if estimate is None else round(estimate, 3)

        avg = self.latency_sum / self.latency_count if self.latency_count else None
        return {
            "avg": None if avg is None else round(avg, 3),
            "min": self.latency_min,
            "max": self.latency_max,
            "p50": q(0.50),
            "p95": q(0.95),
            "p99": q(0.99),
        }


def rollup_rows(
    session: Session,
    monitor_ids: list[str],
    pieces: Iterable[tuple[Level, datetime, datetime]],
    region: str | None = None,
) -> Iterator[Any]:
    for level, first, bound in pieces:
        table = level.model.__table__
        stmt = select(table).where(
            table.c.monitor_id.in_(monitor_ids), table.c.bucket >= first, table.c.bucket < bound
        )
        if region is not None:
            stmt = stmt.where(table.c.region == region)
        yield from session.execute(stmt)


Interval = tuple[datetime, datetime]


def status_intervals(
    session: Session, monitor_ids: Any, start: datetime, end: datetime, now: datetime
) -> dict[str, dict[str, list[Interval]]]:
    """Per monitor, per status other than up: the intervals of [start, end) spent in it.

    `monitor_ids` is a list, or a subquery (thousands of bound ids cost more than a join)."""
    st = StateTransition.__table__
    last_before = (
        select(st.c.monitor_id, func.max(st.c.at).label("at"))
        .where(st.c.monitor_id.in_(monitor_ids), st.c.at < start)
        .group_by(st.c.monitor_id)
        .subquery()
    )
    initial = session.execute(
        select(st.c.monitor_id, st.c.to_status, st.c.id)
        .join(
            last_before,
            and_(st.c.monitor_id == last_before.c.monitor_id, st.c.at == last_before.c.at),
        )
        .order_by(st.c.id)
    ).all()
    changes = session.execute(
        select(st.c.monitor_id, st.c.to_status, st.c.at)
        .where(st.c.monitor_id.in_(monitor_ids), st.c.at >= start, st.c.at < end)
        .order_by(st.c.monitor_id, st.c.at, st.c.id)
    ).all()
    status_at_start = {monitor_id: status for monitor_id, status, _ in initial}
    by_monitor: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for monitor_id, status, at in changes:
        by_monitor[monitor_id].append((at, status))
    stop = min(end, now)
    out: dict[str, dict[str, list[Interval]]] = {}
    for monitor_id in set(status_at_start) | set(by_monitor):
        spans: dict[str, list[Interval]] = defaultdict(list)
        status, since = status_at_start.get(monitor_id, "unknown"), start
        for at, new_status in [*by_monitor.get(monitor_id, []), (stop, "")]:
            if status != "up" and at > since:
                spans[status].append((since, at))
            status, since = new_status, at
        out[monitor_id] = dict(spans)
    return out


def seconds_in(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def open_region_downtime(
    session: Session, monitor: Monitor, start: datetime, end: datetime, now: datetime
) -> dict[str, float]:
    """The still-open failing interval after each region's latest result, within the range."""
    monitor_id = monitor.id
    t = CheckResult.__table__
    latest = (
        select(t.c.region, func.max(t.c.scheduled_at).label("at"))
        .where(t.c.monitor_id == monitor_id)
        .group_by(t.c.region)
        .subquery()
    )
    rows = session.execute(
        select(t.c.region, t.c.scheduled_at, t.c.ok).join(
            latest,
            and_(
                t.c.monitor_id == monitor_id,
                t.c.region == latest.c.region,
                t.c.scheduled_at == latest.c.at,
            ),
        )
    ).all()
    out: dict[str, float] = {}
    for region, at, ok in rows:
        begin = max(at, start)
        stop = min(end, now, at + stale_after_for(monitor.interval_seconds))
        if not ok and begin < stop:
            out[region] = (stop - begin).total_seconds()
    return out


def _incident_figures(incidents: list[Incident], start: datetime, end: datetime) -> dict[str, Any]:
    started = [i for i in incidents if start <= i.started_at < end]
    recoveries = [
        (i.resolved_at - i.started_at).total_seconds() for i in started if i.resolved_at is not None
    ]
    return {
        "incidents": len(started),
        "mttr_seconds": round(sum(recoveries) / len(recoveries), 3) if recoveries else None,
    }


def _sla(uptime: float | None, target: float | None) -> dict[str, Any]:
    return {"target": target, "met": None if target is None or uptime is None else uptime >= target}


def _summary(
    figures: Figures, downtime_s: float, period_s: float, target: float | None
) -> dict[str, Any]:
    uptime = 100.0 * (1 - downtime_s / period_s) if period_s > 0 else None
    return {
        "uptime_percent": None if uptime is None else round(max(uptime, 0.0), 5),
        "downtime_seconds": round(downtime_s, 3),
        "downtime_minutes": round(downtime_s / 60, 3),
        "checks": figures.checks,
        "failures": figures.failures,
        "latency_ms": figures.latency(),
        "sla": _sla(uptime, target),
    }


GRANULARITIES = {"hour": HOUR, "day": DAY}


def uptime_report(
    session: Session,
    monitor: Monitor,
    start: datetime,
    end: datetime,
    now: datetime,
    granularity: str = "day",
    region: str | None = None,
) -> dict[str, Any]:
    """Overall and per-region figures of one monitor over [start, end), with a series."""
    step = GRANULARITIES[granularity]
    levels = (DAY, HOUR, MINUTE) if step is DAY else (HOUR, MINUTE)
    pieces = tiles(start, end, now, levels)
    observed_from = max(start, monitor.created_at)
    period_s = max((min(end, now) - observed_from).total_seconds(), 0.0)

    regions: dict[str, Figures] = defaultdict(Figures)
    series: dict[datetime, Figures] = defaultdict(Figures)
    for row in rollup_rows(session, [monitor.id], pieces, region):
        regions[row.region].add_row(row)
        series[step.floor(row.bucket)].add_row(row)
    for name, seconds in open_region_downtime(session, monitor, start, end, now).items():
        if region is None or name == region:
            regions[name].downtime_s += seconds

    spans = status_intervals(session, [monitor.id], start, end, now).get(monitor.id, {})
    down = spans.get("down", [])
    overall = Figures()
    for figures in regions.values():
        overall.add(figures)
    down_s = seconds_in(down)

    incidents = list(
        session.scalars(
            select(Incident).where(
                Incident.monitor_id == monitor.id,
                Incident.started_at >= start,
                Incident.started_at < end,
            )
        )
    )
    overall_body = _summary(overall, down_s, period_s, monitor.sla_target)
    overall_body.update(_incident_figures(incidents, start, end))
    region_bodies: dict[str, Any] = {}
    for name in sorted(regions):
        body = _summary(regions[name], regions[name].downtime_s, period_s, monitor.sla_target)
        body.update(
            _incident_figures([i for i in incidents if name in (i.regions or {})], start, end)
        )
        region_bodies[name] = body

    down_by_bucket: dict[datetime, float] = defaultdict(float)
    for a, b in down:
        for bucket, seconds in split_interval(step, a, b):
            down_by_bucket[bucket] += seconds
    points = []
    bucket = step.floor(start)
    while bucket < end:
        figures = series.get(bucket, Figures())
        span = (min(bucket + step.step, end, now) - max(bucket, observed_from)).total_seconds()
        downtime = down_by_bucket.get(bucket, 0.0)
        point: dict[str, Any] = {
            "start": bucket,
            "checks": figures.checks,
            "failures": figures.failures,
        }
        point["uptime_percent"] = (
            round(100.0 * (1 - downtime / span), 5) if span > 0 and figures.checks else None
        )
        point["downtime_seconds"] = round(downtime, 3)
        point["latency_ms"] = figures.latency()
        points.append(point)
        bucket += step.step
    return {
        "monitor_id": monitor.id,
        "from": start,
        "to": end,
        "granularity": granularity,
        "overall": overall_body,
        "regions": region_bodies,
        "series": points,
    }


def summary_report(
    session: Session, organization_id: str, start: datetime, end: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Every monitor of the organization over [start, end), aggregated in the database."""
    monitors = session.execute(
        select(Monitor.id, Monitor.name, Monitor.created_at, Monitor.sla_target)
        .where(Monitor.organization_id == organization_id, Monitor.deleted_at.is_(None))
        .order_by(Monitor.name, Monitor.id)
    ).all()
    if not monitors:
        return []
    owned = (
        select(Monitor.id)
        .where(Monitor.organization_id == organization_id, Monitor.deleted_at.is_(None))
        .scalar_subquery()
    )
    totals: dict[str, Figures] = defaultdict(Figures)
    for level, first, bound in tiles(start, end, now):
        # Whole days come from the narrow per-monitor totals.
        t = RollupDayTotal.__table__ if level is DAY else level.model.__table__
        stmt = (
            select(
                t.c.monitor_id,
                func.sum(t.c.checks).label("checks"),
                func.sum(t.c.failures).label("failures"),
                func.sum(t.c.latency_count).label("latency_count"),
                func.sum(t.c.latency_sum).label("latency_sum"),
                func.min(t.c.latency_min).label("latency_min"),
                func.max(t.c.latency_max).label("latency_max"),
            )
            .where(t.c.monitor_id.in_(owned), t.c.bucket >= first, t.c.bucket < bound)
            .group_by(t.c.monitor_id)
        )
        for row in session.execute(stmt):
            totals[row.monitor_id].add_row(row)

    spans = status_intervals(session, owned, start, end, now)
    incidents: dict[str, list[Incident]] = defaultdict(list)
    for incident in session.scalars(
        select(Incident).where(
            Incident.organization_id == organization_id,
            Incident.started_at >= start,
            Incident.started_at < end,
        )
    ):
        if incident.monitor_id:
            incidents[incident.monitor_id].append(incident)

    out = []
    for monitor_id, name, created_at, target in monitors:
        figures = totals.get(monitor_id, Figures())
        period_s = max((min(end, now) - max(start, created_at)).total_seconds(), 0.0)
        down_s = seconds_in(spans.get(monitor_id, {}).get("down", []))
        body = {"monitor_id": monitor_id, "name": name}
        body.update(_summary(figures, down_s, period_s, target))
        latency = body["latency_ms"]
        body["latency_ms"] = {"avg": latency["avg"], "min": latency["min"], "max": latency["max"]}
        body.update(_incident_figures(incidents.get(monitor_id, []), start, end))
        out.append(body)
    return out
