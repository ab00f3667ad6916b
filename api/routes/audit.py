"""/api/v1/audit-log"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.audit import AuditEntryPublic
from picket.api.schemas.common import Timestamp
from picket.db.models import AuditEntry

router = APIRouter(prefix="/audit-log", tags=["audit"])

# Who did what is for those who manage access, so the key-management scope reads it.
Auditor = Annotated[Principal, Depends(require("keys:write"))]


@router.get(
    "",
    response_model=Page[AuditEntryPublic],
    summary="The audit log, newest first (scope keys:write)",
    description="Which key did what to which resource, and when. `action` looks like "
    "`monitor.update`; `from` (inclusive) and `to` (exclusive) bound the time.",
)
def list_entries(
    session: SessionDep,
    principal: Auditor,
    params: PageDep,
    key_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
) -> dict[str, Any]:
    stmt = select(AuditEntry).where(AuditEntry.organization_id == principal.organization_id)
    for column, value in (
        (AuditEntry.key_id, key_id),
        (AuditEntry.action, action),
        (AuditEntry.resource_type, resource_type),
        (AuditEntry.resource_id, resource_id),
    ):
        if value:
            stmt = stmt.where(column == value)
    if from_:
        stmt = stmt.where(AuditEntry.created_at >= from_)
    if to:
        stmt = stmt.where(AuditEntry.created_at < to)
    stmt = stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    return paginate(session, stmt, params, AuditEntryPublic.model_validate)
