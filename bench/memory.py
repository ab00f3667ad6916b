"""Memory: resident set size of a real probe process running 10,000 assignments, and of a
real collector process draining the ingest benchmark's results into PostgreSQL.

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats  # noqa: E402
from sqlalchemy import distinct, func, insert, select  # noqa: E402

from bench.common import drop_database, fresh_database, workdir  # noqa: E402
from bench.ingest import publish, seed  # noqa: E402
from bench.probe import start_target  # noqa: E402
from picket.collector.ingest import ensure_stream  # noqa: E402
from picket.db.accounts import create_organization  # noqa: E402
from picket.db.engine import transaction  # noqa: E402
from picket.db.models import CheckResult, Monitor, MonitorState  # noqa: E402
from picket.db.types import new_id  # noqa: E402
from picket.testing import Stack, nats_server, wait_for  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe_memory(nats_url: str, monitors: int, interval_s: int, run_s: float) -> dict[str, float]:
    target, url = start_target()
    db = fresh_database("sqlite", workdir())
    stack = Stack(workdir(), db, nats_url, ping_interval_s=5)
    try:
        with transaction(stack.sessions) as session:
            org = create_organization(session, "bench")
            ids = [new_id() for _ in range(monitors)]
            session.execute(
                insert(Monitor),
                [
                    {
                        "id": mid,
                        "organization_id": org.id,
                        "name": f"m{i}",
                        "type": "http",
                        "url": url,
                        "interval_seconds": interval_s,
                        "timeout_seconds": 10,
                        "regions": ["bench"],
                        "retries": 0,
                    }
                    for i, mid in enumerate(ids)
                ],
            )
            session.execute(
                insert(MonitorState),
                [{"monitor_id": mid, "status": "unknown", "region_status": {}} for mid in ids],
            )
        stack.start_collector()
        probe, _ = stack.start_probe("bench")

        def checked() -> int:
            with stack.sessions() as session:
                return session.scalar(select(func.count(distinct(CheckResult.monitor_id)))) or 0

        # Every monitor checked once: the probe holds all its assignments.
        wait_for(
            lambda: checked() >= monitors,
            timeout=180,
            interval=1,
            message="the probe to run every assignment",
        )
        assigned = rss_mb(probe.process.pid)
        peak = assigned
        until = time.monotonic() + run_s
        while time.monotonic() < until:
            peak = max(peak, rss_mb(probe.process.pid))
            time.sleep(0.5)
        return {"assigned_mb": assigned, "peak_mb": peak, "end_mb": rss_mb(probe.process.pid)}
    finally:
        stack.stop()
        target.terminate()
        target.wait()


def collector_memory(nats_url: str, backend: str, count: int) -> dict[str, float]:
    url = fresh_database(backend, workdir())
    stack = Stack(workdir(), url, nats_url)
    try:
        monitors, probes = seed(url)

        async def prepare() -> None:
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            try:
                await js.delete_stream("PICKET_RESULTS")
            except Exception:
                pass
            await ensure_stream(js)
            await publish(js, count, monitors, probes)
            await nc.close()

        asyncio.run(prepare())

        def stored() -> int:
            with stack.sessions() as session:
                return session.scalar(select(func.count()).select_from(CheckResult)) or 0

        started = time.perf_counter()
        collector = stack.start_collector()
        idle = rss_mb(collector.process.pid)
        peak = idle
        while stored() < count:
            peak = max(peak, rss_mb(collector.process.pid))
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        return {"idle_mb": idle, "peak_mb": peak, "rate": count / elapsed}
    finally:
        stack.stop()
        drop_database(url)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval-s", type=int, default=30)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args(argv)
    results = {}
    with nats_server() as server:
        probe = probe_memory(server.url, args.monitors, args.interval_s, args.interval_s + 5)
        results["probe"] = probe
        print(
            f"probe RSS with {args.monitors:,} assignments (every {args.interval_s} s): "
            f"{probe['assigned_mb']:.0f} MB once every check ran, peak {probe['peak_mb']:.0f} MB "
            f"over the next interval",
            flush=True,
        )
        collector = collector_memory(server.url, args.backend, args.count)
        results["collector"] = collector
        print(
            f"collector RSS draining {args.count:,} results into {args.backend}: "
            f"{collector['idle_mb']:.0f} MB at start, peak {collector['peak_mb']:.0f} MB "
            f"({collector['rate']:,.0f} results/s including start-up)",
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()
