"""Probe throughput and scheduling: HTTP checks/second one probe sustains, and how late its
scheduler starts checks with 10,000 monitors at 30 s intervals.

The probe's own parts run in this process exactly as in `picket probe` — the Scheduler,
the HTTP check, the Publisher with its spool, publishing to a private nats-server — and
the target is a minimal HTTP server in a process of its own, so it does not share the
probe's event loop.

    .venv/bin/python bench/probe.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats  # noqa: E402

from bench.common import workdir  # noqa: E402
from picket.collector.ingest import ensure_stream  # noqa: E402
from picket.probe.checks import CheckContext  # noqa: E402
from picket.probe.main import run_in_probe_loop  # noqa: E402
from picket.probe.publisher import Publisher  # noqa: E402
from picket.probe.scheduler import Completed, Scheduler  # noqa: E402
from picket.probe.spool import Spool  # noqa: E402
from picket.proto.v1 import control_pb2 as pb  # noqa: E402
from picket.testing import free_port, nats_server, wait_for_port  # noqa: E402

TARGET = """
import asyncio, sys
RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok"
async def answer(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(RESPONSE)
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await server.serve_forever()
asyncio.run(main())
"""


def start_target() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", TARGET, str(port)])
    wait_for_port("127.0.0.1", port)
    return process, f"http://127.0.0.1:{port}/"


def assignments(url: str, count: int, interval_s: int, kind: str = "http") -> list[pb.Assignment]:
    spread_ms = interval_s * 1000
    parsed = urlsplit(url)
    target, spec = (
        (url, {"expected_status": ["2xx"]})
        if kind == "http"
        else (parsed.hostname or "", {"port": parsed.port})
    )
    return [
        pb.Assignment(
            monitor_id=f"m{i:05d}",
            version=1,
            kind=kind,
            target=target,
            interval_s=interval_s,
            timeout_s=10,
            offset_ms=i * spread_ms // count,
            spec_json=json.dumps(spec),
            retries=0,
        )
        for i in range(count)
    ]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_probe(
    nats_url: str,
    url: str,
    count: int,
    interval_s: int,
    warmup_s: float,
    measure_s: float,
    kind: str = "http",
) -> dict[str, float]:
    """Run `count` checks every `interval_s`; figures over `measure_s` after a warm-up."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js)
    spool = Spool(workdir() / "spool.sqlite", 256 << 20, 3600)
    publisher = Publisher("results.bench.probe", "bench", "probe", spool)
    publisher.attach(nc)
    counted: dict[str, int] = {"ok": 0, "failed": 0, "all": 0}
    measuring = False

    async def sink(done: Completed) -> None:
        counted["all"] += 1
        if measuring and not done.check_now_id:
            counted["ok" if done.outcome.ok else "failed"] += 1
        await publisher.submit(done)

    scheduler = Scheduler(sink, CheckContext(allow_private_targets=True), concurrency=200)
    for assignment in assignments(url, count, interval_s, kind):
        scheduler.upsert(assignment)
    stop = asyncio.Event()
    publisher_stop = asyncio.Event()
    tasks = [
        asyncio.create_task(scheduler.run(stop)),
        asyncio.create_task(publisher.run(publisher_stop)),
    ]
    # A new check runs at once for the slot in progress, so the first round is a burst of
    # every check together; the steady state is measured once it has passed.
    while counted["all"] < count:  # noqa: ASYNC110 - the sink counts
        await asyncio.sleep(0.1)
    await asyncio.sleep(warmup_s)
    scheduler.lateness_ms.clear()
    measuring = True
    published_before = publisher.published
    started = time.perf_counter()
    cpu_started = time.process_time()
    await asyncio.sleep(measure_s)
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    measuring = False
    lateness = list(scheduler.lateness_ms)
    published = publisher.published - published_before
    stop.set()
    publisher_stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await nc.close()
    spool.close()
    checks = counted["ok"] + counted["failed"]
    return {
        "offered": count / interval_s,
        "checks_per_s": checks / elapsed,
        # CPU of the whole probe (checks, scheduling, publishing) per check.
        "cpu_ms_per_check": cpu_s / checks * 1000 if checks else float("nan"),
        "failed": counted["failed"],
        "published_per_s": published / elapsed,
        "lateness_p50_ms": percentile(lateness, 50),
        "lateness_p99_ms": percentile(lateness, 99),
        "lateness_mean_ms": statistics.fmean(lateness) if lateness else float("nan"),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,1500", help="checks/s offered, comma-separated")
    parser.add_argument("--measure-s", type=float, default=10.0)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval-s", type=int, default=30)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    target, url = start_target()
    try:
        with nats_server() as server:
            for rate in (int(r) for r in args.rates.split(",")):
                figures = run_in_probe_loop(
                    run_probe(server.url, url, rate, 1, warmup_s=3, measure_s=args.measure_s)
                )
                results[f"throughput {rate}"] = figures
                print(
                    f"probe HTTP checks, {rate}/s offered ({rate} monitors every 1 s): "
                    f"{figures['checks_per_s']:,.0f} checks/s done, "
                    f"{figures['published_per_s']:,.0f} results/s published, "
                    f"{figures['failed']:.0f} failed, {figures['cpu_ms_per_check']:.2f} ms CPU "
                    f"per check (one idle core: {1000 / figures['cpu_ms_per_check']:,.0f}/s); "
                    "lateness p50 "
                    f"{figures['lateness_p50_ms']:.0f} ms, p99 {figures['lateness_p99_ms']:.0f} ms",
                    flush=True,
                )
            figures = run_in_probe_loop(
                run_probe(
                    server.url,
                    url,
                    args.monitors,
                    args.interval_s,
                    warmup_s=2,
                    measure_s=args.interval_s,
                    # TCP connects to the same target: the scheduler's timing, not HTTP's cost.
                    kind="tcp",
                )
            )
            results["schedule"] = figures
            print(
                f"scheduler lateness, {args.monitors:,} TCP monitors every {args.interval_s} s "
                f"({figures['offered']:,.0f} checks/s): p50 {figures['lateness_p50_ms']:.1f} ms, "
                f"p99 {figures['lateness_p99_ms']:.1f} ms "
                f"({figures['checks_per_s']:,.0f} checks/s done, {figures['failed']:.0f} failed)",
                flush=True,
            )
    finally:
        target.terminate()
        target.wait()
    return results


if __name__ == "__main__":
    main()
