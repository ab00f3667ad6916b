"""Detection: seconds from a target failing to its incident being opened, and from its
recovery to the incident being resolved, at 10 s and 30 s intervals, with three regions.

Real processes: collector and one probe per region over SQLite and a private nats-server;
one local HTTP target per interval, switched to answering 500 and back by this script.
Where the collector has no consensus engine yet, what is measured instead is the time
until each region's first failing (then first passing) result is stored.

    .venv/bin/python bench/detection.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bench.common import fresh_database, workdir  # noqa: E402
from picket.db.accounts import create_organization  # noqa: E402
from picket.db.engine import transaction  # noqa: E402
from picket.db.models import CheckResult, Incident  # noqa: E402
from picket.db.monitors import create_monitor  # noqa: E402
from picket.testing import Stack, nats_server, wait_for  # noqa: E402
from tests.http_targets import Target, http_target  # noqa: E402

REGIONS = ("us-east", "eu-west", "ap-south")
HAS_CONSENSUS = importlib.util.find_spec("picket.collector.consensus") is not None


def first_results(stack: Stack, monitor_id: str, ok: bool, since: datetime) -> dict[str, float]:
    """Seconds from `since` until each region's first stored result with this outcome."""
    with stack.sessions() as session:
        found = session.execute(
            select(CheckResult.region, CheckResult.received_at)
            .where(
                CheckResult.monitor_id == monitor_id,
                CheckResult.ok.is_(ok),
                CheckResult.started_at >= since,
            )
            .order_by(CheckResult.received_at)
        ).all()
    firsts: dict[str, float] = {}
    for region, received in found:
        firsts.setdefault(region, (received - since).total_seconds())
    return firsts


def incident(stack: Stack, monitor_id: str, since: datetime) -> Incident | None:
    """The incident opened for monitor_id after `since`."""
    with stack.sessions() as session:
        return session.scalars(
            select(Incident)
            .where(Incident.monitor_id == monitor_id, Incident.created_at >= since)
            .order_by(Incident.created_at)
        ).first()


def measure(stack: Stack, monitors: dict[int, tuple[str, Target]]) -> dict[str, float]:
    """One outage of every target. Times are the collector's writes (the incident's
    created_at, and its updated_at when resolved): resolved_at itself is the decision time,
    the scheduled time of the results that decided it."""
    figures: dict[str, float] = {}
    for _, target in monitors.values():
        target.status = 500
    failed_at = datetime.now(UTC)
    for interval, (monitor_id, _) in monitors.items():
        if HAS_CONSENSUS:
            opened = wait_for(
                lambda m=monitor_id: incident(stack, m, failed_at),
                timeout=6 * interval + 30,
                interval=0.1,
                message=f"an incident for the {interval} s monitor",
            )
            figures[f"{interval}s opened"] = (opened.created_at - failed_at).total_seconds()
        else:
            firsts = wait_for(
                lambda m=monitor_id: (
                    r if len(r := first_results(stack, m, False, failed_at)) == 3 else None
                ),
                timeout=3 * interval + 30,
                interval=0.1,
                message=f"failing results from every region for the {interval} s monitor",
            )
            for region, seconds in firsts.items():
                figures[f"{interval}s failing {region}"] = seconds
    for _, target in monitors.values():
        target.status = 200
    recovered_at = datetime.now(UTC)
    for interval, (monitor_id, _) in monitors.items():
        if HAS_CONSENSUS:
            resolved = wait_for(
                lambda m=monitor_id: (
                    i if (i := incident(stack, m, failed_at)) and i.resolved_at else None
                ),
                timeout=6 * interval + 30,
                interval=0.1,
                message=f"the incident of the {interval} s monitor resolved",
            )
            figures[f"{interval}s resolved"] = (resolved.updated_at - recovered_at).total_seconds()
        else:
            firsts = wait_for(
                lambda m=monitor_id: (
                    r if len(r := first_results(stack, m, True, recovered_at)) == 3 else None
                ),
                timeout=3 * interval + 30,
                interval=0.1,
                message=f"passing results from every region for the {interval} s monitor",
            )
            for region, seconds in firsts.items():
                figures[f"{interval}s passing {region}"] = seconds
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", default="10,30")
    parser.add_argument("--rounds", type=int, default=3, help="outages measured, one after another")
    args = parser.parse_args(argv)
    intervals = [int(i) for i in args.intervals.split(",")]
    with ExitStack() as resources:
        server = resources.enter_context(nats_server())
        stack = Stack(workdir(), fresh_database("sqlite", workdir()), server.url)
        resources.callback(stack.stop)
        stack.start_collector()
        for region in REGIONS:
            stack.start_probe(region)
        monitors: dict[int, tuple[str, Target]] = {}
        with transaction(stack.sessions) as session:
            org = create_organization(session, "bench")
            for interval in intervals:
                target = resources.enter_context(http_target())
                monitor = create_monitor(
                    session,
                    org.id,
                    name=f"every {interval}s",
                    type="http",
                    url=target.url,
                    interval_seconds=interval,
                    timeout_seconds=5,
                    regions=list(REGIONS),
                )
                monitors[interval] = (monitor.id, target)
        for interval, (monitor_id, _) in monitors.items():
            wait_for(
                lambda m=monitor_id: (
                    len(first_results(stack, m, True, datetime.min.replace(tzinfo=UTC))) == 3
                ),
                timeout=3 * interval + 30,
                message=f"the {interval} s monitor passing in every region",
            )
        rounds: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, seconds in measure(stack, monitors).items():
                rounds.setdefault(name, []).append(seconds)
    what = "incident" if HAS_CONSENSUS else "first result per region (no consensus engine yet)"
    print(f"detection, three regions, {what}, {args.rounds} outages:")
    figures = {}
    for name, values in rounds.items():
        figures[name] = statistics.median(values)
        listed = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name}: median {figures[name]:.1f} s, max {max(values):.1f} s ({listed})")
    return figures


if __name__ == "__main__":
    main()
