"""Fault 4: two collectors at once on PostgreSQL, sharing the durable consumer. Every
result is stored once, every state change and incident is produced once, probes may
connect to either, and a check-now reaches a probe whichever collector holds its stream."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from sqlalchemy import select

from picket.collector.service import CHECK_NOW_SUBJECT
from picket.db.engine import transaction
from picket.db.models import Event, Incident, Monitor, MonitorState, StateTransition
from picket.testing import NatsServer, Stack, free_port, wait_for, wait_for_port
from tests.faults.support import add_monitors, count_rows, crafted, publish, rows, stream_messages
from tests.http_targets import http_target

CRAFTED = 6000


async def _ask_check_now(url: str, monitor: str, regions: list[str]) -> None:
    nc = await nats.connect(url)
    try:
        payload = json.dumps({"monitor_id": monitor, "regions": regions}).encode()
        await nc.publish(CHECK_NOW_SUBJECT, payload)
        await nc.flush()
    finally:
        await nc.close()


def _status(stack: Stack, monitor_id: str) -> str:
    with stack.sessions() as session:
        state = session.get(MonitorState, monitor_id)
        return state.status if state else ""


def _events(stack: Stack, monitor_id: str) -> list[str]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(Event.type).where(Event.monitor_id == monitor_id).order_by(Event.id)
            )
        )


def test_two_collectors(stack: Stack, nats: NatsServer, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several collectors share a PostgreSQL database")
    first = stack.start_collector(name="collector-a")
    second_addr = f"127.0.0.1:{free_port()}"
    second = stack.start_collector(name="collector-b", PICKET_COLLECTOR_ADDR=second_addr)
    wait_for_port("127.0.0.1", int(second_addr.rsplit(":", 1)[1]), timeout=30)
    us, us_probe = stack.start_probe("us-east")
    eu, eu_probe = stack.start_probe("eu-west", PICKET_COLLECTOR_ADDR=second_addr)
    with http_target() as target:
        (monitor,) = add_monitors(stack, target.url, interval_s=60, regions=["us-east", "eu-west"])
        # Each probe got its assignment from the collector it is connected to.
        wait_for(
            lambda: {r.region for r in rows(stack, monitor)} == {"us-east", "eu-west"},
            timeout=30,
            message="results from probes on either collector",
        )
        assert f"probe {us_probe} watching assignments" in first.log_text()
        assert f"probe {eu_probe} watching assignments" in second.log_text()

        asyncio.run(_ask_check_now(nats.url, monitor, ["us-east", "eu-west"]))
        wait_for(
            lambda: (
                {r.region for r in rows(stack, monitor) if r.check_now_id} == {"us-east", "eu-west"}
            ),
            timeout=30,
            message="check-now results from both regions",
        )
        assert "asked of 1 probe(s) connected here" in first.log_text()
        assert "asked of 1 probe(s) connected here" in second.log_text()

    with http_target() as target:
        # Both regions' results reach both collectors: the outage is decided, opened and
        # resolved once.
        (flaky,) = add_monitors(stack, target.url, interval_s=2, regions=["us-east", "eu-west"])
        wait_for(lambda: _status(stack, flaky) == "up", timeout=30, message="the monitor up")
        target.status = 500
        wait_for(lambda: _status(stack, flaky) == "down", timeout=30, message="the monitor down")
        target.status = 200
        wait_for(lambda: _status(stack, flaky) == "up", timeout=30, message="the monitor back up")
        wait_for(
            lambda: "incident.resolved" in _events(stack, flaky),
            timeout=30,
            message="the incident resolved",
        )
    with stack.sessions() as session:
        incidents = session.scalars(select(Incident).where(Incident.monitor_id == flaky)).all()
        transitions = session.scalars(
            select(StateTransition.to_status)
            .where(StateTransition.monitor_id == flaky)
            .order_by(StateTransition.id)
        ).all()
    assert len(incidents) == 1 and incidents[0].resolved_at is not None
    assert transitions.count("down") == 1, transitions
    assert all(a != b for a, b in zip(transitions, transitions[1:], strict=False)), transitions
    events = _events(stack, flaky)
    for kind in ("monitor.down", "incident.created", "monitor.up", "incident.resolved"):
        assert events.count(kind) == 1, events

    # Paused: only the crafted results below exist for these.
    others = add_monitors(stack, "http://127.0.0.1:9/", count=20, interval_s=3600)
    with transaction(stack.sessions) as session:
        for monitor_id in others:
            session.get(Monitor, monitor_id).paused = True
    probes = {"us-east": us_probe, "eu-west": eu_probe}
    publish(nats.url, crafted(others, probes, CRAFTED))
    # Published again: the stream's duplicate window drops the copies.
    publish(nats.url, crafted(others, probes, CRAFTED))
    us.stop()
    eu.stop()
    total = stream_messages(nats.url)
    wait_for(lambda: count_rows(stack) == total, timeout=60, message=f"all {total} stored")
    keys = [(r.monitor_id, r.region, r.scheduled_at) for r in rows(stack)]
    assert len(set(keys)) == len(keys)
