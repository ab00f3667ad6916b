"""The rollup processor, fed by the real ResultStore: downtime from each region's own
state changes (also when results arrive late), counts and mergeable latency summaries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from picket.collector.ingest import ResultStore
from picket.collector.rollups import RollupProcessor
from picket.db.models_reports import RollupDay, RollupDayTotal, RollupHour, RollupMinute
from picket.db.probes import create_probe
from picket.db.rollups import LatencyHistogram
from picket.db.types import utcnow
from tests.api.reports_support import add_monitor, make_tenant, result_row


def test_processor_keeps_downtime_counts_and_latency(database_url: str, tmp_path: Path) -> None:
    tenant = make_tenant(database_url, tmp_path)
    with tenant.sessions() as session, session.begin():
        monitor_id = add_monitor(session, tenant.organization_id, interval_seconds=60).id
        probe_id = create_probe(session, "p", "us-east")[0].id
    store = ResultStore(tenant.sessions, [RollupProcessor()])
    t0 = (utcnow() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)

    def deliver(*results: tuple[int, bool, float | None]) -> None:
        rows = [
            result_row(
                monitor_id=monitor_id,
                region="us-east",
                probe_id=probe_id,
                scheduled_at=t0 + timedelta(seconds=offset),
                ok=ok,
                latency_ms=latency,
            )
            for offset, ok, latency in results
        ]
        stored, rejected = store.store(rows)
        assert (len(stored), rejected) == (len(rows), set())

    def totals() -> list[tuple[int, int, float]]:
        with tenant.sessions() as session:
            return [
                tuple(  # type: ignore[misc]
                    session.execute(
                        select(
                            func.sum(model.checks),
                            func.sum(model.failures),
                            func.sum(model.downtime_s),
                        ).where(model.monitor_id == monitor_id)
                    ).one()
                )
                for model in (RollupMinute, RollupHour, RollupDay)
            ]

    deliver((0, True, 40.0), (60, False, None), (120, False, 900.0))
    # The open interval after the last result is not written yet; reports add it.
    assert [round(d, 6) for _, _, d in totals()] == [60.0] * 3
    # Then an hour of silence: the failing result at 120 s counts for 3 intervals only.
    deliver((3600, True, 35.0))
    assert totals() == [(4, 2, 60.0 + 180.0)] * 3
    # A late result inside the stretch: the failure at 120 s now ends at 200 s.
    deliver((200, True, 50.0))
    assert totals() == [(5, 2, 60.0 + 80.0)] * 3
    # And a late failure between them splits that interval without changing its total.
    deliver((150, False, None))
    assert totals() == [(6, 3, 60.0 + 30.0 + 50.0)] * 3

    with tenant.sessions() as session:
        over_regions = session.execute(
            select(func.sum(RollupDayTotal.checks), func.sum(RollupDayTotal.failures)).where(
                RollupDayTotal.monitor_id == monitor_id
            )
        ).one()
        assert tuple(over_regions) == (6, 3)
        hour = session.get(RollupHour, (monitor_id, "us-east", t0))
        assert hour is not None
        # Built over four separate batches, merged by the upsert in the database.
        assert (hour.latency_min, hour.latency_max, hour.latency_count) == (40.0, 900.0, 3)
        assert LatencyHistogram.from_json(hour.histogram).total == 3
        assert hour.latency_sum == 990.0
        minutes = session.scalars(
            select(RollupMinute).where(RollupMinute.monitor_id == monitor_id)
        ).all()
        by_minute = {(m.bucket - t0).total_seconds() // 60: m.downtime_s for m in minutes}
        # 60-120 s down; 120-180 s down (two failures); 180-200 s down, then up.
        assert (by_minute[1], by_minute[2], by_minute[3]) == (60.0, 60.0, 20.0)
