"""Rollups of check results per monitor, region and minute / hour / day.

A `RollupProcessor` runs inside the ingest transaction: it aggregates the batch in memory
first, then writes one upsert row per touched bucket, so a batch of 500 results costs a
handful of statements, on SQLite and PostgreSQL alike.

Downtime is time, not a count of failed checks: a region's state changes only when its
results do, so a region is down from a failing result until its next result. Each result
therefore "owns" the interval up to the next result of its series; when a result arrives
(even late, between two stored ones) the processor re-derives the owned intervals of the
affected stretch and writes the difference. The interval after the latest result is still
open; reports add it on the fly. The monitor's own (consensus) downtime comes from
`state_transitions`, see `picket.api.reports_query`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, select, tuple_, union_all
from sqlalchemy.orm import Session

from picket.db.models import CheckResult, Monitor
from picket.db.models_reports import RollupDayTotal
from picket.db.rollups import (
    DAY,
    LEVELS,
    LatencyHistogram,
    Level,
    split_interval,
    stale_after_for,
    upsert_rollups,
)
from picket.db.types import utcnow


class RollupInput(Protocol):
    """What the processor reads of an ingested result (picket.collector.processors)."""

    @property
    def monitor_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def scheduled_at(self) -> datetime: ...
    @property
    def ok(self) -> bool: ...
    @property
    def latency_ms(self) -> float | None: ...


@dataclass
class BucketDelta:
    checks: int = 0
    failures: int = 0
    downtime_s: float = 0.0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add_check(self, ok: bool, latency_ms: float | None) -> None:
        self.checks += 1
        self.failures += 0 if ok else 1
        if latency_ms is None:
            return
        self.latency_count += 1
        self.latency_sum += latency_ms
        self.latency_min = (
            latency_ms if self.latency_min is None else min(self.latency_min, latency_ms)
        )
        self.latency_max = (
            latency_ms if self.latency_max is None else max(self.latency_max, latency_ms)
        )
        self.histogram.add(latency_ms)

    def row(self, monitor_id: str, region: str, bucket: datetime) -> dict[str, Any]:
        return {
            "monitor_id": monitor_id,
            "region": region,
            "bucket": bucket,
            "checks": self.checks,
            "failures": self.failures,
            "downtime_s": self.downtime_s,
            "latency_count": self.latency_count,
            "latency_sum": self.latency_sum,
            "latency_min": self.latency_min,
            "latency_max": self.latency_max,
            "histogram": self.histogram.to_json(),
        }


BucketKey = tuple[str, str, datetime]


class RollupBatch:
    """The batch's contribution to every bucket it touches, per level."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.buckets: dict[str, dict[BucketKey, BucketDelta]] = {
            level.name: defaultdict(BucketDelta) for level in LEVELS
        }
        # Per monitor and day over all regions, for organization-wide summaries.
        self.totals: dict[tuple[str, datetime], BucketDelta] = defaultdict(BucketDelta)
        # Buckets retention would prune at once are not written at all (late results).
        self.oldest = {
            level.name: level.floor(now - level.retention)
            if level.retention
            else datetime.min.replace(tzinfo=UTC)
            for level in LEVELS
        }

    def add_check(self, result: RollupInput) -> None:
        self.totals[(result.monitor_id, DAY.floor(result.scheduled_at))].add_check(
            result.ok, result.latency_ms
        )
        for level in LEVELS:
            bucket = level.floor(result.scheduled_at)
            if bucket < self.oldest[level.name]:
                continue
            key = (result.monitor_id, result.region, bucket)
            self.buckets[level.name][key].add_check(result.ok, result.latency_ms)

    def add_downtime(
        self, monitor_id: str, region: str, start: datetime, end: datetime, sign: int
    ) -> None:
        for level in LEVELS:
            begin = max(start, self.oldest[level.name])
            for bucket, seconds in split_interval(level, begin, end):
                self.buckets[level.name][(monitor_id, region, bucket)].downtime_s += sign * seconds

    def rows(self, level: Level) -> list[dict[str, Any]]:
        return [delta.row(*key) for key, delta in self.buckets[level.name].items()]

    def total_rows(self) -> list[dict[str, Any]]:
        out = []
        for (monitor_id, bucket), delta in self.totals.items():
            row = delta.row(monitor_id, "", bucket)
            for name in ("region", "downtime_s", "histogram"):
                del row[name]
            out.append(row)
        return out


def failing_intervals(
    series: Sequence[tuple[datetime, bool]], stale_after: timedelta
) -> Counter[tuple[datetime, datetime]]:
    """Each failing result owns the time up to the next result of its series, but no more
    than `stale_after`: a region without fresh results (paused monitor, probe gone) has no
    say, as in consensus, rather than counting as down."""
    return Counter(
        (at, min(following_at, at + stale_after))
        for (at, ok), (following_at, _) in zip(series, series[1:], strict=False)
        if not ok
    )


SeriesKey = tuple[str, str]
Span = tuple[datetime, datetime]


