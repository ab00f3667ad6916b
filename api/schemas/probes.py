"""Probe and maintenance window bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from picket.api.schemas.common import Timestamp

REGION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class ProbeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "fra-1", "region": "eu-west"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    region: str = Field(pattern=REGION_PATTERN, description="created if new, e.g. `eu-west`")


class ProbePublic(BaseModel):
    id: str
    name: str
    region: str
    token_prefix: str
    version: str | None
    hostname: str | None
    status: Literal["live", "offline", "revoked"]
    live: bool
    unhealthy: bool
    unhealthy_since: datetime | None
    last_seen_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    shared: bool = Field(description="a probe of the operator that checks every organization")


class ProbeToken(BaseModel):
    id: str
    region: str
    token: str = Field(description="shown this once; Picket keeps only its hash")
    command: str = Field(description="the one line that starts this probe")


class ProbeCreated(ProbePublic, ProbeToken):
    pass


class WindowBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    monitor_ids: list[str] = Field(
        min_length=1, max_length=500, description="the monitors it covers (only those)"
    )
    starts_at: Timestamp
    duration_seconds: int = Field(ge=60, le=31 * 86400)
    rrule: str | None = Field(
        default=None, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU"
    )
    timezone: str = Field(default="UTC", max_length=64, description="IANA name for the RRULE")


_WINDOW_EXAMPLE = {
    "name": "Sunday database upgrade",
    "monitor_ids": ["<monitor_id>"],
    "starts_at": "2026-12-06T02:00:00Z",
    "duration_seconds": 3600,
    "rrule": "FREQ=WEEKLY;BYDAY=SU",
    "timezone": "Europe/Berlin",
}


class WindowCreate(WindowBase):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_WINDOW_EXAMPLE]})


class WindowUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"duration_seconds": 7200}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    monitor_ids: list[str] | None = Field(default=None, min_length=1, max_length=500)
    starts_at: Timestamp | None = None
    duration_seconds: int | None = Field(default=None, ge=60, le=31 * 86400)
    rrule: str | None = Field(default=None, max_length=500)
    timezone: str | None = Field(default=None, max_length=64)


class WindowPublic(BaseModel):
    id: str
    name: str
    monitor_ids: list[str]
    starts_at: datetime
    duration_seconds: int
    rrule: str | None
    timezone: str
    active: bool = Field(description="an occurrence is under way now")
    next_start: datetime | None = Field(description="the next occurrence after now, if any")
    created_at: datetime
    updated_at: datetime
