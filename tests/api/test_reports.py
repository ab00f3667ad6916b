"""Reports read from rollups agree with a brute-force computation over the raw results."""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from picket.collector.ingest import ResultStore
from picket.collector.rollups import RollupProcessor
from picket.db.models import Incident, StateTransition
from picket.db.probes import create_probe
from picket.db.rollups import LatencyHistogram
from picket.db.types import utcnow
from tests.api.reports_support import Tenant, add_monitor, make_tenant, result_row

REGIONS = ("us-east", "eu-west", "ap-south")
INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Result:
    monitor_id: str
    region: str
    scheduled_at: datetime
    ok: bool
    latency_ms: float | None


def synthetic_results(monitor_id: str, start: datetime, now: datetime) -> list[Result]:
    """30 days, three regions: scattered single failures, outages seen by one, two or all
    three regions, and timeouts without a latency."""
    rng = random.Random(8)
    outages: list[tuple[datetime, datetime, set[str]]] = []
    for _ in range(14):
        begin = start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds()))
        regions = set(rng.sample(REGIONS, rng.choice((1, 2, 2, 3))))
        outages.append((begin, begin + timedelta(minutes=rng.uniform(8, 180)), regions))
    results = []
    for offset, region in zip((7, 23, 41), REGIONS, strict=True):
        at = start + timedelta(seconds=offset)
        base = {"us-east": 40.0, "eu-west": 90.0, "ap-south": 210.0}[region]
        while at < now:
            down = any(a <= at < b and region in rs for a, b, rs in outages)
            ok = not down and rng.random() > 0.01
            latency = None if not ok and rng.random() < 0.5 else base * rng.lognormvariate(0, 0.4)
            results.append(Result(monitor_id, region, at, ok, latency))
            at += INTERVAL
    return results


def consensus_transitions(results: list[Result]) -> list[tuple[datetime, str, str]]:
    """Majority of three regions failing: down; some: degraded (DESIGN.md, Consensus)."""
    latest: dict[str, bool] = {}
    status = "unknown"
    out = []
    for result in sorted(results, key=lambda r: r.scheduled_at):
        latest[result.region] = result.ok
        failing = sum(1 for ok in latest.values() if not ok)
        new = "down" if failing >= 2 else "degraded" if failing else "up"
        if new != status:
            out.append((result.scheduled_at, status, new))
            status = new
    return out


