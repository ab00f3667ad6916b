"""Rollup levels, the latency histogram and the bucket upsert (see picket.collector.rollups)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from picket.db.models_reports import RollupDay, RollupHour, RollupMinute
from picket.db.types import json_datetimes


@dataclass(frozen=True)
class Level:
    name: str
    model: type[Any]
    step: timedelta
    # Buckets older than this are pruned by retention, so they are never written.
    retention: timedelta | None

    def floor(self, at: datetime) -> datetime:
        if self.name == "minute":
            return at.replace(second=0, microsecond=0)
        if self.name == "hour":
            return at.replace(minute=0, second=0, microsecond=0)
        return at.replace(hour=0, minute=0, second=0, microsecond=0)

    def ceil(self, at: datetime) -> datetime:
        floor = self.floor(at)
        return floor if floor == at else floor + self.step


MINUTE = Level("minute", RollupMinute, timedelta(minutes=1), timedelta(days=7))
HOUR = Level("hour", RollupHour, timedelta(hours=1), timedelta(days=90))
DAY = Level("day", RollupDay, timedelta(days=1), None)
LEVELS = (MINUTE, HOUR, DAY)

# A region's failing result counts as downtime until its next result, for at most this many
# check intervals; past that the region has no fresh result (the probes' liveness rule).
STALE_INTERVALS = 3


def stale_after_for(interval_seconds: int | None) -> timedelta:
    return timedelta(seconds=STALE_INTERVALS * (interval_seconds or 60))


class LatencyHistogram:
    """A mergeable latency summary: counts in fixed logarithmic buckets.

    Bucket i holds latencies in (GAMMA**(i-1), GAMMA**i] milliseconds and is read back as
    2*GAMMA**i/(GAMMA+1). Any quantile read from it is therefore within a relative error
    of ALPHA (1 %) of the true nearest-rank quantile, for latencies of at least MIN_MS; the
    bound survives merging, since merging is adding counts. The bucket set is sparse:
    latencies from 0.01 ms to 10 minutes span about 900 buckets, a real series a few dozen.
    """

    ALPHA = 0.01
    GAMMA = (1 + ALPHA) / (1 - ALPHA)
    MIN_MS = 0.01
    _LOG_GAMMA = math.log(GAMMA)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    @classmethod
    def index(cls, latency_ms: float) -> int:
        return math.ceil(math.log(max(latency_ms, cls.MIN_MS)) / cls._LOG_GAMMA)

    @classmethod
    def value(cls, index: int) -> float:
        return 2 * cls.GAMMA**index / (cls.GAMMA + 1)

    @classmethod
    def from_json(cls, data: dict[str, int] | None) -> LatencyHistogram:
        return cls({int(k): int(v) for k, v in (data or {}).items()})

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in self.counts.items() if v}

    def add(self, latency_ms: float, count: int = 1) -> None:
        self.counts[self.index(latency_ms)] += count

    def merge(self, other: dict[str, int] | LatencyHistogram | None) -> None:
        if isinstance(other, LatencyHistogram):
            self.counts.update(other.counts)
        elif other:
            for key, count in other.items():
                self.counts[int(key)] += int(count)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(
        self, q: float, low: float | None = None, high: float | None = None
    ) -> float | None:
        """Nearest-rank quantile; `low`/`high` (the exact min and max) clamp the estimate."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                estimate = self.value(index)
                if low is not None:
                    estimate = max(estimate, low)
                if high is not None:
                    estimate = min(estimate, high)
                return estimate
        raise AssertionError("unreachable: rank is at most the total")


def split_interval(
    level: Level, start: datetime, end: datetime
) -> Iterator[tuple[datetime, float]]:
    """The seconds of [start, end) that fall in each bucket of `level`."""
    bucket = level.floor(start)
    while bucket < end:
        following = bucket + level.step
        seconds = (min(end, following) - max(start, bucket)).total_seconds()
        if seconds > 0:
            yield bucket, seconds
        bucket = following


