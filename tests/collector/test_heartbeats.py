"""The collector's heartbeat evaluation and the consensus step after it, with a fake
clock over a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from picket.collector.consensus import ConsensusProcessor
from picket.collector.heartbeats import HeartbeatEvaluator
from picket.collector.ingest import ResultStore
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker
from picket.db.heartbeats import PUSH_REGION, create_heartbeat, due_results, record_ping
from picket.db.models import CheckResult, Monitor, MonitorState
from picket.db.monitors import create_monitor, update_monitor

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def make_heartbeat(
    sessions: sessionmaker[Session], interval: int = 2, **spec: Any
) -> tuple[str, str]:
    spec.setdefault("grace_seconds", 1)
    with sessions() as session, session.begin():
        org = create_organization(session, "Jobs")
        monitor = create_monitor(
            session,
            org.id,
            name="nightly",
            type="heartbeat",
            url="",
            interval_seconds=interval,
            regions=[PUSH_REGION],
            spec=spec,
        )
        return monitor.id, create_heartbeat(session, monitor.id).token


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def evaluator(sessions: sessionmaker[Session], clock: Clock) -> HeartbeatEvaluator:
    # The real consensus step decides the state from the push results.
    store = ResultStore(sessions, [ConsensusProcessor(clock=clock)])
    return HeartbeatEvaluator(sessions, store, clock=clock)


def ping(sessions: sessionmaker[Session], token: str, clock: Clock, failed: bool = False) -> None:
    with sessions() as session, session.begin():
        assert record_ping(session, token, clock(), failed, "exit 3" if failed else "")


def results(sessions: sessionmaker[Session], monitor_id: str) -> list[tuple[float, bool, Any]]:
    with sessions() as session:
        rows = session.scalars(
            select(CheckResult)
            .where(CheckResult.monitor_id == monitor_id)
            .order_by(CheckResult.scheduled_at)
        ).all()
        assert all(r.region == PUSH_REGION for r in rows)
        return [((r.scheduled_at - T0).total_seconds(), r.ok, r.error_kind) for r in rows]


def status(sessions: sessionmaker[Session], monitor_id: str) -> str:
    with sessions() as session:
        state = session.get(MonitorState, monitor_id)
        assert state is not None
        return state.status


def test_down_after_interval_plus_grace_and_up_on_next_ping(
    sessions: sessionmaker[Session], clock: Clock, evaluator: HeartbeatEvaluator
) -> None:
    monitor_id, token = make_heartbeat(sessions, interval=2, grace_seconds=1)
    evaluator.evaluate()
    assert results(sessions, monitor_id) == [] and status(sessions, monitor_id) == "unknown"

    ping(sessions, token, clock)
    clock.at(0.4)
    evaluator.evaluate()
    assert results(sessions, monitor_id) == [(0, True, None)]
    assert status(sessions, monitor_id) == "up"

    clock.at(2.9)
    evaluator.evaluate()
    assert status(sessions, monitor_id) == "up"
    clock.at(3.2)
    evaluator.evaluate()
    evaluator.evaluate()
    assert results(sessions, monitor_id)[1:] == [(3, False, "timeout")]
    assert status(sessions, monitor_id) == "down"

    clock.at(5.5)  # still silent: the next interval is missed too
    evaluator.evaluate()
    assert results(sessions, monitor_id)[2:] == [(5, False, "timeout")]

    clock.at(6)
    ping(sessions, token, clock)
    evaluator.evaluate()
    assert results(sessions, monitor_id)[3:] == [(6, True, None)]
    assert status(sessions, monitor_id) == "up"


def test_fail_ping_is_a_failing_result_with_its_message(
    sessions: sessionmaker[Session], clock: Clock, evaluator: HeartbeatEvaluator
) -> None:
    monitor_id, token = make_heartbeat(sessions)
    ping(sessions, token, clock, failed=True)
    evaluator.evaluate()
    with sessions() as session:
        row = session.scalars(select(CheckResult).where(CheckResult.monitor_id == monitor_id)).one()
    assert (row.ok, row.error_kind, row.error) == (
        False,
        "status",
        "the job reported a failure: exit 3",
    )
    assert status(sessions, monitor_id) == "down"


def test_results_are_deterministic_so_a_second_collector_adds_nothing(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    monitor_id, token = make_heartbeat(sessions)
    ping(sessions, token, clock)
    store = ResultStore(sessions)
    clock.at(3.5)
    with sessions() as session, session.begin():
        # Two collectors that read the heartbeat at the same moment compute the same rows.
        rows = due_results(session, clock())
        session.rollback()
    with sessions() as session, session.begin():
        assert len(store.store_own(session, [dict(r) for r in rows])) == 2
    with sessions() as session, session.begin():
        assert store.store_own(session, [dict(r) for r in rows]) == []
    assert results(sessions, monitor_id) == [(0, True, None), (3, False, "timeout")]


def test_long_silence_records_only_the_latest_missed_deadline(
    sessions: sessionmaker[Session], clock: Clock, evaluator: HeartbeatEvaluator
) -> None:
    monitor_id, token = make_heartbeat(sessions, interval=2, grace_seconds=1)
    ping(sessions, token, clock)
    evaluator.evaluate()
    clock.at(1000.5)
    evaluator.evaluate()
    assert results(sessions, monitor_id)[1:] == [(999, False, "timeout")]
    clock.at(1001.5)
    evaluator.evaluate()
    assert results(sessions, monitor_id)[2:] == [(1001, False, "timeout")]


def test_cron_schedule_in_a_time_zone(
    sessions: sessionmaker[Session], clock: Clock, evaluator: HeartbeatEvaluator
) -> None:
    # 09:00 in Berlin is 08:00 UTC in November; five minutes of grace.
    monitor_id, token = make_heartbeat(
        sessions, cron="0 9 * * *", timezone="Europe/Berlin", grace_seconds=300
    )
    ping(sessions, token, clock)  # 07:00 UTC
    evaluator.evaluate()
    clock.at(3600 + 290)
    evaluator.evaluate()
    assert len(results(sessions, monitor_id)) == 1
    clock.at(3600 + 310)
    evaluator.evaluate()
    assert results(sessions, monitor_id)[1:] == [(3600 + 300, False, "timeout")]
    clock.at(3600 + 86400 + 310)  # the next day's run is missed too
    evaluator.evaluate()
    assert results(sessions, monitor_id)[2:] == [(3600 + 86400 + 300, False, "timeout")]


def test_paused_monitor_is_not_evaluated(
    sessions: sessionmaker[Session], clock: Clock, evaluator: HeartbeatEvaluator
) -> None:
    monitor_id, token = make_heartbeat(sessions)
    ping(sessions, token, clock)
    evaluator.evaluate()
    with sessions() as session, session.begin():
        monitor = session.get(Monitor, monitor_id)
        assert monitor is not None
        update_monitor(session, monitor, paused=True)
    clock.at(10)
    evaluator.evaluate()
    assert results(sessions, monitor_id) == [(0, True, None)]
