"""Results of probes with a wrong clock: corrected by the measured skew, or rejected when
they lie in the future even so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from picket.collector.ingest import ResultStore
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.monitors import create_monitor
from picket.db.probes import create_probe
from picket.db.types import utcnow


def _row(monitor: str, probe: str, offset_s: float) -> dict[str, Any]:
    at = utcnow().replace(microsecond=0) + timedelta(seconds=offset_s)
    return {
        "monitor_id": monitor,
        "monitor_version": 1,
        "region": "us-east",
        "probe_id": probe,
        "scheduled_at": at,
        "started_at": at,
        "ok": True,
        "error_kind": None,
        "error": None,
        "status_code": 200,
        "latency_ms": 1.0,
        "timings": {},
        "detail": None,
        "attempts": 1,
        "check_now_id": None,
    }


def test_skewed_probe_corrected_and_future_rejected(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        org = create_organization(session, "acme")
        monitor = create_monitor(session, org.id, name="m", type="http", url="http://x/").id
        ahead, _ = create_probe(session, "ahead", "us-east")
        jumped, _ = create_probe(session, "jumped", "us-east")
        ahead.clock_skew_ms = 30_020  # measured at registration
        ahead_id, jumped_id = ahead.id, jumped.id
    store = ResultStore(sessions)
    # Both probes' clocks read 30 s ahead; only the first one's skew has been measured.
    stored, rejected = store.store_with_reasons(
        [_row(monitor, ahead_id, 30), _row(monitor, jumped_id, 31)]
    )
    assert len(stored) == 1
    lag = (utcnow() - stored[0].scheduled_at).total_seconds()
    assert 0 <= lag < 5
    assert rejected == {1: "scheduled in the future: the probe's clock is ahead of the collector's"}
    engine.dispose()
