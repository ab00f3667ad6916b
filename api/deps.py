"""FastAPI dependencies: database session, authenticated key, scope checks, owned rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from picket.api.auth import Principal, expand_scopes
from picket.db.accounts import find_active_key
from picket.db.types import utcnow
from picket.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def authenticate(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer pk_...",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = find_active_key(session, raw.strip())
    if key is None:
        raise HTTPException(
            401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    key.last_used_at = utcnow()
    session.commit()
    principal = Principal(key.id, key.organization_id, expand_scopes(key.scopes) | set(key.scopes))
    request.state.principal = principal
    return principal


AuthKey = Annotated[Principal, Depends(authenticate)]


def require(scope: str) -> Callable[[Principal], Principal]:
    """Dependency: the key must hold `scope` (403 otherwise)."""

    def check(principal: AuthKey) -> Principal:
        if scope not in principal.scopes:
            raise HTTPException(403, f"this API key lacks the '{scope}' scope")
        return principal

    check.__name__ = f"require_{scope.replace(':', '_').replace('-', '_')}"
    # Read by the scope-matrix test and the OpenAPI docs to learn each route's scope.
    check.required_scope = scope  # type: ignore[attr-defined]
    return check


ModelT = TypeVar("ModelT")


def get_owned(session: Session, model: type[ModelT], id_: Any, principal: Principal) -> ModelT:
    """A row of the key's organization, or 404 — never 403, never another's data."""
    row = session.get(model, id_)
    if (
        row is None
        or getattr(row, "organization_id", None) != principal.organization_id
        or getattr(row, "deleted_at", None) is not None
    ):
        raise HTTPException(404, f"{model.__name__.lower()} not found")
    return row


class PageParams:
    def __init__(
        self,
        # Capped so page × limit stays a valid SQL offset on every backend.
        page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="items per page (max 100)")] = 20,
    ) -> None:
        self.page = page
        self.limit = limit

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


PageDep = Annotated[PageParams, Depends()]
