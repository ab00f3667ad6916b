"""Monitors, their state, regions and check results."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.incidents import resolve
from picket.db.models import Incident, Monitor, MonitorState, Region
from picket.db.types import utcnow

# Changing any of these changes what a probe runs, so the version bumps.
CHECK_FIELDS = frozenset(
    {
        "type",
        "url",
        "interval_seconds",
        "timeout_seconds",
        "regions",
        "spec",
        "paused",
        "retries",
        "retry_delay_ms",
        "deleted_at",
    }
)


def all_regions(session: Session) -> list[str]:
    return list(session.scalars(select(Region.name).order_by(Region.name)))


def ensure_region(session: Session, name: str) -> None:
    if session.get(Region, name) is None:
        session.add(Region(name=name))
        session.flush()


def effective_regions(monitor: Monitor, known: list[str]) -> list[str]:
    return list(monitor.regions) if monitor.regions else list(known)


def effective_quorum(monitor: Monitor, regions: list[str]) -> int:
    """min_failing_regions, or a majority of the monitor's regions (1 for one region)."""
    if monitor.min_failing_regions:
        return monitor.min_failing_regions
    return max(1, len(regions) // 2 + 1)


def create_monitor(session: Session, organization_id: str, **fields: Any) -> Monitor:
    monitor = Monitor(organization_id=organization_id, **fields)
    session.add(monitor)
    session.flush()
    session.add(MonitorState(monitor_id=monitor.id, status="unknown", region_status={}))
    session.flush()
    return monitor


def update_monitor(session: Session, monitor: Monitor, **fields: Any) -> Monitor:
    changed = {k for k, v in fields.items() if getattr(monitor, k) != v}
    for key in changed:
        setattr(monitor, key, fields[key])
    if changed:
        if changed & CHECK_FIELDS:
            monitor.version += 1
        monitor.updated_at = utcnow()
        session.flush()
    return monitor


def soft_delete_monitor(session: Session, monitor: Monitor) -> None:
    """Delete the monitor; its open automatic incidents are resolved, since nothing will
    ever decide it up again (and PagerDuty and the like receive the resolution)."""
    update_monitor(session, monitor, deleted_at=utcnow())
    open_incidents = select(Incident).where(
        Incident.monitor_id == monitor.id,
        Incident.automatic.is_(True),
        Incident.resolved_at.is_(None),
    )
    for incident in session.scalars(open_incidents):
        resolve(session, incident, "Resolved: the monitor was deleted.", automatic=True)


def get_state(session: Session, monitor_id: str) -> MonitorState | None:
    return session.get(MonitorState, monitor_id)
