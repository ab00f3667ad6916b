"""Incident bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from picket.api.schemas.common import Timestamp

IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
Impact = Literal["none", "minor", "major", "critical"]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Checkout errors in Europe",
                    "description": "Payments fail for some customers.",
                    "status": "identified",
                    "impact": "major",
                    "monitor_ids": ["<monitor_id>"],
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    status: IncidentStatus = "investigating"
    impact: Impact = "major"
    monitor_ids: list[str] = Field(default_factory=list, max_length=100)
    started_at: Timestamp | None = Field(default=None, description="default: now")


class IncidentUpdateCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "monitoring", "message": "A fix is deployed; watching."}]
        },
    )

    status: IncidentStatus
    message: str = Field(min_length=1, max_length=10_000)


class ResolveBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"message": "Fixed by a rollback."}]}
    )

    message: str = Field(default="Resolved.", min_length=1, max_length=10_000)


class BulkIds(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": ["<incident_id>"]}]},
    )

    ids: list[str] = Field(min_length=1, max_length=100)


class BulkResolve(BulkIds):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": ["<incident_id>"], "message": "All clear."}]},
    )

    message: str = Field(default="Resolved.", min_length=1, max_length=10_000)


class Skipped(BaseModel):
    id: str
    reason: str


class BulkResult(BaseModel):
    updated: list[str]
    skipped: list[Skipped]


class IncidentUpdatePublic(BaseModel):
    status: str
    message: str
    automatic: bool
    created_at: datetime


class TransitionPublic(BaseModel):
    monitor_id: str
    from_status: str
    to_status: str
    at: datetime
    regions: dict[str, Any]


class IncidentPublic(BaseModel):
    id: str
    monitor_id: str | None
    monitor_ids: list[str]
    title: str
    description: str | None
    status: str
    impact: str
    automatic: bool
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    regions: dict[str, Any]
    updates: list[IncidentUpdatePublic]


class IncidentDetail(IncidentPublic):
    transitions: list[TransitionPublic] = Field(
        description="state changes of its monitors while the incident was open"
    )
