"""/api/v1/reports: uptime, downtime, incidents, MTTR, latency and SLA from rollups."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from picket.api.auth import Principal
from picket.api.deps import SessionDep, get_owned, require
from picket.db.models import Monitor
from picket.db.reports import RangeError, align_range, period_range, summary_report, uptime_report
from picket.db.types import utcnow
from picket.formats import WRITERS

router = APIRouter(prefix="/reports", tags=["reports"])

Reader = Annotated[Principal, Depends(require("reports:read"))]
Format = Literal["json", "csv"]
# format=csv answers a file instead of the JSON body.
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

REPORT_COLUMNS = [
    "scope",
    "uptime_percent",
    "downtime_seconds",
    "downtime_minutes",
    "checks",
    "failures",
    "incidents",
    "mttr_seconds",
    "latency_avg_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "sla_target",
    "sla_met",
]


def resolve_range(
    period: str | None, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    try:
        if start is None and end is None:
            start, end = period_range(period or "30d", now)
        elif period is not None:
            raise RangeError("period: give either period or from/to, not both")
        elif start is None:
            raise RangeError("from: required when to is given")
        return align_range(start, end or now, now)
    except RangeError as exc:
        raise HTTPException(422, str(exc)) from None


def flat(scope: str, body: dict[str, Any]) -> dict[str, Any]:
    latency = body["latency_ms"]
    return {
        **body,
        "scope": scope,
        "latency_avg_ms": latency.get("avg"),
        "latency_p95_ms": latency.get("p95"),
        "latency_p99_ms": latency.get("p99"),
        "sla_target": body["sla"]["target"],
        "sla_met": body["sla"]["met"],
    }


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot encode {type(value).__name__}")


def json_response(body: dict[str, Any]) -> Response:
    """Encoded directly: FastAPI's generic encoder is slow for thousands of monitors."""
    return Response(json.dumps(body, default=_encode), media_type="application/json")


def csv_response(columns: list[str], rows: list[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    WRITERS["csv"].write(buffer, columns, ([row.get(c) for c in columns] for row in rows))
    return Response(
        buffer.getvalue(),
        media_type=WRITERS["csv"].media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/uptime",
    responses={
        **CSV_TOO,
        404: {
            "description": "no such monitor in this organization",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    },
    summary="Uptime, downtime, incidents, MTTR, latency and SLA of one monitor "
    "(scope reports:read)",
    description="Overall figures follow the consensus between regions (state transitions); "
    "each region's figures follow that region's own results. `period` (e.g. 30d: the 30 UTC "
    "days ending today; 24h) or `from`/`to`. Edges are rounded to the minute (to the hour "
    "beyond 7 days, the day beyond 90 days). Latency percentiles are within 1 % of the true "
    "value. `granularity=hour` series are kept for 90 days. `region` limits the per-region "
    "figures, the checks and latency of `overall`, and the series to that region.",
)
def uptime(
    session: SessionDep,
    principal: Reader,
    monitor_id: str,
    period: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    granularity: Literal["hour", "day"] = "day",
    region: str | None = None,
    format: Format = "json",
) -> Any:
    monitor = get_owned(session, Monitor, monitor_id, principal)
    now = utcnow()
    start, end = resolve_range(period, start, end, now)
    report = uptime_report(session, monitor, start, end, now, granularity, region)
    if format == "csv":
        rows = [flat("overall", report["overall"])]
        rows += [flat(name, body) for name, body in report["regions"].items()]
        return csv_response(REPORT_COLUMNS, rows, f"uptime-{monitor.id}.csv")
    return json_response(report)


SUMMARY_COLUMNS = ["monitor_id", "name", *REPORT_COLUMNS[1:]]


@router.get(
    "/summary",
    responses=CSV_TOO,
    summary="Uptime of every monitor of the organization in one call (scope reports:read)",
)
def summary(
    session: SessionDep,
    principal: Reader,
    period: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    format: Format = "json",
) -> Any:
    now = utcnow()
    start, end = resolve_range(period, start, end, now)
    data = summary_report(session, principal.organization_id, start, end, now)
    if format == "csv":
        rows = [flat("overall", body) for body in data]
        return csv_response(SUMMARY_COLUMNS, rows, "uptime-summary.csv")
    return json_response({"from": start, "to": end, "data": data})
