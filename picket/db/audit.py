"""The audit log: who (which key) did what to which resource, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from picket.db.models import AuditEntry


def record(
    session: Session,
    organization_id: str,
    key_id: str | None,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction, so it commits (or not) with the change.

    `detail` must never carry a secret: callers pass names and changed field names only.
    """
    entry = AuditEntry(
        organization_id=organization_id,
        key_id=key_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=detail or {},
    )
    session.add(entry)
    return entry
