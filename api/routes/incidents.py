"""/api/v1/incidents"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.common import Timestamp
from picket.api.schemas.incidents import (
    BulkIds,
    BulkResolve,
    BulkResult,
    IncidentCreate,
    IncidentDetail,
    IncidentPublic,
    IncidentStatus,
    IncidentUpdateCreate,
    ResolveBody,
)
from picket.db import incidents as db
from picket.db.json_match import json_array_contains
from picket.db.models import Incident, IncidentUpdate, Monitor, StateTransition
from picket.db.types import utcnow

router = APIRouter(prefix="/incidents", tags=["incidents"])

Reader = Annotated[Principal, Depends(require("incidents:read"))]
Writer = Annotated[Principal, Depends(require("incidents:write"))]


def incident_public(session: Session, incident: Incident) -> dict[str, Any]:
    updates = session.scalars(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident.id)
        .order_by(IncidentUpdate.created_at, IncidentUpdate.id)
    ).all()
    return {
        "id": incident.id,
        "monitor_id": incident.monitor_id,
        "monitor_ids": incident.monitor_ids,
        "title": incident.title,
        "description": incident.description,
        "status": incident.status,
        "impact": incident.impact,
        "automatic": incident.automatic,
        "started_at": incident.started_at,
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at,
        "regions": incident.regions,
        "updates": [
            {
                "status": u.status,
                "message": u.message,
                "automatic": u.automatic,
                "created_at": u.created_at,
            }
            for u in updates
        ],
    }


def _owned_monitor_ids(session: Session, principal: Principal, ids: list[str]) -> None:
    if not ids:
        return
    found = set(
        session.scalars(
            select(Monitor.id).where(
                Monitor.id.in_(ids),
                Monitor.organization_id == principal.organization_id,
                Monitor.deleted_at.is_(None),
            )
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise HTTPException(422, f"monitor_ids: unknown monitor '{missing[0]}'")


@router.get(
    "",
    response_model=Page[IncidentPublic],
    summary="List incidents, newest first (scope incidents:read)",
    description="`active=true` keeps unresolved incidents; `from`/`to` bound `started_at`.",
)
def list_incidents(
    session: SessionDep,
    principal: Reader,
    params: PageDep,
    monitor_id: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    status: IncidentStatus | None = None,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
) -> dict[str, Any]:
    stmt = select(Incident).where(Incident.organization_id == principal.organization_id)
    if monitor_id:
        stmt = stmt.where(
            or_(
                Incident.monitor_id == monitor_id,
                json_array_contains(session, Incident.monitor_ids, monitor_id),
            )
        )
    if active is not None:
        stmt = stmt.where(
            Incident.resolved_at.is_(None) if active else Incident.resolved_at.is_not(None)
        )
    if status:
        stmt = stmt.where(Incident.status == status)
    if from_:
        stmt = stmt.where(Incident.started_at >= from_)
    if to:
        stmt = stmt.where(Incident.started_at < to)
    stmt = stmt.order_by(Incident.started_at.desc(), Incident.id)
    return paginate(session, stmt, params, lambda i: incident_public(session, i))


@router.post(
    "",
    status_code=201,
    response_model=IncidentDetail,
    summary="Open an incident by hand (scope incidents:write)",
    description="For problems the monitors do not see. Notifies like an automatic incident.",
)
def create(body: IncidentCreate, session: SessionDep, principal: Writer) -> dict[str, Any]:
    _owned_monitor_ids(session, principal, body.monitor_ids)
    incident = db.create_incident(
        session,
        principal.organization_id,
        title=body.title,
        description=body.description,
        status=body.status,
        impact=body.impact,
        monitor_ids=body.monitor_ids,
        started_at=body.started_at,
    )
    audit(session, principal, "incident.create", "incident", incident.id, title=body.title)
    session.commit()
    return _detail(session, incident)


def _detail(session: Session, incident: Incident) -> dict[str, Any]:
    ids = list(incident.monitor_ids) or ([incident.monitor_id] if incident.monitor_id else [])
    transitions: list[StateTransition] = []
    if ids:
        transitions = list(
            session.scalars(
                select(StateTransition)
                .where(
                    StateTransition.monitor_id.in_(ids),
                    StateTransition.at >= incident.started_at,
                    StateTransition.at <= (incident.resolved_at or utcnow()),
                )
                .order_by(StateTransition.at, StateTransition.id)
            )
        )
    return {
        **incident_public(session, incident),
        "transitions": [
            {
                "monitor_id": t.monitor_id,
                "from_status": t.from_status,
                "to_status": t.to_status,
                "at": t.at,
                "regions": t.regions,
            }
            for t in transitions
        ],
    }


@router.get(
    "/{incident_id}",
    response_model=IncidentDetail,
    summary="Get an incident with its whole timeline (scope incidents:read)",
    description="`updates` are the timeline entries; `transitions` the monitors' state "
    "changes while it was open, with the regions and errors behind each.",
)
def get(incident_id: str, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return _detail(session, get_owned(session, Incident, incident_id, principal))


@router.post(
    "/{incident_id}/acknowledge",
    response_model=IncidentDetail,
    summary="Acknowledge an incident (scope incidents:write)",
    description="Stops escalation. Acknowledging twice changes nothing; a resolved "
    "incident answers 409.",
)
def acknowledge(incident_id: str, session: SessionDep, principal: Writer) -> dict[str, Any]:
    incident = get_owned(session, Incident, incident_id, principal)
    if incident.resolved_at is not None:
        raise HTTPException(409, "incident is already resolved")
    if db.acknowledge(session, incident, by=principal.key_id):
        audit(session, principal, "incident.acknowledge", "incident", incident.id)
    session.commit()
    return _detail(session, incident)


@router.post(
    "/{incident_id}/resolve",
    response_model=IncidentDetail,
    summary="Resolve an incident (scope incidents:write)",
    description="Adds a final `resolved` update; an already resolved incident answers 409.",
)
def resolve(
    incident_id: str,
    session: SessionDep,
    principal: Writer,
    body: Annotated[ResolveBody | None, Body()] = None,
) -> dict[str, Any]:
    incident = get_owned(session, Incident, incident_id, principal)
    message = body.message if body else ResolveBody().message
    if db.resolve(session, incident, message) is None:
        raise HTTPException(409, "incident is already resolved")
    audit(session, principal, "incident.resolve", "incident", incident.id)
    session.commit()
    return _detail(session, incident)


@router.post(
    "/{incident_id}/updates",
    status_code=201,
    response_model=IncidentDetail,
    summary="Post a status update (scope incidents:write)",
    description="Moves the incident to `status`; `resolved` resolves it, any other status "
    "reopens a resolved one.",
)
def post_update(
    incident_id: str, body: IncidentUpdateCreate, session: SessionDep, principal: Writer
) -> dict[str, Any]:
    incident = get_owned(session, Incident, incident_id, principal)
    db.add_update(session, incident, body.status, body.message)
    audit(session, principal, "incident.update", "incident", incident.id, status=body.status)
    session.commit()
    return _detail(session, incident)


def _bulk(session: Session, principal: Principal, ids: list[str], apply: Any) -> dict[str, Any]:
    updated: list[str] = []
    skipped: list[dict[str, str]] = []
    for incident_id in dict.fromkeys(ids):
        incident = session.get(Incident, incident_id)
        if incident is None or incident.organization_id != principal.organization_id:
            skipped.append({"id": incident_id, "reason": "not found"})
            continue
        reason = apply(incident)
        if reason:
            skipped.append({"id": incident_id, "reason": reason})
        else:
            updated.append(incident_id)
    session.commit()
    return {"updated": updated, "skipped": skipped}


@router.post(
    "/bulk-acknowledge",
    response_model=BulkResult,
    summary="Acknowledge several incidents (scope incidents:write)",
    description="Ids that are unknown, resolved or already acknowledged are listed in "
    "`skipped` with the reason.",
)
def bulk_acknowledge(body: BulkIds, session: SessionDep, principal: Writer) -> dict[str, Any]:
    def apply(incident: Incident) -> str | None:
        if incident.resolved_at is not None:
            return "already resolved"
        if not db.acknowledge(session, incident, by=principal.key_id):
            return "already acknowledged"
        audit(session, principal, "incident.acknowledge", "incident", incident.id)
        return None

    return _bulk(session, principal, body.ids, apply)


@router.post(
    "/bulk-resolve",
    response_model=BulkResult,
    summary="Resolve several incidents (scope incidents:write)",
    description="Ids that are unknown or already resolved are listed in `skipped`.",
)
def bulk_resolve(body: BulkResolve, session: SessionDep, principal: Writer) -> dict[str, Any]:
    def apply(incident: Incident) -> str | None:
        if db.resolve(session, incident, body.message) is None:
            return "already resolved"
        audit(session, principal, "incident.resolve", "incident", incident.id)
        return None

    return _bulk(session, principal, body.ids, apply)
