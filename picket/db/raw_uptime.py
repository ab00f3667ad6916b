"""Uptime of a monitor over a period, computed from raw check results.

Every region's checks count equally; overall uptime is the share of passing checks
across regions. Rollups (issue 8) can replace this with pre-aggregated figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, func, or_, select
from sqlalchemy.orm import Session

from picket.db.json_match import json_array_contains
from picket.db.models import CheckResult, Incident


def _percentile(
    session: Session,
    monitor_id: str,
    start: datetime,
    end: datetime,
    region: str | None,
    count: int,
    percent: int,
) -> float | None:
    if count == 0:
        return None
    # Nearest rank: the ceil(percent/100 * count)-th smallest latency.
    rank = max(1, -(-percent * count // 100))
    stmt = (
        select(CheckResult.latency_ms)
        .where(
            CheckResult.monitor_id == monitor_id,
            CheckResult.scheduled_at >= start,
            CheckResult.scheduled_at < end,
            CheckResult.latency_ms.is_not(None),
        )
        .order_by(CheckResult.latency_ms)
        .offset(rank - 1)
        .limit(1)
    )
    if region is not None:
        stmt = stmt.where(CheckResult.region == region)
    return session.scalar(stmt)


def _figures(total: int, passed: int, avg: float | None, p95: float | None) -> dict[str, Any]:
    return {
        "uptime_percent": round(100.0 * passed / total, 4) if total else None,
        "total_checks": total,
        "failed_checks": total - passed,
        "latency_ms": {
            "avg": round(avg, 3) if avg is not None else None,
            "p95": round(p95, 3) if p95 is not None else None,
        },
    }


def monitor_uptime(
    session: Session, monitor_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    window = (
        CheckResult.monitor_id == monitor_id,
        CheckResult.scheduled_at >= start,
        CheckResult.scheduled_at < end,
    )
    rows = session.execute(
        select(
            CheckResult.region,
            func.count(),
            func.sum(case((CheckResult.ok.is_(True), 1), else_=0).cast(Integer)),
            func.avg(CheckResult.latency_ms),
            func.count(CheckResult.latency_ms),
        )
        .where(*window)
        .group_by(CheckResult.region)
        .order_by(CheckResult.region)
    ).all()
    regions: dict[str, Any] = {}
    total = passed = latency_count = 0
    latency_sum = 0.0
    for region, count, ok_count, avg, with_latency in rows:
        ok_count = int(ok_count or 0)
        p95 = _percentile(session, monitor_id, start, end, region, int(with_latency), 95)
        regions[region] = _figures(int(count), ok_count, avg, p95)
        total += int(count)
        passed += ok_count
        if avg is not None:
            latency_sum += float(avg) * int(with_latency)
            latency_count += int(with_latency)
    overall = _figures(
        total,
        passed,
        latency_sum / latency_count if latency_count else None,
        _percentile(session, monitor_id, start, end, None, latency_count, 95),
    )
    overall["incidents"] = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(
            or_(
                Incident.monitor_id == monitor_id,
                json_array_contains(session, Incident.monitor_ids, monitor_id),
            ),
            Incident.started_at < end,
            or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start),
        )
    )
    return {"overall": overall, "regions": regions}
