"""/api/v1/probes"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import or_, select

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, SettingsDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.probes import ProbeCreate, ProbeCreated, ProbePublic, ProbeToken
from picket.db.models import Probe
from picket.db.probes import create_probe, is_live, rotate_probe_token
from picket.db.types import utcnow
from picket.settings import Settings

router = APIRouter(prefix="/probes", tags=["probes"])

Reader = Annotated[Principal, Depends(require("probes:read"))]
Writer = Annotated[Principal, Depends(require("probes:write"))]


def start_command(settings: Settings, token: str) -> str:
    """The line an operator pastes on the probe's host; the token names its region."""
    addr = settings.collector_public_addr or settings.collector_addr
    return (
        f"PICKET_COLLECTOR_ADDR={shlex.quote(addr)} "
        f"PICKET_PROBE_TOKEN={shlex.quote(token)} picket probe"
    )


def probe_public(probe: Probe, settings: Settings) -> dict[str, Any]:
    live = is_live(probe, settings.ping_interval_s)
    return {
        "id": probe.id,
        "name": probe.name,
        "region": probe.region,
        "token_prefix": probe.token_prefix,
        "version": probe.version,
        "hostname": probe.hostname,
        "status": "revoked" if probe.revoked_at else ("live" if live else "offline"),
        "live": live,
        "unhealthy": probe.unhealthy,
        "unhealthy_since": probe.unhealthy_since,
        "last_seen_at": probe.last_seen_at,
        "created_at": probe.created_at,
        "revoked_at": probe.revoked_at,
        "shared": probe.organization_id is None,
    }


@router.post(
    "",
    status_code=201,
    response_model=ProbeCreated,
    summary="Create a probe (scope probes:write)",
    description="Returns the probe's token once, and `command`, the one line that starts "
    "the probe on its host. A new region is created on first use.",
)
def create(
    body: ProbeCreate, session: SessionDep, settings: SettingsDep, principal: Writer
) -> dict[str, Any]:
    probe, token = create_probe(session, body.name, body.region, principal.organization_id)
    audit(session, principal, "probe.create", "probe", probe.id, region=probe.region)
    session.commit()
    return {
        **probe_public(probe, settings),
        "token": token,
        "command": start_command(settings, token),
    }


@router.get(
    "",
    response_model=Page[ProbePublic],
    summary="List probes with liveness (scope probes:read)",
    description="The organization's probes and the operator's shared ones. A probe is live "
    "when it pinged within about three ping intervals.",
)
def list_probes(
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    params: PageDep,
    region: str | None = None,
    include_revoked: bool = False,
) -> dict[str, Any]:
    stmt = select(Probe).where(
        or_(Probe.organization_id == principal.organization_id, Probe.organization_id.is_(None))
    )
    if region:
        stmt = stmt.where(Probe.region == region)
    if not include_revoked:
        stmt = stmt.where(Probe.revoked_at.is_(None))
    stmt = stmt.order_by(Probe.region, Probe.name, Probe.id)
    return paginate(session, stmt, params, lambda p: probe_public(p, settings))


@router.get("/{probe_id}", response_model=ProbePublic, summary="Get a probe (scope probes:read)")
def get(
    probe_id: str, session: SessionDep, settings: SettingsDep, principal: Reader
) -> dict[str, Any]:
    return probe_public(get_owned(session, Probe, probe_id, principal), settings)


@router.post(
    "/{probe_id}/rotate-token",
    response_model=ProbeToken,
    summary="Give a probe a new token (scope probes:write)",
    description="The old token stops working; restart the probe with the new `command`. "
    "A revoked probe answers 409.",
)
def rotate(
    probe_id: str, session: SessionDep, settings: SettingsDep, principal: Writer
) -> dict[str, Any]:
    probe = get_owned(session, Probe, probe_id, principal)
    if probe.revoked_at is not None:
        raise HTTPException(409, "probe is revoked; create a new one")
    token = rotate_probe_token(session, probe)
    audit(session, principal, "probe.rotate_token", "probe", probe.id)
    session.commit()
    return {
        "id": probe.id,
        "region": probe.region,
        "token": token,
        "command": start_command(settings, token),
    }


@router.delete(
    "/{probe_id}",
    status_code=204,
    summary="Revoke a probe (scope probes:write)",
    description="Its token stops working and the collector closes its stream; its checks "
    "move to the region's other probes.",
)
def revoke(probe_id: str, session: SessionDep, principal: Writer) -> None:
    probe = get_owned(session, Probe, probe_id, principal)
    if probe.revoked_at is None:
        probe.revoked_at = utcnow()
        audit(session, principal, "probe.revoke", "probe", probe.id)
    session.commit()
