"""/api/v1/monitors"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, SettingsDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.common import Timestamp
from picket.api.schemas.monitors import (
    CheckResultPublic,
    MonitorCreate,
    MonitorPublic,
    MonitorStatus,
    MonitorType,
    MonitorUpdate,
    MonitorUptime,
    TagPublic,
    validate_kind_fields,
)
from picket.db.heartbeats import PUSH_REGION, create_heartbeat, heartbeat_token
from picket.db.json_match import json_array_contains, json_is_null
from picket.db.models import CheckResult, Monitor, MonitorState
from picket.db.monitors import (
    all_regions,
    create_monitor,
    effective_quorum,
    effective_regions,
    get_state,
    soft_delete_monitor,
    update_monitor,
)
from picket.db.raw_uptime import monitor_uptime
from picket.db.types import utcnow
from picket.specs import MONITOR_TYPES, PUSH_TYPES
from picket.targets import TargetError, screen_monitor_target

router = APIRouter(prefix="/monitors", tags=["monitors"])

KINDS = set(MONITOR_TYPES)
# PATCH may set these to null (meaning: back to the default); other fields may not.
NULLABLE = {"regions", "min_failing_regions", "sla_target"} | KINDS
PERIODS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}

Reader = Annotated[Principal, Depends(require("monitors:read"))]
Writer = Annotated[Principal, Depends(require("monitors:write"))]
PUSH_REGIONS_REFUSED = "regions: heartbeat monitors are pinged, not checked from regions"


def monitor_public(session: Any, monitor: Monitor, regions: list[str]) -> dict[str, Any]:
    state = get_state(session, monitor.id)
    mine = effective_regions(monitor, regions)
    region_status = {r: "unknown" for r in mine}
    if state is not None:
        region_status.update({r: s for r, s in state.region_status.items() if r in region_status})
    status = "paused" if monitor.paused else (state.status if state else "unknown")
    body: dict[str, Any] = {
        "id": monitor.id,
        "name": monitor.name,
        "type": monitor.type,
        "url": monitor.url,
        "interval_seconds": monitor.interval_seconds,
        "timeout_seconds": monitor.timeout_seconds,
        "regions": mine,
        "min_failing_regions": effective_quorum(monitor, mine),
        "confirmation_period_s": monitor.confirmation_period_s,
        "recovery_period_s": monitor.recovery_period_s,
        "incident_on_degraded": monitor.incident_on_degraded,
        "sla_target": monitor.sla_target,
        "retries": monitor.retries,
        "retry_delay_ms": monitor.retry_delay_ms,
        "tags": monitor.tags,
        "paused": monitor.paused,
        "version": monitor.version,
        "status": status,
        "region_status": region_status,
        "created_at": monitor.created_at,
        "updated_at": monitor.updated_at,
        monitor.type: monitor.spec,
    }
    if monitor.type == "heartbeat":
        body["heartbeat_token"] = heartbeat_token(session, monitor.id)
    return body


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_regions(requested: list[str] | None, known: list[str], quorum: int | None) -> None:
    if requested is not None:
        if not requested:
            raise HTTPException(422, "regions: give at least one region, or omit it for all")
        unknown = sorted(set(requested) - set(known))
        if unknown:
            raise HTTPException(
                422,
                f"regions: unknown region(s) {', '.join(unknown)}; "
                f"known: {', '.join(known) or 'none yet'}",
            )
    count = len(requested) if requested else len(known)
    if quorum is not None and count and quorum > count:
        raise HTTPException(
            422, f"min_failing_regions: {quorum} is more than the monitor's {count} region(s)"
        )


def _screen(kind: str, target: str, settings: SettingsDep, spec: dict[str, Any]) -> None:
    try:
        screen_monitor_target(
            kind, target, allow_private=settings.allow_private_targets, settings=spec
        )
    except TargetError as exc:
        raise HTTPException(422, f"{exc.field}: {exc}") from None


@router.post(
    "",
    status_code=201,
    response_model=MonitorPublic,
    summary="Create a monitor (scope monitors:write)",
    description="Creates a monitor; probes in its regions start checking it within seconds. "
    "Kind-specific settings sit under the kind's name (`http`, `tcp`, ...).",
)
def create(
    body: MonitorCreate, session: SessionDep, settings: SettingsDep, principal: Writer
) -> dict[str, Any]:
    known = all_regions(session)
    if body.type in PUSH_TYPES and (body.regions or body.min_failing_regions):
        raise HTTPException(422, PUSH_REGIONS_REFUSED)
    _check_regions(body.regions, known, body.min_failing_regions)
    spec = validate_kind_fields(body)
    _screen(body.type, body.url, settings, spec)
    fields = body.model_dump(exclude=KINDS)
    if body.type in PUSH_TYPES:
        fields["regions"] = [PUSH_REGION]
    monitor = create_monitor(session, principal.organization_id, spec=spec, **fields)
    if body.type == "heartbeat":
        create_heartbeat(session, monitor.id)
    audit(session, principal, "monitor.create", "monitor", monitor.id, name=monitor.name)
    session.commit()
    return monitor_public(session, monitor, known)


@router.get(
    "",
    response_model=Page[MonitorPublic],
    summary="List monitors (scope monitors:read)",
    description="Filters combine with AND. `q` searches name and URL, case-insensitively.",
)
def list_monitors(
    session: SessionDep,
    principal: Reader,
    params: PageDep,
    status: MonitorStatus | None = None,
    type: MonitorType | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="search in name and url")] = None,
) -> dict[str, Any]:
    stmt = (
        select(Monitor)
        .where(Monitor.organization_id == principal.organization_id, Monitor.deleted_at.is_(None))
        .order_by(Monitor.created_at, Monitor.id)
    )
    if type:
        stmt = stmt.where(Monitor.type == type)
    if status == "paused":
        stmt = stmt.where(Monitor.paused.is_(True))
    elif status == "unknown":
        stmt = stmt.outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id).where(
            Monitor.paused.is_(False),
            or_(MonitorState.status.is_(None), MonitorState.status == "unknown"),
        )
    elif status:
        stmt = stmt.join(MonitorState, MonitorState.monitor_id == Monitor.id).where(
            Monitor.paused.is_(False), MonitorState.status == status
        )
    if tag:
        stmt = stmt.where(json_array_contains(session, Monitor.tags, tag))
    if region:
        # No regions stored means every region.
        stmt = stmt.where(
            or_(
                json_is_null(session, Monitor.regions),
                json_array_contains(session, Monitor.regions, region),
            )
        )
    if q:
        pattern = "%" + _escape_like(q) + "%"
        stmt = stmt.where(
            or_(
                Monitor.name.ilike(pattern, escape="\\"),
                Monitor.url.ilike(pattern, escape="\\"),
            )
        )
    known = all_regions(session)
    return paginate(session, stmt, params, lambda m: monitor_public(session, m, known))


@router.get(
    "/tags",
    response_model=Page[TagPublic],
    summary="Tags in use, with how many monitors carry each (scope monitors:read)",
    description="Sorted by name. Filter monitors by one with `GET /monitors?tag=...`.",
)
def tags(session: SessionDep, principal: Reader, params: PageDep) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for monitor_tags in session.scalars(
        select(Monitor.tags).where(
            Monitor.organization_id == principal.organization_id, Monitor.deleted_at.is_(None)
        )
    ):
        counts.update(set(monitor_tags or []))
    names = sorted(counts)
    window = names[params.offset : params.offset + params.limit]
    return {
        "data": [{"name": name, "monitors": counts[name]} for name in window],
        "pagination": {
            "page": params.page,
            "limit": params.limit,
            "total": len(names),
            "pages": math.ceil(len(names) / params.limit),
        },
    }


@router.get(
    "/{monitor_id}",
    response_model=MonitorPublic,
    summary="Get a monitor with its state per region (scope monitors:read)",
)
def get(monitor_id: str, session: SessionDep, principal: Reader) -> dict[str, Any]:
    """`status` is the monitor's consensus state; `region_status` each region's own view."""
    monitor = get_owned(session, Monitor, monitor_id, principal)
    return monitor_public(session, monitor, all_regions(session))


@router.patch(
    "/{monitor_id}",
    response_model=MonitorPublic,
    summary="Change some fields of a monitor (scope monitors:write)",
    description="Only the fields sent change. Kind settings are merged into the current ones.",
)
def patch(
    monitor_id: str,
    body: MonitorUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Writer,
) -> dict[str, Any]:
    monitor = get_owned(session, Monitor, monitor_id, principal)
    sent = body.model_dump(exclude_unset=True)
    for name, value in sent.items():
        if value is None and name not in NULLABLE:
            raise HTTPException(422, f"{name}: may not be null")
    known = all_regions(session)
    if monitor.type in PUSH_TYPES:
        if {"regions", "min_failing_regions"} & sent.keys():
            raise HTTPException(422, PUSH_REGIONS_REFUSED)
    else:
        regions = sent.get("regions", monitor.regions)
        quorum = sent.get("min_failing_regions", monitor.min_failing_regions)
        _check_regions(regions, known, quorum)
    wrong = sorted(k for k in KINDS & sent.keys() if k != monitor.type)
    if wrong:
        raise HTTPException(422, f"{wrong[0]}: settings do not apply to a {monitor.type} monitor")
    fields = {k: v for k, v in sent.items() if k not in KINDS}
    if monitor.type in sent:
        merged = {**monitor.spec, **(sent[monitor.type] or {})}
        try:
            candidate = MonitorCreate.model_validate(
                {
                    "name": monitor.name,
                    "type": monitor.type,
                    "url": monitor.url,
                    monitor.type: merged,
                }
            )
        except ValidationError as exc:
            raise HTTPException(422, _first_error(exc)) from None
        fields["spec"] = validate_kind_fields(candidate)
    if "url" in sent or "spec" in fields:
        _screen(
            monitor.type, sent.get("url", monitor.url), settings, fields.get("spec", monitor.spec)
        )
    update_monitor(session, monitor, **fields)
    audit(session, principal, "monitor.update", "monitor", monitor.id, fields=sorted(sent))
    session.commit()
    return monitor_public(session, monitor, known)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


@router.put(
    "/{monitor_id}",
    response_model=MonitorPublic,
    summary="Replace a monitor (scope monitors:write)",
    description="A full replacement: fields left out take their defaults, as on create.",
)
def replace(
    monitor_id: str,
    body: MonitorCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Writer,
) -> dict[str, Any]:
    monitor = get_owned(session, Monitor, monitor_id, principal)
    if body.type != monitor.type:
        raise HTTPException(
            422, f"type: a {monitor.type} monitor cannot become {body.type}; create a new one"
        )
    known = all_regions(session)
    if body.type in PUSH_TYPES and (body.regions or body.min_failing_regions):
        raise HTTPException(422, PUSH_REGIONS_REFUSED)
    _check_regions(body.regions, known, body.min_failing_regions)
    spec = validate_kind_fields(body)
    _screen(body.type, body.url, settings, spec)
    fields = body.model_dump(exclude=KINDS)
    if body.type in PUSH_TYPES:
        fields["regions"] = [PUSH_REGION]
    update_monitor(session, monitor, spec=spec, **fields)
    audit(session, principal, "monitor.replace", "monitor", monitor.id, name=monitor.name)
    session.commit()
    return monitor_public(session, monitor, known)


@router.delete(
    "/{monitor_id}",
    status_code=204,
    summary="Delete a monitor; its history stays (scope monitors:write)",
    description="Soft delete: the monitor stops being checked and leaves every list; its "
    "results and incidents stay until retention removes them. An open automatic incident "
    "is resolved with a last update saying so.",
)
def delete(monitor_id: str, session: SessionDep, principal: Writer) -> None:
    monitor = get_owned(session, Monitor, monitor_id, principal)
    soft_delete_monitor(session, monitor)
    audit(session, principal, "monitor.delete", "monitor", monitor.id, name=monitor.name)
    session.commit()


def _set_paused(
    monitor_id: str, paused: bool, session: Session, principal: Principal
) -> dict[str, Any]:
    monitor = get_owned(session, Monitor, monitor_id, principal)
    update_monitor(session, monitor, paused=paused)
    action = "monitor.pause" if paused else "monitor.resume"
    audit(session, principal, action, "monitor", monitor.id)
    session.commit()
    return monitor_public(session, monitor, all_regions(session))


@router.post(
    "/{monitor_id}/pause",
    response_model=MonitorPublic,
    summary="Pause a monitor (scope monitors:write)",
    description="Probes stop checking it and it opens no incidents until resumed. Idempotent.",
)
def pause(monitor_id: str, session: SessionDep, principal: Writer) -> dict[str, Any]:
    return _set_paused(monitor_id, True, session, principal)


@router.post(
    "/{monitor_id}/resume",
    response_model=MonitorPublic,
    summary="Resume a paused monitor (scope monitors:write)",
    description="Checks start again at the next slot. Idempotent.",
)
def resume(monitor_id: str, session: SessionDep, principal: Writer) -> dict[str, Any]:
    return _set_paused(monitor_id, False, session, principal)


@router.get(
    "/{monitor_id}/checks",
    response_model=Page[CheckResultPublic],
    summary="Check results, newest first (scope monitors:read)",
    description="`from` (inclusive) and `to` (exclusive) bound the scheduled time; "
    "datetimes need a timezone, e.g. `2026-01-01T00:00:00Z`.",
)
def checks(
    monitor_id: str,
    session: SessionDep,
    principal: Reader,
    params: PageDep,
    region: Annotated[str | None, Query(max_length=64)] = None,
    ok: Annotated[bool | None, Query(description="true: only passing; false: only failing")] = None,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
) -> dict[str, Any]:
    get_owned(session, Monitor, monitor_id, principal)
    stmt = select(CheckResult).where(CheckResult.monitor_id == monitor_id)
    if region:
        stmt = stmt.where(CheckResult.region == region)
    if ok is not None:
        stmt = stmt.where(CheckResult.ok.is_(ok))
    if from_:
        stmt = stmt.where(CheckResult.scheduled_at >= from_)
    if to:
        stmt = stmt.where(CheckResult.scheduled_at < to)
    stmt = stmt.order_by(CheckResult.scheduled_at.desc(), CheckResult.id.desc())
    return paginate(session, stmt, params, CheckResultPublic.model_validate)


@router.get(
    "/{monitor_id}/uptime",
    response_model=MonitorUptime,
    summary="Uptime over a period, overall and per region (scope monitors:read)",
    description="Computed from raw check results over the last `period`: share of passing "
    "checks, average and p95 latency, number of checks, and incidents that overlap it.",
)
def uptime(
    monitor_id: str,
    session: SessionDep,
    principal: Reader,
    period: Literal["24h", "7d", "30d", "90d"] = "24h",
) -> dict[str, Any]:
    get_owned(session, Monitor, monitor_id, principal)
    end = utcnow()
    start = end - PERIODS[period]
    figures = monitor_uptime(session, monitor_id, start, end)
    return {"monitor_id": monitor_id, "period": period, "from": start, "to": end, **figures}
