"""/api/v1/heartbeat/{token}: pings from the jobs heartbeat monitors watch (no API key)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from picket.api.deps import SessionDep
from picket.db.heartbeats import record_ping
from picket.db.types import utcnow

router = APIRouter(prefix="/heartbeat", tags=["heartbeat"])
MAX_MESSAGE_BYTES = 1000


async def _ping(request: Request, session: SessionDep, token: str, failed: bool) -> dict[str, str]:
    # A job may say why it failed (or what it did) in the request body.
    body = await request.body() if request.method == "POST" else b""
    message = body[:MAX_MESSAGE_BYTES].decode(errors="replace").strip()
    if not record_ping(session, token, utcnow(), failed, message):
        raise HTTPException(404, "unknown heartbeat token")
    session.commit()
    return {"status": "fail" if failed else "ok"}


@router.get("/{token}", operation_id="heartbeat_ping_get", summary="Record a ping (no API key)")
@router.post("/{token}", operation_id="heartbeat_ping_post", summary="Record a ping (no API key)")
async def ping(token: str, request: Request, session: SessionDep) -> dict[str, str]:
    return await _ping(request, session, token, failed=False)


@router.get(
    "/{token}/fail",
    operation_id="heartbeat_fail_get",
    summary="Report an explicit failure of the job (no API key)",
)
@router.post(
    "/{token}/fail",
    operation_id="heartbeat_fail_post",
    summary="Report an explicit failure of the job; the body may say why (no API key)",
)
async def fail(token: str, request: Request, session: SessionDep) -> dict[str, str]:
    return await _ping(request, session, token, failed=True)
