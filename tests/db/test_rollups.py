"""The latency histogram's error bound, bucket splitting and range tiling."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from picket.db.reports import align_range, period_range, tiles
from picket.db.rollups import DAY, HOUR, MINUTE, LatencyHistogram, split_interval


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_histogram_quantiles_stay_within_the_documented_bound_after_merging() -> None:
    rng = random.Random(1)
    parts = [[rng.lognormvariate(math.log(m), 0.8) for _ in range(400)] for m in (3, 80, 900)]
    merged = LatencyHistogram()
    for part in parts:
        piece = LatencyHistogram()
        for value in part:
            piece.add(value)
        # Through JSON, as the rollup tables store it.
        merged.merge(LatencyHistogram.from_json(piece.to_json()).to_json())
    values = [v for part in parts for v in part]
    assert merged.total == len(values)
    for q in (0.01, 0.5, 0.9, 0.95, 0.99, 1.0):
        true = nearest_rank(values, q)
        estimate = merged.quantile(q)
        assert estimate is not None
        assert abs(estimate - true) <= LatencyHistogram.ALPHA * true, q
    assert LatencyHistogram().quantile(0.95) is None
    clamped = LatencyHistogram()
    clamped.add(10.0)
    assert clamped.quantile(0.5, low=10.0, high=10.0) == 10.0


def test_split_interval_spreads_seconds_over_buckets() -> None:
    start = datetime(2026, 1, 1, 23, 59, 30, tzinfo=UTC)
    end = start + timedelta(minutes=2)
    assert list(split_interval(MINUTE, start, end)) == [
        (datetime(2026, 1, 1, 23, 59, tzinfo=UTC), 30.0),
        (datetime(2026, 1, 2, 0, 0, tzinfo=UTC), 60.0),
        (datetime(2026, 1, 2, 0, 1, tzinfo=UTC), 30.0),
    ]
    assert [s for _, s in split_interval(DAY, start, end)] == [30.0, 90.0]


def test_tiles_cover_a_range_exactly_with_the_coarsest_buckets() -> None:
    now = datetime(2026, 3, 10, 12, 34, 56, tzinfo=UTC)
    start = datetime(2026, 3, 7, 22, 15, tzinfo=UTC)
    end = datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    pieces = tiles(start, end, now)
    assert [(level.name, a, b) for level, a, b in pieces] == [
        ("minute", start, datetime(2026, 3, 7, 23, tzinfo=UTC)),
        ("hour", datetime(2026, 3, 7, 23, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)),
        ("day", datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
        ("hour", datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 9, 1, tzinfo=UTC)),
        ("minute", datetime(2026, 3, 9, 1, tzinfo=UTC), end),
    ]
    # Ending now, the current bucket of each level is taken whole (nothing lies ahead).
    start, end = period_range("30d", now)
    assert start == datetime(2026, 2, 9, tzinfo=UTC) and end == now
    assert [(level.name, a, b) for level, a, b in tiles(start, end, now)] == [
        ("day", start, datetime(2026, 3, 11, tzinfo=UTC))
    ]
    # Old edges are rounded to what retention still keeps.
    old = align_range(now - timedelta(days=200), now - timedelta(days=30, minutes=7), now)
    assert old == (
        DAY.floor(now - timedelta(days=200)),
        HOUR.floor(now - timedelta(days=30, minutes=7)),
    )
