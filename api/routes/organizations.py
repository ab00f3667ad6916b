"""/api/v1/organizations: the operator's admin key creates organizations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from picket.api.audit import audit
from picket.api.auth import ADMIN, Principal
from picket.api.deps import PageDep, SessionDep, require
from picket.api.pagination import Page, paginate
from picket.api.schemas.accounts import (
    OrganizationCreate,
    OrganizationCreated,
    OrganizationPublic,
)
from picket.db.accounts import create_api_key, create_organization
from picket.db.models import Organization

router = APIRouter(prefix="/organizations", tags=["organizations"])

Admin = Annotated[Principal, Depends(require(ADMIN))]


def organization_public(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "created_at": org.created_at}


@router.post(
    "",
    status_code=201,
    response_model=OrganizationCreated,
    summary="Create an organization and its first key (scope admin)",
    description="Only the operator's admin key may. `raw_key` is the new organization's "
    "first `full` key, shown this once.",
)
def create(body: OrganizationCreate, session: SessionDep, principal: Admin) -> dict[str, Any]:
    org = create_organization(session, body.name)
    _, raw = create_api_key(session, org.id, "initial", ["full"])
    audit(session, principal, "organization.create", "organization", org.id, name=org.name)
    session.commit()
    return {"organization": organization_public(org), "raw_key": raw}


@router.get(
    "",
    response_model=Page[OrganizationPublic],
    summary="List organizations (scope admin)",
)
def list_organizations(session: SessionDep, principal: Admin, params: PageDep) -> dict[str, Any]:
    stmt = select(Organization).order_by(Organization.created_at, Organization.id)
    return paginate(session, stmt, params, organization_public)
