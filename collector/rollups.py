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

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.engine import one_of
from picket.db.models import Monitor
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


@dataclass(slots=True)
class BucketDelta:
    checks: int = 0
    failures: int = 0
    downtime_s: float = 0.0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    # LatencyHistogram's counts, {bucket index: count}.
    histogram: dict[int, int] = field(default_factory=dict)

    def add_check(self, ok: bool, latency_ms: float | None, index: int | None) -> None:
        """`index` is the latency's LatencyHistogram bucket, worked out once per result
        for every level; None leaves the histogram out (the day totals keep none)."""
        self.checks += 1
        if not ok:
            self.failures += 1
        if latency_ms is None:
            return
        self.latency_count += 1
        self.latency_sum += latency_ms
        if self.latency_min is None or latency_ms < self.latency_min:
            self.latency_min = latency_ms
        if self.latency_max is None or latency_ms > self.latency_max:
            self.latency_max = latency_ms
        if index is not None:
            self.histogram[index] = self.histogram.get(index, 0) + 1

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
            # Integer keys: JSON encoding writes them as the strings the column holds.
            "histogram": self.histogram,
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
        ok, latency = result.ok, result.latency_ms
        index = None if latency is None else LatencyHistogram.index(latency)
        self.totals[(result.monitor_id, DAY.floor(result.scheduled_at))].add_check(
            ok, latency, None
        )
        for level in LEVELS:
            bucket = level.floor(result.scheduled_at)
            if bucket < self.oldest[level.name]:
                continue
            key = (result.monitor_id, result.region, bucket)
            self.buckets[level.name][key].add_check(ok, latency, index)

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

# Series per statement on SQLite: four parameters each keeps it well under its limit.
SERIES_CHUNK = 400

# The neighbours of each series' span: the result before, those inside, the one after.
# On PostgreSQL, LATERAL makes each of them an index probe per series, whatever the size
# or the statistics of check_results (a plain join may be planned as a scan of the table).
_PG_WINDOW_SQL = """SELECT v.m, v.r, c.scheduled_at, c.ok
FROM (
  SELECT e ->> 0 AS m, e ->> 1 AS r, (e ->> 2)::timestamptz AS lo, (e ->> 3)::timestamptz AS hi
  FROM jsonb_array_elements(%s::jsonb) AS e
) AS v
CROSS JOIN LATERAL (
  (SELECT scheduled_at, ok FROM check_results
   WHERE monitor_id = v.m AND region = v.r AND scheduled_at < v.lo
   ORDER BY scheduled_at DESC LIMIT 1)
  UNION ALL
  (SELECT scheduled_at, ok FROM check_results
   WHERE monitor_id = v.m AND region = v.r AND scheduled_at >= v.lo AND scheduled_at <= v.hi)
  UNION ALL
  (SELECT scheduled_at, ok FROM check_results
   WHERE monitor_id = v.m AND region = v.r AND scheduled_at > v.hi
   ORDER BY scheduled_at LIMIT 1)
) AS c"""
# SQLite has no LATERAL; its planner probes the index per row of the VALUES list.
_SQLITE_WINDOW_SQL = """WITH v(m, r, lo, hi) AS (VALUES {values})
SELECT c.monitor_id, c.region, c.scheduled_at, c.ok FROM v JOIN check_results c
  ON c.monitor_id = v.m AND c.region = v.r AND c.scheduled_at >= v.lo AND c.scheduled_at <= v.hi
UNION ALL
SELECT c.monitor_id, c.region, c.scheduled_at, c.ok FROM v JOIN check_results c
  ON c.monitor_id = v.m AND c.region = v.r AND c.scheduled_at = (
    SELECT p.scheduled_at FROM check_results p
    WHERE p.monitor_id = v.m AND p.region = v.r AND p.scheduled_at < v.lo
    ORDER BY p.scheduled_at DESC LIMIT 1)
UNION ALL
SELECT c.monitor_id, c.region, c.scheduled_at, c.ok FROM v JOIN check_results c
  ON c.monitor_id = v.m AND c.region = v.r AND c.scheduled_at = (
    SELECT n.scheduled_at FROM check_results n
    WHERE n.monitor_id = v.m AND n.region = v.r AND n.scheduled_at > v.hi
    ORDER BY n.scheduled_at LIMIT 1)"""


def series_windows(
    session: Session, spans: dict[SeriesKey, Span]
) -> dict[SeriesKey, list[tuple[datetime, bool]]]:
    """Each series' stored results from the one before its span to the one after it.

    That is all `downtime_changes` needs: results outside it own the same intervals with
    or without the new ones. Every series of the batch is read in one statement (three
    index probes per series), so the cost follows the batch, not how densely the series
    are stored.
    """
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    windows: dict[SeriesKey, list[tuple[datetime, bool]]] = {key: [] for key in spans}
    items = sorted(spans.items())
    if connection.dialect.name == "postgresql":
        # One JSON array (encoded in C) rather than four parameters per series: the
        # statement's text stays the same from batch to batch, and the driver does not
        # adapt every value in Python.
        series = [[m, r, low.isoformat(), high.isoformat()] for (m, r), (low, high) in items]
        statements = [(_PG_WINDOW_SQL, [json.dumps(series)])]
    else:
        statements = [
            _sqlite_statement(items[offset : offset + SERIES_CHUNK])
            for offset in range(0, len(items), SERIES_CHUNK)
        ]
    for sql, params in statements:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        for monitor_id, region, at, ok in fetched:
            windows[(monitor_id, region)].append((_read_time(at), bool(ok)))
    return {key: sorted(items) for key, items in windows.items()}


def _sqlite_statement(chunk: list[tuple[SeriesKey, Span]]) -> tuple[str, list[Any]]:
    params: list[Any] = []
    for (monitor_id, region), (low, high) in chunk:
        params += [monitor_id, region, _sqlite_time(low), _sqlite_time(high)]
    values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
    return _SQLITE_WINDOW_SQL.format(values=values), params


def _sqlite_time(at: datetime) -> str:
    """The naive-UTC text form UTCDateTime columns hold on SQLite."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _read_time(at: datetime | str) -> datetime:
    if isinstance(at, str):
        return datetime.fromisoformat(at).replace(tzinfo=UTC)
    return at.astimezone(UTC)


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
                    one_of(session, Monitor.id, {monitor_id for monitor_id, _ in series})
                )
            ).all()
        )
        windows = series_windows(
            session, {key: (min(times), max(times)) for key, times in series.items()}
        )
        for (monitor_id, region), times in series.items():
            stale = stale_after_for(intervals.get(monitor_id))
            window = windows[(monitor_id, region)]
            if all(ok for _, ok in window):
                continue  # no failing result, no owned interval, with or without the new
            changes = downtime_changes(window, times, stale)
            for (start, end), sign in changes.items():
                batch.add_downtime(monitor_id, region, start, end, sign)
        for level in LEVELS:
            upsert_rollups(session, level.model.__table__, batch.rows(level))
        upsert_rollups(session, RollupDayTotal.__table__, batch.total_rows())
