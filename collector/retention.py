"""Retention: raw results for PICKET_RAW_RETENTION_DAYS, minute rollups 7 days, hourly 90
days, daily forever; expired export files removed.

Each delete takes at most `batch` rows in its own short transaction, so ingest (which
writes to the same tables) never waits behind a long purge; the work runs in a thread so
the collector's event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from picket.db.models import CheckResult
from picket.db.rollups import HOUR, MINUTE
from picket.db.types import utcnow
from picket.exports import expire_exports
from picket.settings import Settings

log = logging.getLogger(__name__)

BATCH = 5000
INTERVAL_S = 3600.0


def _delete_checks(session: Session, cutoff: datetime, batch: int) -> int:
    t = CheckResult.__table__
    oldest = select(t.c.id).where(t.c.scheduled_at < cutoff).order_by(t.c.scheduled_at).limit(batch)
    return session.execute(delete(t).where(t.c.id.in_(oldest))).rowcount or 0


def _delete_rollups(table: Any, cutoff: datetime, batch: int, session: Session) -> int:
    key = (table.c.monitor_id, table.c.region, table.c.bucket)
    oldest = select(*key).where(table.c.bucket < cutoff).order_by(table.c.bucket).limit(batch)
    return session.execute(delete(table).where(tuple_(*key).in_(oldest))).rowcount or 0


class Retention:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        batch: int = BATCH,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.sessions = sessions
        self.raw_days = settings.raw_retention_days
        self.data_dir: Path = settings.data_dir
        self.batch = batch
        self.interval_s = interval_s

    def prune_once(self, now: datetime) -> dict[str, int]:
        """Delete everything past its retention, batch by batch; returns rows per table."""
        assert MINUTE.retention is not None and HOUR.retention is not None
        targets = [
            (
                "check_results",
                lambda s: _delete_checks(s, now - timedelta(days=self.raw_days), self.batch),
            ),
            (
                "rollups_minute",
                lambda s: _delete_rollups(
                    MINUTE.model.__table__, now - MINUTE.retention, self.batch, s
                ),
            ),
            (
                "rollups_hour",
                lambda s: _delete_rollups(
                    HOUR.model.__table__, now - HOUR.retention, self.batch, s
                ),
            ),
        ]
        counts: dict[str, int] = {}
        for name, step in targets:
            counts[name] = 0
            while True:
                with self.sessions() as session, session.begin():
                    deleted = step(session)
                counts[name] += deleted
                if deleted < self.batch:
                    break
        with self.sessions() as session, session.begin():
            counts["exports"] = expire_exports(session, self.data_dir, now)
        return counts

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                counts = await asyncio.to_thread(self.prune_once, utcnow())
                if any(counts.values()):
                    log.info("retention pruned %s", counts)
            except Exception:
                log.exception("retention pass failed; retrying at the next interval")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
