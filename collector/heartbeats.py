"""The collector's heartbeat loop: new pings and missed deadlines become results.

Results are written for region "push" (the monitor's only region) through the
ResultStore, so every result processor handles push monitors like any other: consensus
turns a missed deadline into down and the next ping into up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from picket.collector.ingest import ResultStore
from picket.collector.processors import IngestedResult
from picket.db.heartbeats import due_results
from picket.db.types import utcnow

log = logging.getLogger("picket.collector.heartbeats")


class HeartbeatEvaluator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: ResultStore,
        interval_s: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._interval_s = interval_s
        self._clock = clock

    def evaluate(self) -> list[IngestedResult]:
        """One pass, in one transaction: results for pings and passed deadlines."""
        with self._sessions() as session, session.begin():
            rows = due_results(session, self._clock())
            return self._store.store_own(session, rows)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.evaluate)
            except Exception:
                log.exception("heartbeat evaluation failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self._interval_s)
            except TimeoutError:
                pass
