"""Retention prunes each table at its own age, in bounded batches, and expires exports."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from picket.collector.retention import Retention
from picket.db.engine import make_engine, make_sessionmaker
from picket.db.models import CheckResult, Organization
from picket.db.models_reports import Export, RollupDay, RollupHour, RollupMinute
from picket.db.types import utcnow
from picket.settings import Settings
from tests.api.reports_support import bulk_insert_results


def rollup(monitor_id: str, bucket: object) -> dict[str, object]:
    return {
        "monitor_id": monitor_id,
        "region": "us-east",
        "bucket": bucket,
        "checks": 1,
        "failures": 0,
        "downtime_s": 0.0,
        "latency_count": 0,
        "latency_sum": 0.0,
        "histogram": {},
    }


async def test_retention_prunes_by_age_in_batches(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, raw_retention_days=10)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    ages = {"old": 200, "mid": 60, "week": 8, "new": 1}
    with sessions() as session, session.begin():
        bulk_insert_results(
            session,
            [
                {
                    "monitor_id": f"m{i % 3}",
                    "region": "us-east",
                    "scheduled_at": now - timedelta(days=days, minutes=i),
                }
                for days in (11, 9)
                for i in range(25)
            ],
        )
        for model in (RollupMinute, RollupHour, RollupDay):
            session.execute(
                insert(model.__table__),
                [
                    rollup(f"m{i}", now - timedelta(days=days, minutes=i))
                    for days in ages.values()
                    for i in range(4)
                ],
            )
        org = Organization(name="o")
        session.add(org)
        session.flush()
        (tmp_path / "exports").mkdir()
        stale, fresh = tmp_path / "exports" / "stale.csv", tmp_path / "exports" / "fresh.csv"
        stale.write_text("a\n")
        fresh.write_text("a\n")
        for name, expires in (
            ("stale", now - timedelta(hours=1)),
            ("fresh", now + timedelta(hours=1)),
        ):
            session.add(
                Export(
                    id=name,
                    organization_id=org.id,
                    kind="checks",
                    format="csv",
                    from_at=now,
                    to_at=now,
                    status="ready",
                    path=f"exports/{name}.csv",
                    expires_at=expires,
                )
            )

        session.add(
            Export(
                id="stuck",
                organization_id=org.id,
                kind="checks",
                format="csv",
                from_at=now,
                to_at=now,
                status="running",
                created_at=now - timedelta(hours=2),
            )
        )

    # A batch of 7 makes every table take several rounds.
    counts = Retention(sessions, settings, batch=7).prune_once(now)
    assert counts == {
        "check_results": 25,
        "rollups_minute": 12,
        "rollups_hour": 4,
        "exports": 2,
    }
    with sessions() as session:
        oldest = session.scalar(select(func.min(CheckResult.scheduled_at)))
        assert oldest is not None and oldest > now - timedelta(days=10)
        assert session.scalar(select(func.count()).select_from(CheckResult)) == 25
        assert session.scalar(select(func.count()).select_from(RollupMinute)) == 4
        assert session.scalar(select(func.count()).select_from(RollupHour)) == 12
        assert session.scalar(select(func.count()).select_from(RollupDay)) == 16
        assert session.get(Export, "stale").status == "expired"  # type: ignore[union-attr]
        assert session.get(Export, "fresh").status == "ready"  # type: ignore[union-attr]
        stuck = session.get(Export, "stuck")
        assert (
            stuck is not None and stuck.status == "failed" and "interrupted" in (stuck.error or "")
        )
    assert not stale.exists() and fresh.exists()

    # The collector's loop does the same on its own, and stops when told.
    with sessions() as session, session.begin():
        bulk_insert_results(
            session,
            [{"monitor_id": "m9", "region": "eu-west", "scheduled_at": now - timedelta(days=30)}],
        )
    stop = asyncio.Event()
    task = asyncio.create_task(Retention(sessions, settings, interval_s=3600).run(stop))

    def remaining() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(CheckResult)) or 0

    deadline = asyncio.get_running_loop().time() + 30
    while remaining() != 25:
        assert asyncio.get_running_loop().time() < deadline, "retention loop did not prune"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    engine.dispose()
