"""Incident writes shared by the API (manual incidents) and consensus (automatic ones).

Each function changes the incident, adds its timeline entry and writes the matching
incident.* event to the outbox, all in the caller's transaction; the caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from picket.db.models import Event, Incident, IncidentUpdate, Monitor, MonitorState
from picket.db.types import utcnow

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event(session: Session, incident: Incident, kind: str, update: IncidentUpdate) -> None:
    """An incident.* event with the payload collector/consensus/events.py documents, so
    notifications render manual incidents like automatic ones (no region votes here)."""
    monitor = session.get(Monitor, incident.monitor_id) if incident.monitor_id else None
    monitor_ref = None
    if monitor is not None:
        monitor_ref = {"id": monitor.id, "name": monitor.name, "url": monitor.url}
        monitor_ref["type"] = monitor.type
    state = session.get(MonitorState, incident.monitor_id) if incident.monitor_id else None
    status = state.status if state is not None else None
    session.add(
        Event(
            organization_id=incident.organization_id,
            type=kind,
            monitor_id=incident.monitor_id,
            incident_id=incident.id,
            payload={
                "type": kind,
                "timestamp": _iso(update.created_at),
                "monitor": monitor_ref,
                "status": status,
                "previous_status": status,
                "regions": {},
                "incident": {
                    "id": incident.id,
                    "title": incident.title,
                    "status": incident.status,
                    "impact": incident.impact,
                    "started_at": _iso(incident.started_at),
                    "resolved_at": _iso(incident.resolved_at),
                },
                "update": {
                    "status": update.status,
                    "message": update.message,
                    "created_at": _iso(update.created_at),
                },
            },
        )
    )


def create_incident(
    session: Session,
    organization_id: str,
    *,
    title: str,
    monitor_ids: list[str] | None = None,
    description: str | None = None,
    status: str = "investigating",
    impact: str = "major",
    automatic: bool = False,
    regions: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    message: str | None = None,
) -> Incident:
    """Open an incident with its first timeline entry; `monitor_id` is the first monitor."""
    ids = list(dict.fromkeys(monitor_ids or []))
    now = utcnow()
    incident = Incident(
        organization_id=organization_id,
        monitor_id=ids[0] if ids else None,
        monitor_ids=ids,
        title=title,
        description=description,
        status=status,
        impact=impact,
        automatic=automatic,
        regions=regions or {},
        started_at=started_at or now,
        resolved_at=now if status == "resolved" else None,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    update = IncidentUpdate(
        incident_id=incident.id,
        status=status,
        message=message or description or title,
        automatic=automatic,
        created_at=now,
    )
    session.add(update)
    _event(session, incident, "incident.created", update)
    if status == "resolved":
        _event(session, incident, "incident.resolved", update)
    session.flush()
    return incident


def add_update(
    session: Session, incident: Incident, status: str, message: str, automatic: bool = False
) -> IncidentUpdate:
    """Add a timeline entry and move the incident to `status` (resolving it if so)."""
    now = utcnow()
    update = IncidentUpdate(
        incident_id=incident.id, status=status, message=message, automatic=automatic, created_at=now
    )
    session.add(update)
    was_resolved = incident.resolved_at is not None
    incident.status = status
    incident.updated_at = now
    if status == "resolved" and not was_resolved:
        incident.resolved_at = now
        _event(session, incident, "incident.resolved", update)
    else:
        if status != "resolved":
            # An update that is not "resolved" reopens a resolved incident.
            incident.resolved_at = None
        _event(session, incident, "incident.updated", update)
    session.flush()
    return update


def acknowledge(session: Session, incident: Incident, by: str, at: datetime | None = None) -> bool:
    """Mark the incident acknowledged; False if it already was.

    No event: escalation reads `acknowledged_at` itself, and nobody needs a notification
    that someone is on it.
    """
    if incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at = at or utcnow()
    incident.acknowledged_by = by
    incident.updated_at = incident.acknowledged_at
    session.flush()
    return True


def resolve(
    session: Session,
    incident: Incident,
    message: str = "Resolved.",
    automatic: bool = False,
) -> IncidentUpdate | None:
    """Resolve the incident with a final timeline entry; None if it was already resolved."""
    if incident.resolved_at is not None:
        return None
    return add_update(session, incident, "resolved", message, automatic=automatic)
