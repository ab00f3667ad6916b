"""The FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from picket import __version__
from picket.api.openapi import document_errors
from picket.api.public import pages as public_pages
from picket.api.ratelimit import RateLimiter, RateLimitMiddleware
from picket.api.routes import (
    audit,
    exports,
    health,
    heartbeat,
    incidents,
    keys,
    maintenance,
    monitors,
    notifications,
    organizations,
    probes,
    reports,
    status_pages,
)
from picket.db.engine import make_engine, make_sessionmaker
from picket.settings import Settings

API_PREFIX = "/api/v1"


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        # Only the leading part says where the input came from; a field may be named "path".
        if loc and loc[0] in ("body", "query", "path"):
            loc = loc[1:]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse(
        status_code=422, content={"detail": _describe_validation(errors), "errors": errors}
    )


async def _database_unavailable(_request: Request, _exc: OperationalError) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": "the database is unavailable; retry shortly"},
        headers={"Retry-After": "5"},
    )


async def _value_refused(_request: Request, _exc: DataError) -> JSONResponse:
    # The database refused a value the schema allowed (e.g. a NUL byte on PostgreSQL).
    return JSONResponse(
        status_code=422, content={"detail": "a value cannot be stored: out of range or invalid"}
    )


async def _conflict(_request: Request, _exc: IntegrityError) -> JSONResponse:
    # A unique constraint lost a race (or a duplicate a handler did not check first).
    return JSONResponse(
        status_code=409, content={"detail": "conflicts with an existing resource; retry"}
    )


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Picket API",
        version=__version__,
        description="Multi-region uptime monitoring. Authenticate with "
        "`Authorization: Bearer pk_…`; each endpoint names the scope it needs.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
    )
    engine = make_engine(settings.effective_database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _value_refused)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _conflict)  # type: ignore[arg-type]
    app.include_router(monitors.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(reports.router, prefix=API_PREFIX)
    app.include_router(exports.router, prefix=API_PREFIX)
    app.include_router(status_pages.router, prefix=API_PREFIX)
    app.include_router(public_pages.router)
    app.include_router(heartbeat.router, prefix=API_PREFIX)
    app.include_router(incidents.router, prefix=API_PREFIX)
    app.include_router(maintenance.router, prefix=API_PREFIX)
    app.include_router(probes.router, prefix=API_PREFIX)
    app.include_router(keys.router, prefix=API_PREFIX)
    app.include_router(organizations.router, prefix=API_PREFIX)
    app.include_router(audit.router, prefix=API_PREFIX)
    app.include_router(notifications.router, prefix=API_PREFIX)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.add_middleware(RateLimitMiddleware, limiter=app.state.rate_limiter)
    document_errors(app)
    return app
