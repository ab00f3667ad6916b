"""/api/v1/keys"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from picket.api.audit import audit
from picket.api.auth import ADMIN, Principal, expand_scopes, unknown_scopes
from picket.api.deps import PageDep, SessionDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.accounts import KeyCreate, KeyCreated, KeyPublic
from picket.db.accounts import create_api_key
from picket.db.models import ApiKey
from picket.db.types import utcnow

router = APIRouter(prefix="/keys", tags=["keys"])

Manager = Annotated[Principal, Depends(require("keys:write"))]


def key_public(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key (scope keys:write)",
    description="The raw key is in this answer only; Picket keeps its hash. A key can only "
    "grant scopes its creator holds, so `keys:write` cannot escalate itself.",
)
def create(body: KeyCreate, session: SessionDep, principal: Manager) -> dict[str, Any]:
    unknown = unknown_scopes(body.scopes)
    if unknown:
        raise HTTPException(422, f"scopes: unknown scope '{unknown[0]}'")
    wanted = expand_scopes(body.scopes) | ({ADMIN} & set(body.scopes))
    beyond = sorted(wanted - principal.scopes)
    if beyond:
        raise HTTPException(403, f"scopes: this API key cannot grant '{beyond[0]}'")
    key, raw = create_api_key(session, principal.organization_id, body.name, body.scopes)
    audit(session, principal, "key.create", "key", key.id, name=key.name, scopes=key.scopes)
    session.commit()
    return {"key": key_public(key), "raw_key": raw}


@router.get(
    "",
    response_model=Page[KeyPublic],
    summary="List API keys (scope keys:write)",
    description="Prefix, scopes and last use of each key; never the key itself.",
)
def list_keys(
    session: SessionDep, principal: Manager, params: PageDep, include_revoked: bool = False
) -> dict[str, Any]:
    stmt = select(ApiKey).where(ApiKey.organization_id == principal.organization_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return paginate(session, stmt.order_by(ApiKey.created_at, ApiKey.id), params, key_public)


@router.get("/{key_id}", response_model=KeyPublic, summary="Get an API key (scope keys:write)")
def get(key_id: str, session: SessionDep, principal: Manager) -> dict[str, Any]:
    return key_public(get_owned(session, ApiKey, key_id, principal))


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key (scope keys:write)",
    description="The key stops working at once. Revoking twice is harmless.",
)
def revoke(key_id: str, session: SessionDep, principal: Manager) -> None:
    key = get_owned(session, ApiKey, key_id, principal)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(session, principal, "key.revoke", "key", key.id, name=key.name)
    session.commit()
