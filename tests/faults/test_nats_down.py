"""Fault 2: NATS goes away. The probe keeps its results in the on-disk spool — across a
restart of the probe too — and sends them when NATS returns; resends are harmless."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from picket.testing import NatsServer, Stack, wait_for
from tests.faults.support import add_monitors, gaps, rows, stream_messages
from tests.http_targets import http_target


def _spooled(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM spool").fetchone()[0]


def test_nats_down_spools_and_resends(stack: Stack, nats: NatsServer) -> None:
    stack.start_collector()
    probe_id, token = stack.create_probe("us-east")
    probe, _ = stack.start_probe("us-east", token=token, name="probe")
    spool = Path(stack.env["PICKET_DATA_DIR"]) / "spool" / f"{probe_id}.sqlite"
    with http_target() as target:
        (monitor,) = add_monitors(stack, target.url, regions=["us-east"])
        wait_for(lambda: len(rows(stack, monitor)) >= 2, timeout=30, message="first results")

        nats.stop()
        outage = datetime.now(UTC)
        wait_for(lambda: _spooled(spool) >= 3, timeout=30, message="results kept in the spool")
        # The probe restarts during the outage: what it spooled must survive that.
        probe.stop()
        stopped = datetime.now(UTC)
        assert _spooled(spool) >= 3
        restarted, _ = stack.start_probe("us-east", token=token, name="probe-again")
        wait_for(
            lambda: "results wait in the spool" in restarted.log_text(),
            timeout=30,
            message="the restarted probe to find NATS away",
        )
        before = _spooled(spool)
        wait_for(lambda: _spooled(spool) > before, timeout=30, message="new results spooled")

        nats.start()
        wait_for(lambda: _spooled(spool) == 0, timeout=60, message="the spool to drain")
        wait_for(
            lambda: len(rows(stack, monitor)) == stream_messages(nats.url),
            timeout=30,
            message="every sent result stored",
        )
        restarted.stop()
        total = stream_messages(nats.url)
        wait_for(lambda: len(rows(stack, monitor)) == total, timeout=30, message="all stored")

    slots = [r.scheduled_at for r in rows(stack, monitor)]
    assert len(set(slots)) == len(slots)
    # Checks due while the old probe was stopping may be cut short, and none run until the
    # new one starts; every other slot, through the whole outage, is there.
    settled = stopped - timedelta(seconds=2)
    before_restart = [s for s in slots if s <= settled]
    after_restart = [s for s in slots if s > stopped]
    assert any(s > outage for s in before_restart), "no result from the outage was kept"
    assert gaps(before_restart, 1) == [], stack.logs()
    assert gaps(after_restart, 1) == [], stack.logs()
    assert "spool drained" in restarted.log_text()