def series_windows(
    session: Session, spans: dict[SeriesKey, Span]
) -> dict[SeriesKey, list[tuple[datetime, bool]]]:
    """Each series' stored results inside its span, for the series where that is enough;
    the others are left out, for `series_window` to read exactly.

    A series' span is its new results widened by `stale_after` on each side: a result
    further away owns the same capped interval whether or not the new ones exist. Two
    cases break that: the result right before the new ones lies outside the span (it may
    have been the series' open end, which the new results close), or the series has a
    stored result after the span (the last one inside then has a successor the span does
    not show). Overlapping spans share their queries (tuple IN plus a time range), so a
    batch of in-order results costs two queries, not one per series.
    """
    t = CheckResult.__table__
    windows: dict[SeriesKey, list[tuple[datetime, bool]]] = {key: [] for key in spans}
    inexact: set[SeriesKey] = set()
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    clusters: list[tuple[list[SeriesKey], datetime, datetime]] = []
    for key, (low, high) in ordered:
        if clusters and low <= clusters[-1][2]:
            keys, c_low, c_high = clusters[-1]
            keys.append(key)
            clusters[-1] = (keys, c_low, max(c_high, high))
        else:
            clusters.append(([key], low, high))
    for keys, low, high in clusters:
        # Bounded chunks keep the statement's parameter count modest on SQLite.
        for offset in range(0, len(keys), 400):
            chunk = keys[offset : offset + 400]
            in_chunk = tuple_(t.c.monitor_id, t.c.region).in_(chunk)
            rows = session.execute(
                select(t.c.monitor_id, t.c.region, t.c.scheduled_at, t.c.ok).where(
                    in_chunk, t.c.scheduled_at >= low, t.c.scheduled_at <= high
                )
            ).all()
            for monitor_id, region, at, ok in rows:
                key = (monitor_id, region)
                s_low, s_high = spans[key]
                if at > s_high:
                    inexact.add(key)
                elif at >= s_low:
                    windows[key].append((at, bool(ok)))
            later = session.execute(
                select(t.c.monitor_id, t.c.region)
                .where(in_chunk, t.c.scheduled_at > high)
                .distinct()
            ).all()
            inexact.update((monitor_id, region) for monitor_id, region in later)
    return {key: sorted(items) for key, items in windows.items() if key not in inexact}


def series_window(
    session: Session, monitor_id: str, region: str, first: datetime, last: datetime
) -> list[tuple[datetime, bool]]:
    """Stored results of one series from the one before `first` to the one after `last`."""
    t = CheckResult.__table__
    same = and_(t.c.monitor_id == monitor_id, t.c.region == region)
    cols = (t.c.scheduled_at, t.c.ok)
    before = (
        select(*cols)
        .where(same, t.c.scheduled_at < first)
        .order_by(t.c.scheduled_at.desc())
        .limit(1)
    )
    after = select(*cols).where(same, t.c.scheduled_at > last).order_by(t.c.scheduled_at).limit(1)
    inside = select(*cols).where(same, t.c.scheduled_at >= first, t.c.scheduled_at <= last)
    stmt = union_all(select(before.subquery()), select(inside.subquery()), select(after.subquery()))
    return sorted((at, bool(ok)) for at, ok in session.execute(stmt).all())


def downtime_changes(
    window: Sequence[tuple[datetime, bool]],
    new_times: Iterable[datetime],
    stale_after: timedelta,
) -> Counter[tuple[datetime, datetime]]:
    """How the series' owned failing intervals change by adding the results at `new_times`
    (already stored in this transaction): +1 for an interval to credit, -1 to withdraw."""
    new = set(new_times)
    after = failing_intervals(window, stale_after)
    before = failing_intervals([item for item in window if item[0] not in new], stale_after)
    change: Counter[tuple[datetime, datetime]] = Counter(after)
    change.subtract(before)
    return Counter({interval: sign for interval, sign in change.items() if sign})


class RollupProcessor:
    """ResultProcessor keeping minute, hour and day rollups in the ingest transaction."""

    def process(self, session: Session, results: Sequence[RollupInput]) -> None:
        if not results:
            return
        batch = RollupBatch(utcnow())
        series: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        for result in results:
            batch.add_check(result)
            series[(result.monitor_id, result.region)].append(result.scheduled_at)
        intervals = dict(
            session.execute(
                select(Monitor.id, Monitor.interval_seconds).where(
                    Monitor.id.in_({monitor_id for monitor_id, _ in series})
                )
            ).all()
        )
        stale = {key: stale_after_for(intervals.get(key[0])) for key in series}
        spans = {
            key: (min(times) - stale[key], max(times) + stale[key]) for key, times in series.items()
        }
        windows = series_windows(session, spans)
        for (monitor_id, region), times in series.items():
            key = (monitor_id, region)
            first = min(times)
            if key not in windows or not any(at < first for at, _ in windows[key]):
                windows[key] = series_window(session, monitor_id, region, first, max(times))
            for (start, end), sign in downtime_changes(windows[key], times, stale[key]).items():
                batch.add_downtime(monitor_id, region, start, end, sign)
        for level in LEVELS:
            upsert_rollups(session, level.model.__table__, batch.rows(level))
        upsert_rollups(session, RollupDayTotal.__table__, batch.total_rows())
