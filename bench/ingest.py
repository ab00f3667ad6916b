"""Ingest throughput: results/second the collector stores, end to end from JetStream.

N results are published to a private nats-server first; then the collector's consumer
(the real Ingestor and ResultStore) drains them into a fresh database, and the time from
its start until the last row is committed and acked gives results/second. A naive
consumer (fetch one, one transaction per row, ack) is measured in the same run for the
ratio.

    .venv/bin/python bench/ingest.py --count 100000 --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import backend_arg, drop_database, fresh_database, workdir  # noqa: E402
from picket.collector.ingest import (  # noqa: E402
    Ingestor,
    ResultStore,
    decode,
    ensure_stream,
    msg_id,
    tune_gc,
)
from picket.db.accounts import create_organization  # noqa: E402
from picket.db.engine import make_engine, make_sessionmaker, transaction  # noqa: E402
from picket.db.models import CheckResult  # noqa: E402
from picket.db.monitors import create_monitor  # noqa: E402
from picket.db.probes import create_probe  # noqa: E402
from picket.proto.v1 import results_pb2  # noqa: E402
from picket.testing import nats_server  # noqa: E402

MONITORS = 200
REGIONS = ("us-east", "eu-west", "ap-south")


def seed(url: str) -> tuple[list[str], dict[str, str]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "bench")
        probes = {r: create_probe(session, f"bench-{r}", r)[0].id for r in REGIONS}
        monitors = [
            create_monitor(
                session, org.id, name=f"m{i}", type="http", url=f"http://m{i}.example/"
            ).id
            for i in range(MONITORS)
        ]
    engine.dispose()
    return monitors, probes


async def publish(js, count: int, monitors: list[str], probes: dict[str, str]) -> float:
    # Two hours ago: recent enough that the collector's retention keeps them.
    base_ms = (int(time.time()) - 7200) * 1000
    started = time.perf_counter()
    pending = []
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        monitor = monitors[(i // len(REGIONS)) % len(monitors)]
        slot = base_ms + (i // (len(REGIONS) * len(monitors))) * 1000
        result = results_pb2.CheckResult(
            monitor_id=monitor,
            monitor_version=1,
            region=region,
            probe_id=probes[region],
            scheduled_at_ms=slot,
            started_at_ms=slot + 3,
            ok=i % 50 != 0,
            error_kind="" if i % 50 else "connect",
            error="" if i % 50 else "refused",
            status_code=200,
            latency_ms=20.0 + i % 37,
            timings={"total": 20.0},
        )
        pending.append(
            js.publish(
                f"results.{region}.{probes[region]}",
                result.SerializeToString(),
                headers={"Nats-Msg-Id": msg_id(monitor, region, slot)},
            )
        )
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return count / (time.perf_counter() - started)


def stored(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(CheckResult)) or 0


def collector_processors() -> list:
    """What the collector runs in every ingest transaction besides the insert."""
    from picket.collector.consensus import ConsensusProcessor
    from picket.collector.rollups import RollupProcessor
    from picket.collector.tls_expiry import TlsExpiryProcessor

    return [ConsensusProcessor(), TlsExpiryProcessor(), RollupProcessor()]


async def drain_with_collector(
    js, sessions, count: int, batch: int, durable: str, processors: list | None = None
) -> tuple[float, float]:
    """Results/second, and this process's CPU microseconds per result (both threads)."""
    store = ResultStore(sessions, processors or [])
    ingestor = Ingestor(js, store, batch_size=batch, durable=durable)
    stop = asyncio.Event()
    started = time.perf_counter()
    cpu_started = time.process_time()
    task = asyncio.create_task(ingestor.run(stop))
    while ingestor.stats.stored < count:  # noqa: ASYNC110 - polling a counter is the point
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    elapsed = time.perf_counter() - started
    cpu_us = (time.process_time() - cpu_started) / count * 1e6
    stop.set()
    await task
    assert stored(sessions) >= count
    return count / elapsed, cpu_us


async def drain_naive(js, sessions, count: int, durable: str) -> float:
    """One message fetched, one row inserted in its own transaction, one ack."""
    sub = await js.pull_subscribe("results.>", durable=durable, stream="PICKET_RESULTS")
    started = time.perf_counter()
    for _ in range(count):
        (msg,) = await sub.fetch(1, timeout=5)
        row = decode(msg)
        with transaction(sessions) as session:
            session.add(CheckResult(**row))
        await msg.ack()
    return count / (time.perf_counter() - started)


async def run_backend(
    backend: str, count: int, batches: list[int], naive_count: int, nats_url: str
) -> dict[str, float]:
    import nats

    figures: dict[str, float] = {}
    url = fresh_database(backend, workdir())
    try:
        monitors, probes = seed(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            await js.delete_stream("PICKET_RESULTS")
        except Exception:
            pass
        await ensure_stream(js)
        figures["publish"] = await publish(js, count, monitors, probes)
        for batch in batches:
            with transaction(sessions) as session:
                session.execute(delete(CheckResult))
            # Tiny batches are as slow as the naive consumer: measure them over as many.
            measured = count if batch >= 100 else min(count, naive_count)
            rate, cpu_us = await drain_with_collector(
                js, sessions, measured, batch, f"bench-{batch}"
            )
            figures[f"batch {batch}"] = rate
            figures[f"batch {batch} cpu_us"] = cpu_us
        with transaction(sessions) as session:
            session.execute(delete(CheckResult))
        # About ten times slower: measured over fewer results to keep `make bench` short.
        rate, cpu_us = await drain_with_collector(
            js, sessions, min(count, 20_000), 500, "bench-processors", collector_processors()
        )
        figures["processors"] = rate
        figures["processors cpu_us"] = cpu_us
        with transaction(sessions) as session:
            session.execute(delete(CheckResult))
        figures["naive"] = await drain_naive(js, sessions, naive_count, "bench-naive")
        await nc.close()
        engine.dispose()
    finally:
        drop_database(url)
    return figures


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batches", default="500", help="comma-separated batch sizes")
    parser.add_argument("--naive-count", type=int, default=3000)
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's default garbage collection instead of the collector's tuning",
    )
    backend_arg(parser)
    args = parser.parse_args(argv)
    if not args.default_gc:
        # As `picket collector` does once started (picket.collector.ingest.tune_gc).
        tune_gc()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    batches = [int(b) for b in args.batches.split(",")]
    results: dict[str, dict[str, float]] = {}
    with nats_server() as server:
        for backend in backends:
            figures = asyncio.run(
                run_backend(backend, args.count, batches, args.naive_count, server.url)
            )
            results[backend] = figures
            print(
                f"ingest [{backend}] {args.count} results "
                f"(published at {figures['publish']:,.0f}/s)"
            )
            for batch in batches:
                rate = figures[f"batch {batch}"]
                print(
                    f"  collector, batch {batch:>4}: {rate:>9,.0f} results/s  "
                    f"({rate / figures['naive']:.1f}x naive; collector CPU "
                    f"{figures[f'batch {batch} cpu_us']:.0f} µs/result)"
                )
            print(
                f"  collector, batch  500, with consensus, TLS expiry and rollups in the "
                f"transaction: {figures['processors']:,.0f} results/s "
                f"(collector CPU {figures['processors cpu_us']:.0f} µs/result)"
            )
            print(
                f"  naive one row per transaction: {figures['naive']:>9,.0f} results/s "
                f"(over {args.naive_count})"
            )
    return results


if __name__ == "__main__":
    main()
