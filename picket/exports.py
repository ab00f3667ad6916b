"""Data exports: what each kind exports, the background run that writes the file, expiry.

Rows are streamed from the database in chunks and written as they come, so an export of
millions of check results needs no more memory than one chunk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from picket.db.models import CheckResult, Incident, Monitor
from picket.db.models_reports import Export
from picket.db.reports import align_range, uptime_report
from picket.db.types import utcnow
from picket.formats import WRITERS

log = logging.getLogger(__name__)

CHUNK_ROWS = 2000
EXPORTS_DIR = "exports"


@dataclass(frozen=True)
class Kind:
    columns: list[str]
    rows: Callable[[Session, Export], Iterator[Sequence[Any]]]


def _monitor_ids(session: Session, export: Export) -> Any:
    """The export's monitors, always within its organization."""
    stmt = select(Monitor.id).where(Monitor.organization_id == export.organization_id)
    if export.monitor_ids is not None:
        stmt = stmt.where(Monitor.id.in_(export.monitor_ids))
    return stmt.scalar_subquery()


def _stream(session: Session, stmt: Any) -> Iterator[Sequence[Any]]:
    # yield_per streams (a server-side cursor on PostgreSQL) instead of fetching everything.
    yield from session.connection().execution_options(yield_per=CHUNK_ROWS).execute(stmt)


CHECK_COLUMNS = [
    "id",
    "monitor_id",
    "region",
    "probe_id",
    "scheduled_at",
    "ok",
    "error_kind",
    "error",
    "status_code",
    "latency_ms",
    "timings",
]


def check_rows(session: Session, export: Export) -> Iterator[Sequence[Any]]:
    t = CheckResult.__table__
    stmt = (
        select(*(t.c[name] for name in CHECK_COLUMNS))
        .where(
            t.c.monitor_id.in_(_monitor_ids(session, export)),
            t.c.scheduled_at >= export.from_at,
            t.c.scheduled_at < export.to_at,
        )
        .order_by(t.c.scheduled_at, t.c.id)
    )
    return _stream(session, stmt)


INCIDENT_COLUMNS = [
    "id",
    "monitor_id",
    "title",
    "status",
    "impact",
    "started_at",
    "acknowledged_at",
    "resolved_at",
    "regions",
]


def incident_rows(session: Session, export: Export) -> Iterator[Sequence[Any]]:
    t = Incident.__table__
    stmt = (
        select(*(t.c[name] for name in INCIDENT_COLUMNS))
        .where(
            t.c.organization_id == export.organization_id,
            t.c.started_at >= export.from_at,
            t.c.started_at < export.to_at,
        )
        .order_by(t.c.started_at, t.c.id)
    )
    if export.monitor_ids is not None:
        stmt = stmt.where(t.c.monitor_id.in_(export.monitor_ids))
    return _stream(session, stmt)


UPTIME_COLUMNS = [
    "monitor_id",
    "name",
    "day",
    "checks",
    "failures",
    "uptime_percent",
    "downtime_seconds",
    "latency_avg_ms",
    "latency_p95_ms",
    "latency_p99_ms",
]


def uptime_rows(session: Session, export: Export) -> Iterator[Sequence[Any]]:
    """One row per monitor and UTC day, from the daily rollups and state transitions."""
    now = utcnow()
    monitors = session.scalars(
        select(Monitor)
        .where(Monitor.id.in_(_monitor_ids(session, export)))
        .order_by(Monitor.name, Monitor.id)
    ).all()
    start, end = align_range(export.from_at, export.to_at, now)
    for monitor in monitors:
        report = uptime_report(session, monitor, start, end, now, "day")
        for point in report["series"]:
            yield (
                monitor.id,
                monitor.name,
                point["start"].date().isoformat(),
                point["checks"],
                point["failures"],
                point["uptime_percent"],
                point["downtime_seconds"],
                point["latency_ms"]["avg"],
                point["latency_ms"]["p95"],
                point["latency_ms"]["p99"],
            )


