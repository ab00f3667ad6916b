"""API key and organization bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from picket.api.auth import ADMIN, SCOPES, SHORTHANDS

SCOPE_HELP = (
    "any of " + ", ".join(SCOPES) + f"; shorthands {', '.join(SHORTHANDS)}; `{ADMIN}` only "
    "from an admin key"
)


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "dashboard", "scopes": ["read_only"]}]},
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=20, description=SCOPE_HELP)


class KeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(BaseModel):
    key: KeyPublic
    raw_key: str = Field(description="the key itself: shown this once, stored only as a hash")


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Acme"}]})

    name: str = Field(min_length=1, max_length=200)


class OrganizationPublic(BaseModel):
    id: str
    name: str
    created_at: datetime


class OrganizationCreated(BaseModel):
    organization: OrganizationPublic
    raw_key: str = Field(description="the organization's first `full` key, shown this once")