def overlap(a: datetime, b: datetime, start: datetime, end: datetime) -> float:
    return max(0.0, (min(b, end) - max(a, start)).total_seconds())


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def brute_force(
    results: list[Result],
    transitions: list[tuple[datetime, str, str]],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    period = (end - start).total_seconds()
    out: dict[str, Any] = {"regions": {}}
    every_latency: list[float] = []
    for region in REGIONS:
        series = sorted((r for r in results if r.region == region), key=lambda r: r.scheduled_at)
        downtime = 0.0
        for current, following in zip(series, [*series[1:], None], strict=True):
            if not current.ok:
                until = following.scheduled_at if following else end
                until = min(until, current.scheduled_at + 3 * INTERVAL)
                downtime += overlap(current.scheduled_at, until, start, end)
        inside = [r for r in series if start <= r.scheduled_at < end]
        latencies = [r.latency_ms for r in inside if r.latency_ms is not None]
        every_latency += latencies
        out["regions"][region] = {
            "checks": len(inside),
            "failures": sum(1 for r in inside if not r.ok),
            "downtime_seconds": downtime,
            "uptime_percent": 100 * (1 - downtime / period),
            "latencies": latencies,
        }
    down = 0.0
    bounds = [*transitions, (end, "", "")]
    for (at, _, status), (following, _, _) in zip(bounds, bounds[1:], strict=False):
        if status == "down":
            down += overlap(at, following, start, end)
    out["overall"] = {
        "downtime_seconds": down,
        "uptime_percent": 100 * (1 - down / period),
        "latencies": every_latency,
    }
    return out


def assert_latency(reported: dict[str, Any], latencies: list[float]) -> None:
    assert reported["min"] == pytest.approx(min(latencies))
    assert reported["max"] == pytest.approx(max(latencies))
    assert reported["avg"] == pytest.approx(sum(latencies) / len(latencies), abs=1e-3)
    for name, q in (("p95", 0.95), ("p99", 0.99)):
        true = nearest_rank(latencies, q)
        # The documented bound of the histogram, plus the 3-decimal rounding of the report.
        assert abs(reported[name] - true) <= LatencyHistogram.ALPHA * true + 1e-3, name


def ingest(tenant: Tenant, probes: dict[str, str], results: list[Result]) -> None:
    """Deliver in batches of 500 as the collector does; one result in 60 arrives late
    (several batches after its neighbours), as after a probe's spool is flushed."""
    rng = random.Random(3)
    ordered = sorted(results, key=lambda r: r.scheduled_at)
    batches: list[list[Result]] = [[] for _ in range(len(ordered) // 500 + 4)]
    for position, result in enumerate(ordered):
        delay = 3 if rng.random() < 1 / 60 else 0
        batches[position // 500 + delay].append(result)
    store = ResultStore(tenant.sessions, [RollupProcessor()])
    for batch in batches:
        rows = [
            result_row(
                monitor_id=r.monitor_id,
                region=r.region,
                probe_id=probes[r.region],
                scheduled_at=r.scheduled_at,
                ok=r.ok,
                latency_ms=r.latency_ms,
            )
            for r in batch
        ]
        stored, rejected = store.store(rows)
        assert (len(stored), rejected) == (len(batch), set())


@pytest.fixture
def month(database_url: str, tmp_path: Path) -> tuple[Tenant, str, list[Result], list[Any]]:
    tenant = make_tenant(database_url, tmp_path)
    now = utcnow()
    start = now - timedelta(days=31)
    with tenant.sessions() as session, session.begin():
        monitor = add_monitor(
            session,
            tenant.organization_id,
            sla_target=99.5,
            interval_seconds=int(INTERVAL.total_seconds()),
            created_at=start - timedelta(hours=1),
        )
        monitor_id = monitor.id
        probes = {r: create_probe(session, f"probe-{r}", r)[0].id for r in REGIONS}
    results = synthetic_results(monitor_id, start, now)
    ingest(tenant, probes, results)
    transitions = consensus_transitions(results)
    with tenant.sessions() as session, session.begin():
        session.execute(
            insert(StateTransition),
            [
                {
                    "monitor_id": monitor_id,
                    "from_status": a,
                    "to_status": b,
                    "at": at,
                    "regions": {},
                }
                for at, a, b in transitions
            ],
        )
        downs = [(at, b) for at, _, b in transitions]
        for (at, status), (following, _) in zip(downs, [*downs[1:], (None, "")], strict=True):
            if status == "down":
                session.add(
                    Incident(
                        organization_id=tenant.organization_id,
                        monitor_id=monitor_id,
                        title="Shop is down",
                        status="resolved" if following else "investigating",
                        started_at=at,
                        resolved_at=following,
                        regions={r: {} for r in REGIONS},
                    )
                )
    return tenant, monitor_id, results, transitions


def check_report(
    report: dict[str, Any], results: list[Result], transitions: list[Any], sessions: Any
) -> None:
    start = datetime.fromisoformat(report["from"])
    end = datetime.fromisoformat(report["to"])
    expected = brute_force(results, transitions, start, end)
    for region in REGIONS:
        got, want = report["regions"][region], expected["regions"][region]
        assert got["checks"] == want["checks"], region
        assert got["failures"] == want["failures"], region
        assert got["downtime_seconds"] == pytest.approx(want["downtime_seconds"], abs=0.01)
        assert got["downtime_minutes"] == pytest.approx(want["downtime_seconds"] / 60, abs=1e-3)
        assert got["uptime_percent"] == pytest.approx(want["uptime_percent"], abs=1e-4)
        assert_latency(got["latency_ms"], want["latencies"])
    overall = report["overall"]
    assert overall["checks"] == sum(expected["regions"][r]["checks"] for r in REGIONS)
    assert overall["downtime_seconds"] == pytest.approx(
        expected["overall"]["downtime_seconds"], abs=0.01
    )
    assert overall["uptime_percent"] == pytest.approx(
        expected["overall"]["uptime_percent"], abs=1e-4
    )
    assert overall["sla"]["met"] == (expected["overall"]["uptime_percent"] >= 99.5)
    assert_latency(overall["latency_ms"], expected["overall"]["latencies"])
    with sessions() as session:
        incidents = [
            i
            for i in session.query(Incident).all()
            if start <= i.started_at < end and i.resolved_at is not None
        ]
        started = [i for i in session.query(Incident).all() if start <= i.started_at < end]
    assert overall["incidents"] == len(started) > 0
    mttr = sum((i.resolved_at - i.started_at).total_seconds() for i in incidents) / len(incidents)
    assert overall["mttr_seconds"] == pytest.approx(mttr, abs=1e-3)


def test_thirty_day_report_matches_brute_force(month: Any) -> None:
    tenant, monitor_id, results, transitions = month
    response = tenant.client.get(
        "/api/v1/reports/uptime",
        params={"monitor_id": monitor_id, "period": "30d"},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["overall"]["downtime_seconds"] > 0
    check_report(report, results, transitions, tenant.sessions)
    assert len(report["series"]) == 30
    assert sum(p["checks"] for p in report["series"]) == report["overall"]["checks"]
    assert sum(p["downtime_seconds"] for p in report["series"]) == pytest.approx(
        report["overall"]["downtime_seconds"], abs=0.01
    )

    # A range with ragged edges: hours at the old edge, minutes at the recent one.
    now = utcnow()
    params = {
        "monitor_id": monitor_id,
        "from": (now - timedelta(days=20, minutes=-13)).isoformat(),
        "to": (now - timedelta(days=2, minutes=17, seconds=9)).isoformat(),
        "granularity": "hour",
    }
    response = tenant.client.get("/api/v1/reports/uptime", params=params, headers=tenant.auth)
    assert response.status_code == 200, response.text
    check_report(response.json(), results, transitions, tenant.sessions)

    summary = tenant.client.get(
        "/api/v1/reports/summary", params={"period": "30d"}, headers=tenant.auth
    ).json()
    (row,) = summary["data"]
    # Computed a moment later, so over a slightly longer period.
    assert row["uptime_percent"] == pytest.approx(report["overall"]["uptime_percent"], abs=1e-3)
    assert row["checks"] == report["overall"]["checks"]
    assert row["incidents"] == report["overall"]["incidents"]

    as_csv = tenant.client.get(
        "/api/v1/reports/uptime",
        params={"monitor_id": monitor_id, "period": "30d", "format": "csv"},
        headers=tenant.auth,
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["scope"] for r in rows] == ["overall", *sorted(REGIONS)]
    assert float(rows[0]["uptime_percent"]) == pytest.approx(
        report["overall"]["uptime_percent"], abs=1e-3
    )


def test_report_refuses_bad_ranges_and_other_organizations(
    database_url: str, tmp_path: Path
) -> None:
    tenant = make_tenant(database_url, tmp_path)
    with tenant.sessions() as session, session.begin():
        monitor_id = add_monitor(session, tenant.organization_id).id
    url = "/api/v1/reports/uptime"
    fresh = tenant.client.get(url, params={"monitor_id": monitor_id}, headers=tenant.auth)
    assert fresh.status_code == 200
    assert fresh.json()["overall"]["checks"] == 0
    assert fresh.json()["overall"]["latency_ms"]["p95"] is None
    for params, field in (
        ({"period": "30x"}, "period"),
        ({"period": "0d"}, "period"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"period": "7d", "from": "2026-01-01T00:00:00Z"}, "period"),
        ({"granularity": "week"}, "granularity"),
        ({"format": "xml"}, "format"),
    ):
        response = tenant.client.get(
            url, params={"monitor_id": monitor_id, **params}, headers=tenant.auth
        )
        assert response.status_code == 422, params
        assert field in response.json()["detail"], (params, response.json())
    _, other_key = tenant.add_organization("Other")
    other = {"Authorization": f"Bearer {other_key}"}
    assert (
        tenant.client.get(url, params={"monitor_id": monitor_id}, headers=other).status_code == 404
    )
    summary = tenant.client.get("/api/v1/reports/summary", headers=other).json()
    assert summary["data"] == []
    no_scope = make_tenant(database_url, tmp_path / "two", scopes=["monitors:read"])
    denied = no_scope.client.get("/api/v1/reports/summary", headers=no_scope.auth)
    assert denied.status_code == 403 and "reports:read" in denied.json()["detail"]
