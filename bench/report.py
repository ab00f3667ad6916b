"""Report latency over a large rollup history in PostgreSQL (issue 8, acceptance 2).

Seeds N monitors (default 10,000) x 3 regions x 30 days of hourly rollups, plus the daily
rollups the collector keeps beside them, some outages (state transitions) and incidents,
all generated inside PostgreSQL. Then times, through the real API app, 50 calls each of
the organization's 30-day summary, one monitor's 30-day report, and the same report with
an hourly series, and prints median and p99.

    .venv/bin/python bench/report.py [--monitors 10000] [--calls 50] [--keep]

The database is a fresh one on the server of PICKET_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import drop_database, fresh_database, workdir  # noqa: E402
from picket.db.accounts import create_api_key, create_organization  # noqa: E402
from picket.db.engine import make_engine, make_sessionmaker, transaction  # noqa: E402
from picket.db.types import utcnow  # noqa: E402

REGIONS = ("us-east", "eu-west", "ap-south")
# A realistic latency spread: about 40-70 ms, in the histogram's log buckets.
HISTOGRAM = '{"186": 6, "190": 14, "194": 18, "197": 12, "202": 7, "210": 3}'


def seed(url: str, monitors: int, days: int) -> tuple[str, str, float]:
    """Returns the admin key, one monitor id and how long seeding took."""
    started = time.perf_counter()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "bench")
        _, key = create_api_key(session, org.id, "bench", ["full"])
        org_id = org.id
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first_hour = today - timedelta(days=days - 1)
    params = {
        "org": org_id,
        "n": monitors,
        "created": first_hour - timedelta(days=1),
        "first": first_hour,
        "last_hour": now.replace(minute=0, second=0, microsecond=0),
        "today": today,
        "histogram": HISTOGRAM,
    }
    regions = ", ".join(f"('{r}')" for r in REGIONS)
    statements = [
        """INSERT INTO monitors (id, organization_id, name, type, url, interval_seconds,
             timeout_seconds, confirmation_period_s, recovery_period_s, incident_on_degraded,
             sla_target, retries, retry_delay_ms, tags, spec, paused, version, created_at,
             updated_at)
           SELECT md5(i::text), :org, 'monitor ' || i, 'http',
             'https://m' || i || '.example.com/', 60, 10, 0, 0, false, 99.9, 1, 1000,
             '[]'::jsonb, '{}'::jsonb, false, 1, :created, :created
           FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO rollups_hour (monitor_id, region, bucket, checks, failures, downtime_s,
             latency_count, latency_sum, latency_min, latency_max, histogram)
           SELECT m.id, r.region, b, 60, (random() < 0.02)::int,
             CASE WHEN random() < 0.01 THEN 60 ELSE 0 END, 60, 60 * (45 + random() * 10),
             35 + random() * 5, 70 + random() * 20, CAST(:histogram AS jsonb)
           FROM monitors m CROSS JOIN (VALUES {regions}) AS r(region)
             CROSS JOIN generate_series(CAST(:first AS timestamptz),
               CAST(:last_hour AS timestamptz), interval '1 hour') AS b
           WHERE m.organization_id = :org
           ORDER BY m.id, r.region, b""",
        """INSERT INTO rollups_day (monitor_id, region, bucket, checks, failures, downtime_s,
             latency_count, latency_sum, latency_min, latency_max, histogram)
           SELECT monitor_id, region, date_trunc('day', bucket AT TIME ZONE 'UTC')
               AT TIME ZONE 'UTC', sum(checks), sum(failures), sum(downtime_s),
             sum(latency_count), sum(latency_sum), min(latency_min), max(latency_max),
             CAST(:histogram AS jsonb)
           FROM rollups_hour GROUP BY 1, 2, 3""",
        """INSERT INTO rollups_day_totals (monitor_id, bucket, checks, failures,
             latency_count, latency_sum, latency_min, latency_max)
           SELECT monitor_id, bucket, sum(checks), sum(failures), sum(latency_count),
             sum(latency_sum), min(latency_min), max(latency_max)
           FROM rollups_day GROUP BY 1, 2""",
        # One in ten monitors had an outage of 5 to 65 minutes on a random day.
        """INSERT INTO state_transitions (monitor_id, from_status, to_status, at, regions,
             created_at)
           SELECT id, s.f, s.t, o.at + s.shift, '{}'::jsonb, o.at
           FROM (SELECT id, :first + (random() * (:today - :first)) AS at,
                        (5 + random() * 60) * interval '1 minute' AS length
                 FROM monitors WHERE organization_id = :org AND random() < 0.1) AS o
             CROSS JOIN LATERAL (VALUES ('up', 'down', interval '0'),
                                        ('down', 'up', o.length)) AS s(f, t, shift)""",
        """INSERT INTO incidents (id, organization_id, monitor_id, monitor_ids, title, status,
             impact, automatic, regions, started_at, resolved_at, created_at, updated_at)
           SELECT md5(random()::text), :org, d.monitor_id, '[]'::jsonb, 'down', 'resolved',
             'major', true, '{}'::jsonb, d.at, u.at, d.at, u.at
           FROM state_transitions d JOIN state_transitions u
             ON u.monitor_id = d.monitor_id AND u.to_status = 'up'
           WHERE d.to_status = 'down'""",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return key, hashlib.md5(b"1").hexdigest(), time.perf_counter() - started


def reuse(url: str) -> tuple[str, str]:
    """A fresh key for the organization an earlier run seeded."""
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        org_id = session.execute(text("SELECT id FROM organizations LIMIT 1")).scalar_one()
        _, key = create_api_key(session, org_id, "bench", ["full"])
    engine.dispose()
    return key, hashlib.md5(b"1").hexdigest()


def measure(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and p99 latency in milliseconds over `calls` calls (after one warm-up)."""
    call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--url", help="time against this database, seeded by an earlier run with --keep"
    )
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from picket.api.app import create_app
    from picket.settings import Settings

    url = args.url or fresh_database("postgresql", workdir())
    try:
        if args.url:
            key, monitor_id = reuse(url)
        else:
            key, monitor_id, seconds = seed(url, args.monitors, args.days)
            rows = args.monitors * len(REGIONS) * 24 * args.days
            print(
                f"seeded {args.monitors} monitors x {len(REGIONS)} regions x {args.days} days "
                f"(~{rows:,} hourly rollups) in {seconds:.0f} s",
                flush=True,
            )
        settings = Settings(
            database_url=url, data_dir=Path(tempfile.mkdtemp()), rate_limit_per_minute=1_000_000
        )
        app = create_app(settings)
        client = TestClient(app)
        auth = {"Authorization": f"Bearer {key}"}

        def get(path: str, **params: str) -> Callable[[], object]:
            def call() -> object:
                response = client.get(path, params=params, headers=auth)
                assert response.status_code == 200, response.text
                return response

            return call

        cases = {
            "summary 30d (all monitors)": get("/api/v1/reports/summary", period="30d"),
            "uptime 30d (one monitor)": get(
                "/api/v1/reports/uptime", monitor_id=monitor_id, period="30d"
            ),
            "uptime 30d hourly series": get(
                "/api/v1/reports/uptime", monitor_id=monitor_id, period="30d", granularity="hour"
            ),
        }
        figures = {}
        for name, call in cases.items():
            median, p99 = measure(call, args.calls)
            figures[name] = (median, p99)
            print(
                f"{name:32s} median {median:8.1f} ms   p99 {p99:8.1f} ms  ({args.calls} calls)",
                flush=True,
            )
        app.state.engine.dispose()
        return figures
    finally:
        if not args.keep and not args.url:
            drop_database(url)
        else:
            print(f"kept {url}")


if __name__ == "__main__":
    main()
