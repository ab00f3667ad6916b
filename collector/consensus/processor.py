"""The consensus step of result ingest.

`ConsensusProcessor.process` runs inside the ingest transaction, right after the batch's
results are inserted: it re-decides every monitor in the batch and writes state,
transitions, incidents and events in that same transaction. Confirmation requests (a
region's vote flipped: ask the monitor's other regions to check now) must not leave
before the results that caused them are committed, so they are sent from the session's
after-commit hook and dropped on rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from picket.collector.consensus.engine import Confirmation, Evaluator
from picket.collector.processors import IngestedResult
from picket.db.types import utcnow

log = logging.getLogger(__name__)

# (monitor id, regions to ask) -> anything; e.g. AssignmentHub.request_check_now.
Confirm = Callable[[str, list[str]], Any]

_PENDING = "picket.consensus.confirmations"


class ConsensusProcessor:
    def __init__(
        self, clock: Callable[[], datetime] = utcnow, confirm: Confirm | None = None
    ) -> None:
        self.clock = clock
        self.confirm = confirm

    def process(self, session: Session, results: Sequence[IngestedResult]) -> None:
        if not results:
            return
        evaluator = Evaluator(session, self.clock())
        confirmations = evaluator.evaluate({r.monitor_id for r in results}, [r.id for r in results])
        if confirmations and self.confirm is not None:
            self._send_after_commit(session, confirmations)

    def _send_after_commit(self, session: Session, confirmations: list[Confirmation]) -> None:
        pending: list[Confirmation] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            event.listen(session, "after_commit", self._flush)
            event.listen(session, "after_rollback", self._drop)
        pending.extend(confirmations)

    def _flush(self, session: Session) -> None:
        pending: list[Confirmation] = session.info.get(_PENDING, [])
        batch, pending[:] = list(pending), []
        assert self.confirm is not None
        for confirmation in batch:
            try:
                self.confirm(confirmation.monitor_id, list(confirmation.regions))
            except Exception:
                # The results are committed; a lost confirmation only delays the decision
                # until the other regions' next slot.
                log.exception("check-now request for monitor %s failed", confirmation.monitor_id)

    def _drop(self, session: Session) -> None:
        pending: list[Confirmation] = session.info.get(_PENDING, [])
        pending.clear()
