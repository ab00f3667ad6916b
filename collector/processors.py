"""What the ingest hands to everything that reacts to new results, inside its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class IngestedResult:
    """One check result newly stored; duplicates of stored results are never passed on."""

    id: int
    monitor_id: str
    monitor_version: int
    region: str
    probe_id: str
    scheduled_at: datetime
    ok: bool
    error_kind: str | None
    error: str | None
    status_code: int | None
    latency_ms: float | None
    timings: dict[str, float]
    detail: dict[str, Any] | None
    check_now_id: str | None


class ResultProcessor(Protocol):
    """Runs inside the ingest transaction, after the batch's rows are inserted."""

    def process(self, session: Session, results: Sequence[IngestedResult]) -> None: ...
