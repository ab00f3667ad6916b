"""/api/v1/status-pages: public status pages, their components and custom domains."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.db.models import Monitor
from picket.db.models_reports import StatusPage, StatusPageComponent
from picket.db.types import utcnow

router = APIRouter(prefix="/status-pages", tags=["status pages"])

Reader = Annotated[Principal, Depends(require("status-pages:read"))]
Writer = Annotated[Principal, Depends(require("status-pages:write"))]

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class Component(BaseModel):
    monitor_id: str
    name: str | None = Field(default=None, max_length=200, description="default: monitor name")
    section: str | None = Field(default=None, max_length=200)


class ComponentPublic(BaseModel):
    monitor_id: str
    name: str
    section: str | None


def _slug(value: str | None) -> str | None:
    if value is not None and not SLUG.match(value):
        raise ValueError("expected lower-case letters, digits and hyphens (at most 64)")
    return value


def _domain(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().lower().rstrip(".")
    if not DOMAIN.match(value):
        raise ValueError("expected a host name such as status.example.com")
    return value


class StatusPageCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme status",
                    "slug": "acme",
                    "description": "Live status of the Acme shop.",
                    "show_uptime": True,
                    "components": [{"monitor_id": "<monitor_id>", "section": "Shop"}],
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    slug: str
    description: str | None = Field(default=None, max_length=5000)
    custom_domain: str | None = None
    show_uptime: bool = True
    components: list[Component] = Field(default_factory=list, max_length=200)

    _check_slug = field_validator("slug")(_slug)
    _check_domain = field_validator("custom_domain")(_domain)


class StatusPageUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme service status",
                    "components": [{"monitor_id": "<monitor_id>", "name": "Checkout"}],
                }
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = None
    description: str | None = Field(default=None, max_length=5000)
    custom_domain: str | None = None
    show_uptime: bool | None = None
    components: list[Component] | None = Field(default=None, max_length=200)

    _check_slug = field_validator("slug")(_slug)
    _check_domain = field_validator("custom_domain")(_domain)


class StatusPagePublic(BaseModel):
    id: str
    name: str
    slug: str
    description: str | None
    custom_domain: str | None
    show_uptime: bool
    components: list[ComponentPublic]
    public_url: str
    created_at: datetime
    updated_at: datetime


def components_of(session: Session, page_id: str) -> list[StatusPageComponent]:
    return list(
        session.scalars(
            select(StatusPageComponent)
            .where(StatusPageComponent.page_id == page_id)
            .order_by(StatusPageComponent.position, StatusPageComponent.id)
        )
    )


def page_public(request: Request, session: Session, page: StatusPage) -> dict[str, Any]:
    return {
        "id": page.id,
        "name": page.name,
        "slug": page.slug,
        "description": page.description,
        "custom_domain": page.custom_domain,
        "show_uptime": page.show_uptime,
        "components": [
            {"monitor_id": c.monitor_id, "name": c.name, "section": c.section}
            for c in components_of(session, page.id)
        ],
        "public_url": str(request.url_for("public_status_page", slug=page.slug)),
        "created_at": page.created_at,
        "updated_at": page.updated_at,
    }


def _set_components(
    session: Session, page: StatusPage, components: list[Component], principal: Principal
) -> None:
    ids = [c.monitor_id for c in components]
    monitors = {
        m.id: m
        for m in session.scalars(
            select(Monitor).where(
                Monitor.id.in_(ids),
                Monitor.organization_id == principal.organization_id,
                Monitor.deleted_at.is_(None),
            )
        )
    }
    unknown = [i for i in ids if i not in monitors]
    if unknown:
        raise HTTPException(422, f"components.monitor_id: unknown monitor(s) {', '.join(unknown)}")
    session.execute(delete(StatusPageComponent).where(StatusPageComponent.page_id == page.id))
    for position, component in enumerate(components):
        session.add(
            StatusPageComponent(
                page_id=page.id,
                monitor_id=component.monitor_id,
                name=component.name or monitors[component.monitor_id].name,
                section=component.section,
                position=position,
            )
        )


def _conflict(session: Session, slug: str | None, domain: str | None, page_id: str | None) -> None:
    """Slugs and custom domains are unique across every organization."""
    for field, column, value in (
        ("slug", StatusPage.slug, slug),
        ("custom_domain", StatusPage.custom_domain, domain),
    ):
        if value is None:
            continue
        taken = session.scalar(select(StatusPage.id).where(column == value))
        if taken is not None and taken != page_id:
            raise HTTPException(409, f"{field}: '{value}' is already taken")


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request took the slug or domain between our check and the commit.
        session.rollback()
        raise HTTPException(409, "slug or custom_domain: already taken") from None


@router.post(
    "",
    status_code=201,
    response_model=StatusPagePublic,
    summary="Create a status page (scope status-pages:write)",
)
def create(
    body: StatusPageCreate, request: Request, session: SessionDep, principal: Writer
) -> dict[str, Any]:
    _conflict(session, body.slug, body.custom_domain, None)
    page = StatusPage(
        organization_id=principal.organization_id,
        name=body.name,
        slug=body.slug,
        description=body.description,
        custom_domain=body.custom_domain,
        show_uptime=body.show_uptime,
    )
    session.add(page)
    session.flush()
    _set_components(session, page, body.components, principal)
    audit(session, principal, "status_page.create", "status_page", page.id, slug=page.slug)
    _commit(session)
    return page_public(request, session, page)


@router.get(
    "", response_model=Page[StatusPagePublic], summary="List status pages (scope status-pages:read)"
)
def list_pages(
    request: Request, session: SessionDep, principal: Reader, params: PageDep
) -> dict[str, Any]:
    stmt = (
        select(StatusPage)
        .where(StatusPage.organization_id == principal.organization_id)
        .order_by(StatusPage.created_at, StatusPage.id)
    )
    return paginate(session, stmt, params, lambda p: page_public(request, session, p))


@router.get(
    "/{page_id}",
    response_model=StatusPagePublic,
    summary="Get a status page (scope status-pages:read)",
)
def get(page_id: str, request: Request, session: SessionDep, principal: Reader) -> dict[str, Any]:
    return page_public(request, session, get_owned(session, StatusPage, page_id, principal))


@router.patch(
    "/{page_id}",
    response_model=StatusPagePublic,
    summary="Change a status page; `components`, when given, replaces the list "
    "(scope status-pages:write)",
)
def patch(
    page_id: str,
    body: StatusPageUpdate,
    request: Request,
    session: SessionDep,
    principal: Writer,
) -> dict[str, Any]:
    page = get_owned(session, StatusPage, page_id, principal)
    fields = body.model_dump(exclude_unset=True)
    _conflict(session, fields.get("slug"), fields.get("custom_domain"), page.id)
    for name in ("name", "slug", "description", "custom_domain", "show_uptime"):
        if name in fields:
            if fields[name] is None and name in ("name", "slug", "show_uptime"):
                raise HTTPException(422, f"{name}: may not be null")
            setattr(page, name, fields[name])
    if body.components is not None:
        _set_components(session, page, body.components, principal)
    page.updated_at = utcnow()
    audit(session, principal, "status_page.update", "status_page", page.id, fields=sorted(fields))
    _commit(session)
    return page_public(request, session, page)


@router.delete(
    "/{page_id}", status_code=204, summary="Delete a status page (scope status-pages:write)"
)
def remove(page_id: str, session: SessionDep, principal: Writer) -> None:
    page = get_owned(session, StatusPage, page_id, principal)
    session.delete(page)
    audit(session, principal, "status_page.delete", "status_page", page.id, slug=page.slug)
    session.commit()
