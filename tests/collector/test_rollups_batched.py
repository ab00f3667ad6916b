"""Rollups built batch by batch, with late, shuffled and redelivered results, equal the
rollups computed at once from every stored result: every level, every bucket."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from picket.collector.ingest import ResultStore
from picket.collector.rollups import RollupProcessor, failing_intervals
from picket.db.models import CheckResult
from picket.db.models_reports import RollupDayTotal
from picket.db.probes import create_probe
from picket.db.rollups import DAY, LEVELS, LatencyHistogram, split_interval, stale_after_for
from picket.db.types import utcnow
from tests.api.reports_support import add_monitor, make_tenant, result_row

REGIONS = ("us-east", "eu-west")
FIGURES = ("checks", "failures", "downtime_s", "latency_count", "latency_sum")


def expected_rollups(
    results: list[tuple[str, str, datetime, bool, float | None]], intervals: dict[str, int]
) -> tuple[dict[str, dict[tuple[Any, ...], dict[str, Any]]], dict[tuple[Any, ...], dict]]:
    """Every level's buckets and the day totals, from the complete series at once."""

    def empty() -> dict[str, Any]:
        return {f: 0 for f in FIGURES} | {"min": None, "max": None, "histogram": {}}

    def add(bucket: dict[str, Any], ok: bool, latency: float | None) -> None:
        bucket["checks"] += 1
        bucket["failures"] += 0 if ok else 1
        if latency is not None:
            bucket["latency_count"] += 1
            bucket["latency_sum"] += latency
            bucket["min"] = latency if bucket["min"] is None else min(bucket["min"], latency)
            bucket["max"] = latency if bucket["max"] is None else max(bucket["max"], latency)
            index = str(LatencyHistogram.index(latency))
            bucket["histogram"][index] = bucket["histogram"].get(index, 0) + 1

    levels: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {
        level.name: defaultdict(empty) for level in LEVELS
    }
    totals: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(empty)
    series: dict[tuple[str, str], list[tuple[datetime, bool]]] = defaultdict(list)
    for monitor_id, region, at, ok, latency in results:
        series[(monitor_id, region)].append((at, ok))
        add(totals[(monitor_id, DAY.floor(at))], ok, latency)
        for level in LEVELS:
            add(levels[level.name][(monitor_id, region, level.floor(at))], ok, latency)
    for (monitor_id, region), items in series.items():
        stale = stale_after_for(intervals[monitor_id])
        for (start, end), count in failing_intervals(sorted(items), stale).items():
            for level in LEVELS:
                for bucket, seconds in split_interval(level, start, end):
                    key = (monitor_id, region, bucket)
                    levels[level.name][key]["downtime_s"] += count * seconds
    return levels, totals


def stored_rollups(session: Any, model: Any, keys: tuple[str, ...]) -> dict[tuple, dict]:
    out = {}
    for row in session.scalars(select(model)):
        figures = {f: getattr(row, f) for f in FIGURES if hasattr(row, f)}
        figures |= {"min": row.latency_min, "max": row.latency_max}
        figures["histogram"] = getattr(row, "histogram", None) or {}
        # A bucket whose downtime was credited, then withdrawn by a late result, stays
        # behind with nothing in it.
        if any(figures[f] for f in FIGURES if f in figures):
            out[tuple(getattr(row, k) for k in keys)] = figures
    return out


def test_batched_rollups_equal_rollups_of_the_whole_series(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(11)
    tenant = make_tenant(database_url, tmp_path)
    intervals = {}
    with tenant.sessions() as session, session.begin():
        for seconds in (30, 60, 60):
            intervals[add_monitor(session, tenant.organization_id, interval_seconds=seconds).id] = (
                seconds
            )
        probes = {r: create_probe(session, f"probe-{r}", r)[0].id for r in REGIONS}
    # Across an hour and a day boundary, recent enough for every level's retention.
    start = (utcnow() - timedelta(days=1)).replace(hour=23, minute=10, second=0, microsecond=0)
    results = []
    for monitor_id, seconds in intervals.items():
        for region in REGIONS:
            failing = False
            for slot in range(int(2 * 3600 / seconds)):
                if rng.random() < 0.1:
                    continue  # a missed slot; some gaps exceed the stale limit
                if rng.random() < 0.15:
                    failing = not failing
                latency = None if failing or rng.random() < 0.1 else rng.uniform(0.5, 900)
                at = start + timedelta(seconds=slot * seconds + rng.choice((0, 0, 7)))
                results.append((monitor_id, region, at, not failing, latency))
            # A stretch of silence longer than the stale limit.
            del results[-rng.randint(5, 40) : -rng.randint(1, 4)]
    results.sort(key=lambda r: r[2])

    # In order mostly; one in eight arrives several batches late; some come twice.
    batches: list[list[tuple]] = [[] for _ in range(len(results) // 97 + 8)]
    for position, result in enumerate(results):
        delay = rng.randint(1, 7) if rng.random() < 1 / 8 else 0
        batches[position // 97 + delay].append(result)
        if rng.random() < 0.03:
            batches[position // 97 + rng.randint(0, 7)].append(result)
    store = ResultStore(tenant.sessions, [RollupProcessor()])
    for batch in batches:
        rng.shuffle(batch)
        rows = [
            result_row(
                monitor_id=m, region=r, probe_id=probes[r], scheduled_at=at, ok=ok, latency_ms=ms
            )
            for m, r, at, ok, ms in batch
        ]
        store.store(rows)

    with tenant.sessions() as session:
        assert session.query(CheckResult).count() == len(results)
        levels, totals = expected_rollups(results, intervals)
        for level in LEVELS:
            got = stored_rollups(session, level.model, ("monitor_id", "region", "bucket"))
            assert got.keys() == levels[level.name].keys(), level.name
            for key, want in levels[level.name].items():
                for name in ("downtime_s", "latency_sum"):
                    assert got[key][name] == pytest.approx(want[name], abs=1e-6), (level, key)
                    got[key][name] = want[name]
                assert got[key] == want, (level.name, key)
        got_totals = stored_rollups(session, RollupDayTotal, ("monitor_id", "bucket"))
        assert got_totals.keys() == totals.keys()
        for key, want in totals.items():
            assert got_totals[key]["latency_sum"] == pytest.approx(want["latency_sum"])
            got_totals[key]["latency_sum"] = want["latency_sum"]
            assert got_totals[key] == {k: v for k, v in want.items() if k != "downtime_s"} | {
                "histogram": {}
            }
