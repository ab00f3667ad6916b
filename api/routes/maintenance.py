"""/api/v1/maintenance-windows"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr
from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.probes import WindowCreate, WindowPublic, WindowUpdate
from picket.db.models import MaintenanceWindow, Monitor
from picket.db.types import utcnow
from picket.maintenance import InvalidRule, occurrence_at

router = APIRouter(prefix="/maintenance-windows", tags=["maintenance"])

Reader = Annotated[Principal, Depends(require("monitors:read"))]
Writer = Annotated[Principal, Depends(require("monitors:write"))]

# Finer rules would make every evaluation walk a great many occurrences from the start.
ALLOWED_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, f"timezone: unknown time zone '{name}'") from None


def _rule(text: str, starts_at: datetime, timezone: str) -> rrule:
    """The window's RRULE anchored at its start in its time zone, or 422 naming the field."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or ":" in body:
        raise HTTPException(422, "rrule: expected one RRULE such as FREQ=WEEKLY;BYDAY=SU")
    parts = dict(p.partition("=")[::2] for p in body.upper().split(";") if p)
    if parts.get("FREQ") not in ALLOWED_FREQS:
        raise HTTPException(422, f"rrule: FREQ must be one of {', '.join(ALLOWED_FREQS)}")
    try:
        rule = rrulestr(body, dtstart=starts_at.astimezone(_zone(timezone)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise HTTPException(422, f"rrule: {exc}") from None
    if not isinstance(rule, rrule):
        raise HTTPException(422, "rrule: expected one RRULE such as FREQ=WEEKLY;BYDAY=SU")
    return rule


def _schedule(window: MaintenanceWindow, now: datetime) -> tuple[bool, datetime | None]:
    """(in effect now, next start after now), as the consensus engine will see it."""
    try:
        active = (
            occurrence_at(
                window.starts_at, window.duration_seconds, window.rrule, window.timezone, now
            )
            is not None
        )
    except InvalidRule:
        return False, None
    if not window.rrule:
        return active, window.starts_at if window.starts_at > now else None
    zone = ZoneInfo(window.timezone)
    upcoming = rrulestr(window.rrule, dtstart=window.starts_at.astimezone(zone)).after(
        now.astimezone(zone)
    )
    return active, upcoming.astimezone(UTC) if upcoming else None


def window_public(window: MaintenanceWindow) -> dict[str, Any]:
    active, next_start = _schedule(window, utcnow())
    return {
        "id": window.id,
        "name": window.name,
        "monitor_ids": window.monitor_ids,
        "starts_at": window.starts_at,
        "duration_seconds": window.duration_seconds,
        "rrule": window.rrule,
        "timezone": window.timezone,
        "active": active,
        "next_start": next_start,
        "created_at": window.created_at,
        "updated_at": window.updated_at,
    }


def _validate(session: Session, principal: Principal, fields: dict[str, Any]) -> None:
    _zone(fields["timezone"])
    if fields.get("rrule"):
        _rule(fields["rrule"], fields["starts_at"], fields["timezone"])
    ids = fields["monitor_ids"]
    if ids:
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


@router.post(
    "",
    status_code=201,
    response_model=WindowPublic,
    summary="Create a maintenance window (scope monitors:write)",
    description="While a window is in effect the monitors it lists show `maintenance`, "
    "open no incidents and send no notifications. `rrule` (RFC 5545, DAILY or coarser) "
    "repeats it on the wall clock of `timezone`; each occurrence lasts `duration_seconds`.",
)
def create(body: WindowCreate, session: SessionDep, principal: Writer) -> dict[str, Any]:
    fields = body.model_dump()
    fields["rrule"] = fields["rrule"] or None
    _validate(session, principal, fields)
    window = MaintenanceWindow(organization_id=principal.organization_id, **fields)
    session.add(window)
    session.flush()
    audit(session, principal, "maintenance.create", "maintenance_window", window.id)
    session.commit()
    return window_public(window)


@router.get(
    "",
    response_model=Page[WindowPublic],
    summary="List maintenance windows (scope monitors:read)",
)
def list_windows(session: SessionDep, principal: Reader, params: PageDep) -> dict[str, Any]:
    stmt = (
        select(MaintenanceWindow)
        .where(MaintenanceWindow.organization_id == principal.organization_id)
        .order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    )
    return paginate(session, stmt, params, window_public)


@router.get(
    "/{window_id}",
    response_model=WindowPublic,
    summary="Get a maintenance window (scope monitors:read)",
)
def get(window_id: str, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return window_public(get_owned(session, MaintenanceWindow, window_id, principal))


@router.patch(
    "/{window_id}",
    response_model=WindowPublic,
    summary="Change a maintenance window (scope monitors:write)",
    description="Only the fields sent change; `rrule: null` makes it a one-off window.",
)
def patch(
    window_id: str, body: WindowUpdate, session: SessionDep, principal: Writer
) -> dict[str, Any]:
    window = get_owned(session, MaintenanceWindow, window_id, principal)
    sent = body.model_dump(exclude_unset=True)
    for required in ("name", "starts_at", "duration_seconds", "timezone", "monitor_ids"):
        if required in sent and sent[required] is None:
            raise HTTPException(422, f"{required}: may not be null")
    current = {
        "name": window.name,
        "monitor_ids": window.monitor_ids,
        "starts_at": window.starts_at,
        "duration_seconds": window.duration_seconds,
        "rrule": window.rrule,
        "timezone": window.timezone,
    }
    merged = {**current, **sent}
    merged["rrule"] = merged["rrule"] or None
    _validate(session, principal, merged)
    for name, value in merged.items():
        setattr(window, name, value)
    window.updated_at = utcnow()
    audit(
        session,
        principal,
        "maintenance.update",
        "maintenance_window",
        window.id,
        fields=sorted(sent),
    )
    session.commit()
    return window_public(window)


@router.delete(
    "/{window_id}",
    status_code=204,
    summary="Delete a maintenance window (scope monitors:write)",
)
def delete(window_id: str, session: SessionDep, principal: Writer) -> None:
    window = get_owned(session, MaintenanceWindow, window_id, principal)
    audit(session, principal, "maintenance.delete", "maintenance_window", window.id)
    session.delete(window)
    session.commit()
