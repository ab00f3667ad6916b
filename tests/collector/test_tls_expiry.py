from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from picket.collector.processors import IngestedResult
from picket.collector.tls_expiry import TlsExpiryProcessor
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker
from picket.db.models import Event
from picket.db.monitors import create_monitor

START = datetime(2026, 11, 24, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def monitor_id(sessions: sessionmaker[Session]) -> str:
    with sessions() as session, session.begin():
        org = create_organization(session, "Shop")
        monitor = create_monitor(
            session, org.id, name="shop cert", type="tls", url="shop.example", spec={}
        )
        return monitor.id


def result(monitor_id: str, minutes: int, region: str = "us-east", **detail: Any) -> IngestedResult:
    return IngestedResult(
        id=next(_ids),
        monitor_id=monitor_id,
        monitor_version=1,
        region=region,
        probe_id="p1",
        scheduled_at=START + timedelta(minutes=minutes),
        ok=detail.pop("ok", True),
        error_kind=None,
        error=None,
        status_code=None,
        latency_ms=5.0,
        timings={},
        detail=detail,
        check_now_id=None,
    )


def expiring(
    monitor_id: str, minutes: int, days_left: int, threshold: int, **kw: Any
) -> IngestedResult:
    return result(
        monitor_id,
        minutes,
        expiring=True,
        days_left=days_left,
        threshold=threshold,
        not_after="2026-12-04T00:00:00+00:00",
        subject="CN=shop.example",
        **kw,
    )


def run(sessions: sessionmaker[Session], *results: IngestedResult) -> None:
    with sessions() as session, session.begin():
        TlsExpiryProcessor().process(session, list(results))


def events(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        return [{"type": e.type, "monitor_id": e.monitor_id, **e.payload} for e in rows]


def test_one_event_per_threshold_not_per_check(
    sessions: sessionmaker[Session], monitor_id: str
) -> None:
    run(
        sessions,
        expiring(monitor_id, 0, 10, 14),
        expiring(monitor_id, 0, 10, 14, region="eu-west"),
    )
    for minute in range(1, 4):
        run(sessions, expiring(monitor_id, minute, 10, 14))
    found = events(sessions)
    assert len(found) == 1
    assert found[0]["type"] == "ssl.expiring" and found[0]["monitor_id"] == monitor_id
    assert (found[0]["threshold_days"], found[0]["days_left"]) == (14, 10)
    assert found[0]["monitor_name"] == "shop cert"

    run(sessions, expiring(monitor_id, 5, 7, 7), expiring(monitor_id, 6, 6, 7))
    assert [e["threshold_days"] for e in events(sessions)] == [14, 7]


def test_renewal_rearms_the_thresholds(sessions: sessionmaker[Session], monitor_id: str) -> None:
    run(sessions, expiring(monitor_id, 0, 10, 14))
    run(sessions, result(monitor_id, 1, expiring=False, days_left=90))
    run(sessions, expiring(monitor_id, 2, 10, 14))
    assert [e["threshold_days"] for e in events(sessions)] == [14, 14]


def test_failing_and_other_results_are_ignored(
    sessions: sessionmaker[Session], monitor_id: str
) -> None:
    run(
        sessions,
        expiring(monitor_id, 0, -1, 1, ok=False),
        result(monitor_id, 1, status="irrelevant"),
    )
    assert events(sessions) == []
