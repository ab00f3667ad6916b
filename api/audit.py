"""Write endpoints call audit() before they commit; the entry commits with the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from picket.api.auth import Principal
from picket.db.audit import record


def audit(
    session: Session,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str | None,
    **detail: Any,
) -> None:
    record(
        session,
        principal.organization_id,
        principal.key_id,
        action,
        resource_type,
        resource_id,
        detail,
    )
