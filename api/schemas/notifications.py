"""Notification bodies: channels, rules, escalation policies, deliveries.

Channel secrets are accepted in `config` and never appear in any Public schema: a
channel shows which secret fields are set, not their values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EventType = Literal[
    "monitor.down",
    "monitor.up",
    "monitor.degraded",
    "ssl.expiring",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "probe.unhealthy",
]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ops webhook",
                    "type": "webhook",
                    "config": {"url": "https://hooks.example.com/picket", "secret": "s3cret"},
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(
        description="email | slack | discord | teams | telegram | pagerduty | opsgenie | "
        "ntfy | webhook"
    )
    config: dict[str, Any] = Field(
        description="the type's settings; secrets (passwords, tokens, webhook URLs of chat "
        "services, signing secrets) are write-only"
    )
    enabled: bool = True


class ChannelUpdate(BaseModel):
    """PATCH: only what is sent changes. In `config`, omitted keys keep their value (secrets
    included); a key sent as null clears an optional setting."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Ops (paging)", "enabled": True}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    enabled: bool | None = None


class ChannelPublic(BaseModel):
    id: str
    name: str
    type: str
    config: dict[str, Any] = Field(description="the non-secret settings")
    secret_fields_set: list[str] = Field(description="secret settings that hold a value")
    enabled: bool
    failing: bool
    failing_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryPublic(BaseModel):
    id: int
    channel_id: str
    event_id: str | None = Field(description="the event's stable id (X-Picket-Event-Id)")
    event_type: str
    reason: str = Field(description="event | escalation | repeat | resolution | test")
    escalation_step: int | None
    status: str = Field(description="pending | sending | retrying | delivered | failed")
    attempts: int
    last_error: str | None
    error_permanent: bool
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class ChannelTestResult(BaseModel):
    ok: bool
    error: str | None = None
    permanent: bool | None = Field(
        default=None, description="true when retrying cannot help (bad URL, revoked token)"
    )
    delivery: DeliveryPublic


class RuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "prod outages",
                    "events": ["monitor.down", "monitor.up"],
                    "tags": ["prod"],
                    "channel_ids": ["<channel_id>"],
                    "escalation_policy_id": "<policy_id>",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    events: list[EventType] = Field(min_length=1)
    channel_ids: list[str] = Field(default_factory=list, max_length=50)
    monitor_ids: list[str] | None = Field(
        default=None, description="only these monitors (with tags: a monitor matching either)"
    )
    tags: list[str] | None = Field(default=None, description="only monitors with one of these")
    escalation_policy_id: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _has_a_target(self) -> RuleCreate:
        if not self.channel_ids and not self.escalation_policy_id:
            raise ValueError("give channel_ids, an escalation_policy_id, or both")
        return self


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    events: list[EventType] | None = Field(default=None, min_length=1)
    channel_ids: list[str] | None = Field(default=None, max_length=50)
    monitor_ids: list[str] | None = None
    tags: list[str] | None = None
    escalation_policy_id: str | None = None
    enabled: bool | None = None


class RulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    events: list[str]
    channel_ids: list[str]
    monitor_ids: list[str] | None
    tags: list[str] | None
    escalation_policy_id: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_minutes: int = Field(
        default=0,
        ge=0,
        le=7 * 24 * 60,
        description="minutes after the previous step, if nobody acknowledged; step 1 fires at once",
    )
    channel_ids: list[str] = Field(min_length=1, max_length=50)


class PolicyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "on-call",
                    "steps": [
                        {"delay_minutes": 0, "channel_ids": ["<channel_id>"]},
                        {"delay_minutes": 15, "channel_ids": ["<channel_id>"]},
                    ],
                    "repeat_every_minutes": 30,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    steps: list[EscalationStep] = Field(min_length=1, max_length=20)
    repeat_every_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="after the last step, notify everyone again every N minutes until "
        "acknowledged or resolved",
    )


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"repeat_every_minutes": 60}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    steps: list[EscalationStep] | None = Field(default=None, min_length=1, max_length=20)
    repeat_every_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


class PolicyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    steps: list[EscalationStep]
    repeat_every_minutes: int | None
    created_at: datetime
    updated_at: datetime


DeliveryStatus = Literal["pending", "sending", "retrying", "delivered", "failed"]
