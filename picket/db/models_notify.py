"""Notification tables: channels, routing rules, escalation policies, deliveries and the
state of running escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from picket.db.models import Base, Event
from picket.db.types import BigIntPK, JSONType, UTCDateTime, new_id, utcnow


class NotificationChannel(Base):
    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # A key of picket.collector.notify.channels.CHANNELS.
    type: Mapped[str] = mapped_column(String(32))
    # The non-secret settings only; the API may show them.
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The secret settings (tokens, passwords, signing secrets) as one sealed blob
    # (collector.notify.secretbox); never returned by the API.
    sealed_secrets: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by a permanent delivery error (404, revoked token); cleared by a config change
    # or a successful test.
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    failing_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # [{"delay_minutes": 0, "channel_ids": [...]}, ...]; delays count from the trigger.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # NULL: no repeat. Otherwise, after the last step, everyone notified is notified again
    # every N minutes until the incident is acknowledged or resolved.
    repeat_every_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NotificationRule(Base):
    __tablename__ = "notification_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # NULL (and tags NULL): every monitor. Both given: a monitor matching either.
    monitor_ids: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    channel_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    escalation_policy_id: Mapped[str | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), nullable=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Escalation(Base):
    """One escalation policy running for one outage (an incident, or a monitor's down spell)."""

    __tablename__ = "notification_escalations"
    __table_args__ = (Index("ix_notification_escalations_due", "status", "next_fire_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[str] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True
    )
    # The event that started it; every step re-sends it.
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    monitor_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # active | acknowledged | resolved
    status: Mapped[str] = mapped_column(String(16), default="active")
    # 0-based index of the next step to fire; len(steps) once all have fired.
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    notified_channel_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Delivery(Base):
    """One message to one channel. Written before the first attempt, updated after each."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_org_time", "organization_id", "created_at"),
        Index("ix_notification_deliveries_channel_status", "channel_id", "status"),
        Index("ix_notification_deliveries_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    # NULL for a test message.
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # The event's stable id, the one receivers dedupe by.
    event_uid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event_type: Mapped[str] = mapped_column(String(32))
    # event | escalation | repeat | resolution | test
    reason: Mapped[str] = mapped_column(String(16), default="event")
    escalation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalation_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Routing writes each message once: a second dispatcher inserting the same key fails.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # pending | sending | retrying | delivered | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # While status is "sending": a worker that has not recorded the outcome by then crashed.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# The worker polls the outbox for undispatched events every second.
Index("ix_events_dispatched_at", Event.dispatched_at)