def _histogram_merge(name: str, dialect: str) -> str:
    """SQL for the sum of the stored and the incoming histogram, key by key.

    Only the incoming keys (a batch brings a few per bucket) are summed, then laid over
    the stored object, rather than unpacking and regrouping the whole stored histogram.
    """
    if dialect == "postgresql":
        return (
            f"coalesce({name}.histogram, '{{}}'::jsonb) || coalesce(("
            f"SELECT jsonb_object_agg(key, coalesce(({name}.histogram ->> key)::bigint, 0)"
            " + value::bigint) FROM jsonb_each_text(excluded.histogram)), '{}'::jsonb)"
        )
    return (
        f"json_patch(coalesce({name}.histogram, '{{}}'), ("
        f"SELECT json_group_object(key, coalesce(json_extract({name}.histogram, "
        "'$.\"' || key || '\"'), 0) + value) FROM json_each(excluded.histogram)))"
    )


ADDITIVE = ("checks", "failures", "downtime_s", "latency_count", "latency_sum")


def upsert_rollups(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Add each row's figures to its bucket, creating the bucket when it is new.

    Rows go in primary-key order, so two collectors upserting overlapping buckets lock
    them in the same order. The rows' keys must be distinct (one row per bucket).
    PostgreSQL gets one statement for the whole batch, the rows as one JSON array of
    arrays (encoded in C; a list per column would make the driver adapt every value in
    Python); SQLite one statement run per row by executemany, in C.
    """
    if not rows:
        return
    keys = [column.name for column in table.primary_key]
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    columns = [column.name for column in table.columns]
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if postgresql:
            data = json.dumps([[row[c] for c in columns] for row in rows], default=json_datetimes)
            cursor.execute(_upsert_sql(table, postgresql), (data,))
        else:
            params = [[_sqlite_value(row[c]) for c in columns] for row in rows]
            cursor.executemany(_upsert_sql(table, postgresql), params)
    finally:
        cursor.close()


# How each column's value is read back from the JSON the rows travel in to PostgreSQL.
_PG_TYPE = {"String": "text", "UTCDateTime": "timestamptz", "Integer": "int", "Float": "float8"}


@cache
def _upsert_sql(table: Table, postgresql: bool) -> str:
    name = table.name
    columns = [column.name for column in table.columns]
    changes = [f"{c} = {name}.{c} + excluded.{c}" for c in ADDITIVE if c in table.c]
    if postgresql:
        selected = []
        for i, column in enumerate(table.columns):
            kind = type(column.type).__name__
            if kind in _PG_TYPE:
                selected.append(f"(e ->> {i})::{_PG_TYPE[kind]}")
            else:
                selected.append(f"(e -> {i})::jsonb")
        source = f"SELECT {', '.join(selected)} FROM jsonb_array_elements(%s::jsonb) AS e"
        # LEAST and GREATEST skip NULLs.
        changes.append(f"latency_min = LEAST({name}.latency_min, excluded.latency_min)")
        changes.append(f"latency_max = GREATEST({name}.latency_max, excluded.latency_max)")
    else:
        source = f"VALUES ({', '.join('?' for _ in columns)})"
        # SQLite's two-argument min and max are NULL when either side is.
        for column, pick in (("latency_min", "min"), ("latency_max", "max")):
            changes.append(
                f"{column} = coalesce({pick}({name}.{column}, excluded.{column}), "
                f"{name}.{column}, excluded.{column})"
            )
    if "histogram" in table.c:
        dialect = "postgresql" if postgresql else "sqlite"
        changes.append(f"histogram = {_histogram_merge(name, dialect)}")
    keys = ", ".join(column.name for column in table.primary_key)
    return (
        f"INSERT INTO {name} ({', '.join(columns)}) {source} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(changes)}"
    )


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's column types would bind on SQLite: datetimes as naive-UTC text,
    JSON as text."""
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    if isinstance(value, dict):
        return json.dumps(value)
    return value
