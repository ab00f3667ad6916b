"""/healthz, /readyz and /metrics for the operator; /api/v1/metrics for users' Grafana."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from picket.api.auth import Principal
from picket.api.deps import require
from picket.metrics import CONTENT_TYPE_LATEST, DatabaseStateCollector, render

router = APIRouter(tags=["operations"])


async def healthz(_request: Request) -> JSONResponse:
    """The process is alive (no dependencies checked)."""
    return JSONResponse({"status": "ok"})


def _database_ok(request: Request) -> bool:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers (503 naming the failing check otherwise)."""
    # The API needs only its database; NATS and the collector being away must not take
    # the API out of a load balancer, since every read and write still works without them.
    ok = await asyncio.to_thread(_database_ok, request)
    checks = {"database": "ok" if ok else "unreachable"}
    return JSONResponse(
        status_code=200 if ok else 503,
        content={"status": "ready" if ok else "not ready", "checks": checks},
    )


async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process and the operator's totals (no monitor data)."""
    state = DatabaseStateCollector(
        request.app.state.sessions, request.app.state.settings.ping_interval_s
    )
    body = await asyncio.to_thread(render, state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# The operator's endpoints are plain routes: no API key, and not part of the REST API's
# OpenAPI document (load balancers and Prometheus call them, not API clients).
for _path, _endpoint in (("/healthz", healthz), ("/readyz", readyz), ("/metrics", metrics)):
    router.add_route(_path, _endpoint, methods=["GET"], include_in_schema=False)


@router.get(
    "/api/v1/metrics",
    summary="Prometheus gauges of your monitors: picket_monitor_up{monitor,region}, "
    "picket_monitor_latency_ms (scope monitors:read; use the key as the scrape bearer token)",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def monitor_metrics(
    request: Request, principal: Annotated[Principal, Depends(require("monitors:read"))]
) -> Response:
    state = DatabaseStateCollector(
        request.app.state.sessions,
        request.app.state.settings.ping_interval_s,
        organization_id=principal.organization_id,
    )
    return Response(render(state, include_process=False), media_type=CONTENT_TYPE_LATEST)
