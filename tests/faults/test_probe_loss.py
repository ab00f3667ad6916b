"""Fault 6: probes killed with SIGKILL. The other probes of the region take over their
checks; a region that loses every probe stops voting — its monitors are decided by the
remaining regions — and `GET /probes` shows the gap."""

from __future__ import annotations

import time

from sqlalchemy import select

from picket.db.models import MonitorState, StateTransition
from picket.testing import Stack, wait_for
from tests.faults.support import add_monitors, rows
from tests.http_targets import http_target

PING_S = 1.0
REGIONS = ["us-east", "eu-west", "ap-south"]


def _latest_probe(stack: Stack, monitor: str, region: str) -> str | None:
    found = [r for r in rows(stack, monitor) if r.region == region]
    return found[-1].probe_id if found else None


def _state(stack: Stack, monitor: str) -> MonitorState | None:
    with stack.sessions() as session:
        return session.get(MonitorState, monitor)


def test_probe_loss(stack: Stack) -> None:
    stack.start_collector()
    stack.start_api()
    first, first_id = stack.start_probe("us-east", name="us-a")
    _, second_id = stack.start_probe("us-east", name="us-b")
    lone, lone_id = stack.start_probe("eu-west", name="eu")
    stack.start_probe("ap-south", name="ap")
    with http_target() as target, http_target() as failing, stack.api() as client:
        monitors = add_monitors(stack, target.url, count=6, regions=REGIONS)
        # Its own target, so that one failing does not make the probes look sick.
        (monitor,) = add_monitors(stack, failing.url, regions=REGIONS)

        def us_spread() -> bool:
            held = {_latest_probe(stack, m, "us-east") for m in monitors}
            return held == {first_id, second_id}

        wait_for(us_spread, timeout=30, message="us-east checks spread over both probes")
        moved = [m for m in monitors if _latest_probe(stack, m, "us-east") == first_id]
        first.kill()
        killed = time.monotonic()
        wait_for(
            lambda: all(_latest_probe(stack, m, "us-east") == second_id for m in moved),
            timeout=60,
            message="the remaining us-east probe to take over",
        )
        print(f"takeover after {time.monotonic() - killed:.1f}s (ping interval {PING_S:g}s)")

        lone.kill()

        def eu_west_gap() -> bool:
            listed = client.get("/probes", params={"region": "eu-west"}).json()["data"]
            return [(p["id"], p["status"]) for p in listed] == [(lone_id, "offline")]

        # Polled gently: the API limits each key to 100 requests a minute.
        wait_for(
            eu_west_gap, timeout=30, interval=0.5, message="GET /probes to show eu-west offline"
        )
        wait_for(
            lambda: (s := _state(stack, monitor)) and s.region_status.get("eu-west") == "unknown",
            timeout=60,
            message="eu-west to stop voting",
        )
        failing.status = 500
        wait_for(
            lambda: (s := _state(stack, monitor)) and s.status == "down",
            timeout=60,
            message="the two remaining regions to decide the monitor down",
        )
    with stack.sessions() as session:
        down = session.scalars(
            select(StateTransition).where(
                StateTransition.monitor_id == monitor, StateTransition.to_status == "down"
            )
        ).one()
    assert set(down.regions) == {"us-east", "ap-south"}, down.regions
    assert not any(d["ok"] for d in down.regions.values())