KINDS: dict[str, Kind] = {
    "checks": Kind(CHECK_COLUMNS, check_rows),
    "incidents": Kind(INCIDENT_COLUMNS, incident_rows),
    "uptime": Kind(UPTIME_COLUMNS, uptime_rows),
}


def export_path(data_dir: Path, export: Export) -> Path:
    return data_dir / EXPORTS_DIR / f"{export.id}.{WRITERS[export.format].extension}"


def public_fields(export: Export) -> dict[str, Any]:
    return {
        "id": export.id,
        "kind": export.kind,
        "format": export.format,
        "status": export.status,
        "from": export.from_at,
        "to": export.to_at,
        "monitor_ids": export.monitor_ids,
        "rows": export.rows,
        "size_bytes": export.size_bytes,
        "error": export.error,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "expires_at": export.expires_at,
    }


def run_export(
    sessions: sessionmaker[Session], data_dir: Path, export_id: str, ttl: timedelta
) -> None:
    """Write the export's file, then mark it ready (or failed) and call its webhook."""
    with sessions() as session, session.begin():
        export = session.get(Export, export_id)
        if export is None or export.status != "pending":
            return
        export.status = "running"
    target = export_path(data_dir, export)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with sessions() as session, session.begin():
            kind = KINDS[export.kind]
            with partial.open("w", encoding="utf-8", newline="") as out:
                rows = WRITERS[export.format].write(out, kind.columns, kind.rows(session, export))
        os.replace(partial, target)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        partial.unlink(missing_ok=True)
        with sessions() as session, session.begin():
            failed = session.get(Export, export_id)
            if failed is not None:
                failed.status, failed.error, failed.finished_at = "failed", str(exc), utcnow()
        return
    finished = utcnow()
    with sessions() as session, session.begin():
        done = session.get(Export, export_id)
        if done is None:
            target.unlink(missing_ok=True)
            return
        done.status = "ready"
        done.path = str(target.relative_to(data_dir))
        done.rows = rows
        done.size_bytes = target.stat().st_size
        done.finished_at = finished
        done.expires_at = finished + ttl
        body = {"event": "export.ready", "export": public_fields(done)}
        webhook = done.webhook_url
    if webhook:
        notify_webhook(webhook, body)


def notify_webhook(url: str, body: dict[str, Any]) -> None:
    payload = {k: v for k, v in body.items() if k != "export"}
    payload["export"] = {
        k: v.isoformat() if isinstance(v, datetime) else v for k, v in body["export"].items()
    }
    try:
        httpx.post(url, json=payload, timeout=10, follow_redirects=False).raise_for_status()
    except httpx.HTTPError as exc:
        # The export itself is done and listed; the webhook is a courtesy.
        log.warning("export webhook %s failed: %s", url, exc)


def expire(session: Session, data_dir: Path, export: Export, now: datetime) -> bool:
    """Delete an expired export's file and mark it; True when it has expired."""
    if export.status == "expired":
        return True
    if export.status != "ready" or export.expires_at is None or export.expires_at > now:
        return False
    if export.path:
        (data_dir / export.path).unlink(missing_ok=True)
    export.status, export.path = "expired", None
    return True


STUCK_AFTER = timedelta(hours=1)


def expire_exports(session: Session, data_dir: Path, now: datetime, limit: int = 500) -> int:
    """Expire up to `limit` exports whose time has passed, and fail those an API restart
    interrupted (still pending or running after STUCK_AFTER); returns how many changed."""
    due = session.scalars(
        select(Export)
        .where(Export.status == "ready", Export.expires_at <= now)
        .order_by(Export.expires_at)
        .limit(limit)
    ).all()
    changed = sum(1 for export in due if expire(session, data_dir, export, now))
    for stuck in session.scalars(
        select(Export)
        .where(Export.status.in_(("pending", "running")), Export.created_at < now - STUCK_AFTER)
        .limit(limit)
    ):
        stuck.status, stuck.finished_at = "failed", now
        stuck.error = "interrupted before it finished (the API restarted); start a new export"
        changed += 1
    return changed
