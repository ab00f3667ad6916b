"""Turns TLS results into `ssl.expiring` events: one per monitor per threshold crossed.

The tls check reports `expiring`, `threshold` and `days_left` in its detail on every
result, from every region; this processor remembers each threshold it has announced
(table tls_expiry_notices) so a certificate 10 days from expiry gives one event at the
14-day threshold, not one per check. A renewed certificate clears what was announced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from picket.collector.processors import IngestedResult
from picket.db.models import Event, Monitor
from picket.db.models_checks import TlsExpiryNotice

EVENT_TYPE = "ssl.expiring"


class TlsExpiryProcessor:
    """A ResultProcessor (collector/processors.py)."""

    def process(self, session: Session, results: Sequence[IngestedResult]) -> None:
        latest: dict[str, IngestedResult] = {}
        for result in results:
            detail = result.detail or {}
            if not result.ok or "expiring" not in detail or "days_left" not in detail:
                continue
            seen = latest.get(result.monitor_id)
            if seen is None or result.scheduled_at >= seen.scheduled_at:
                latest[result.monitor_id] = result
        for result in latest.values():
            self._one(session, result)

    def _one(self, session: Session, result: IngestedResult) -> None:
        detail: dict[str, Any] = result.detail or {}
        notices = TlsExpiryNotice.__table__
        if not detail.get("expiring"):
            # Renewed (or thresholds changed): the next expiry is announced afresh.
            session.execute(delete(notices).where(notices.c.monitor_id == result.monitor_id))
            return
        threshold = int(detail["threshold"])
        # Smaller thresholds announced before belong to an older certificate.
        session.execute(
            delete(notices).where(
                notices.c.monitor_id == result.monitor_id,
                notices.c.threshold_days < threshold,
            )
        )
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        # Several collectors may see results of the same monitor at once: the row that
        # gets inserted decides which one writes the event.
        inserted = session.execute(
            insert(notices)
            .values(
                monitor_id=result.monitor_id,
                threshold_days=threshold,
                days_left=int(detail["days_left"]),
                not_after=detail.get("not_after"),
            )
            .on_conflict_do_nothing(index_elements=["monitor_id", "threshold_days"])
            .returning(notices.c.threshold_days)
        ).first()
        if inserted is None:
            return
        monitor = session.execute(
            select(Monitor.organization_id, Monitor.name, Monitor.url).where(
                Monitor.id == result.monitor_id
            )
        ).one_or_none()
        if monitor is None:
            return
        session.add(
            Event(
                type=EVENT_TYPE,
                organization_id=monitor.organization_id,
                monitor_id=result.monitor_id,
                payload={
                    "monitor_id": result.monitor_id,
                    "monitor_name": monitor.name,
                    "host": monitor.url,
                    "threshold_days": threshold,
                    "days_left": int(detail["days_left"]),
                    "not_after": detail.get("not_after"),
                    "subject": detail.get("subject"),
                    "issuer": detail.get("issuer"),
                    "region": result.region,
                    "result_id": result.id,
                },
            )
        )
        session.flush()
