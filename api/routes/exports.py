"""/api/v1/exports: check results, incidents or daily uptime as CSV, JSON or NDJSON files,
written in the background and streamed back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from picket.api.audit import audit
from picket.api.auth import Principal
from picket.api.deps import PageDep, SessionDep, SettingsDep, get_owned, require
from picket.api.pagination import Page, paginate
from picket.db.models import Monitor
from picket.db.models_reports import Export
from picket.db.types import utcnow
from picket.exports import KINDS, expire, public_fields, run_export
from picket.formats import WRITERS
from picket.targets import TargetError, screen_monitor_target

router = APIRouter(prefix="/exports", tags=["exports"])

# Exports read monitoring data, so they ride on the reports scope.
Reader = Annotated[Principal, Depends(require("reports:read"))]


class ExportCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "checks",
                    "format": "csv",
                    "from": "2026-01-01T00:00:00Z",
                    "to": "2026-02-01T00:00:00Z",
                    "monitor_ids": ["<monitor_id>"],
                }
            ]
        }
    )

    kind: Literal["checks", "incidents", "uptime"]
    format: Literal["csv", "json", "ndjson"] = "csv"
    start: datetime | None = Field(default=None, alias="from", description="default: 30 days ago")
    end: datetime | None = Field(default=None, alias="to", description="default: now")
    monitor_ids: list[str] | None = Field(default=None, description="default: every monitor")
    webhook_url: str | None = Field(
        default=None, max_length=2048, description="POSTed {event: export.ready, export} when done"
    )


class ExportPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    kind: Literal["checks", "incidents", "uptime"]
    format: Literal["csv", "json", "ndjson"]
    status: Literal["pending", "running", "ready", "failed", "expired"]
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    monitor_ids: list[str] | None
    rows: int | None
    size_bytes: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None = Field(description="set once the export is ready")


def export_body(request: Request, export: Export) -> dict[str, Any]:
    body = public_fields(export)
    body["download_url"] = (
        str(request.url_for("download_export", export_id=export.id))
        if export.status == "ready"
        else None
    )
    return body


def _check_body(
    body: ExportCreate, session: SessionDep, principal: Principal, settings: Any
) -> None:
    for name, value in (("from", body.start), ("to", body.end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name}: give a timezone, e.g. 2026-01-01T00:00:00Z")
    if body.monitor_ids is not None:
        owned = set(
            session.scalars(
                select(Monitor.id).where(
                    Monitor.organization_id == principal.organization_id,
                    Monitor.id.in_(body.monitor_ids),
                )
            )
        )
        unknown = [m for m in body.monitor_ids if m not in owned]
        if unknown:
            raise HTTPException(422, f"monitor_ids: unknown monitor(s) {', '.join(unknown)}")
    if body.webhook_url is not None:
        try:
            screen_monitor_target(
                "http", body.webhook_url, allow_private=settings.allow_private_targets
            )
        except TargetError as exc:
            raise HTTPException(422, f"webhook_url: {exc}") from None


@router.post(
    "",
    status_code=202,
    response_model=ExportPublic,
    summary="Start an export (scope reports:read)",
    description=f"kinds: {', '.join(KINDS)}; formats: {', '.join(WRITERS)}. The file is "
    "written in the background; poll GET /exports/{id} for its download_url.",
)
def create(
    body: ExportCreate,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> dict[str, Any]:
    _check_body(body, session, principal, settings)
    now = utcnow()
    end = body.end or now
    start = body.start or end - timedelta(days=30)
    if start >= end:
        raise HTTPException(422, "from: must be before to")
    export = Export(
        organization_id=principal.organization_id,
        kind=body.kind,
        format=body.format,
        from_at=start,
        to_at=end,
        monitor_ids=body.monitor_ids,
        webhook_url=body.webhook_url,
    )
    session.add(export)
    session.flush()
    audit(session, principal, "export.create", "export", export.id, kind=body.kind)
    session.commit()
    background.add_task(
        run_export,
        request.app.state.sessions,
        settings.data_dir,
        export.id,
        timedelta(hours=settings.export_ttl_hours),
    )
    return export_body(request, export)


@router.get(
    "",
    response_model=Page[ExportPublic],
    summary="List exports, newest first (scope reports:read)",
)
def list_exports(
    request: Request, session: SessionDep, principal: Reader, params: PageDep
) -> dict[str, Any]:
    stmt = (
        select(Export)
        .where(Export.organization_id == principal.organization_id)
        .order_by(Export.created_at.desc(), Export.id)
    )
    return paginate(session, stmt, params, lambda e: export_body(request, e))


def _current(session: SessionDep, settings: Any, export_id: str, principal: Principal) -> Export:
    export = get_owned(session, Export, export_id, principal)
    if expire(session, settings.data_dir, export, utcnow()):
        session.commit()
    return export


@router.get(
    "/{export_id}",
    response_model=ExportPublic,
    summary="An export's status and download URL (scope reports:read)",
)
def get(
    export_id: str, request: Request, session: SessionDep, settings: SettingsDep, principal: Reader
) -> dict[str, Any]:
    return export_body(request, _current(session, settings, export_id, principal))


_ERROR_BODY: dict[str, Any] = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
}


@router.get(
    "/{export_id}/download",
    name="download_export",
    summary="Stream an export's file (scope reports:read)",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the file, in the export's format",
            "content": {
                # A file of rows, not a collection of the API: it is never paginated.
                "application/json": {
                    "schema": {"description": "the rows as one JSON array of objects"}
                },
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        409: {"description": "the export is not ready yet", **_ERROR_BODY},
        410: {"description": "the export has expired", **_ERROR_BODY},
    },
)
def download(
    export_id: str, session: SessionDep, settings: SettingsDep, principal: Reader
) -> FileResponse:
    export = _current(session, settings, export_id, principal)
    if export.status == "expired":
        raise HTTPException(410, "this export has expired; start a new one")
    if export.status != "ready" or export.path is None:
        raise HTTPException(409, f"this export is {export.status}, not ready yet")
    writer = WRITERS[export.format]
    return FileResponse(
        settings.data_dir / export.path,
        media_type=writer.media_type,
        filename=f"picket-{export.kind}-{export.id}.{writer.extension}",
    )
