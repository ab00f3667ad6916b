"""The database schema. Alembic migrations under picket/migrations create exactly this."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from picket.db.types import BigIntPK, JSONType, UTCDateTime, new_id, utcnow


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # First characters of the key, shown in lists so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Region(Base):
    __tablename__ = "regions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Probe(Base):
    __tablename__ = "probes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # NULL: a shared probe that checks every organization's monitors in its region.
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(ForeignKey("regions.name"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clock_skew_ms: Mapped[int] = mapped_column(Integer, default=0)
    unhealthy: Mapped[bool] = mapped_column(Boolean, default=False)
    unhealthy_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Monitor(Base):
    __tablename__ = "monitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    # NULL: every region.
    regions: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    # NULL: a majority of the monitor's regions.
    min_failing_regions: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confirmation_period_s: Mapped[int] = mapped_column(Integer, default=0)
    recovery_period_s: Mapped[int] = mapped_column(Integer, default=0)
    incident_on_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_target: Mapped[float | None] = mapped_column(Float, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=1)
    retry_delay_ms: Mapped[int] = mapped_column(Integer, default=1000)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Kind-specific settings, stored under the kind's name as the API receives them.
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumps on every change the probes must see; results carry the version they ran.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MonitorState(Base):
    __tablename__ = "monitor_states"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    region_status: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # The regions' verdict (up/degraded/down/unknown) under any pause or maintenance shown
    # in `status`, and the verdict waiting out a confirmation or recovery period.
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    pending_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_result_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CheckResult(Base):
    __tablename__ = "check_results"
    __table_args__ = (
        # One row per monitor, region and scheduled slot: resends are stored once.
        UniqueConstraint("monitor_id", "region", "scheduled_at", name="uq_check_results_slot"),
        Index("ix_check_results_monitor_time", "monitor_id", "scheduled_at"),
        Index("ix_check_results_monitor_region_time", "monitor_id", "region", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(String(32))
    monitor_version: Mapped[int] = mapped_column(Integer, default=0)
    region: Mapped[str] = mapped_column(String(64))
    probe_id: Mapped[str] = mapped_column(String(32))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    timings: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    check_now_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StateTransition(Base):
    """Every change of a monitor's state, with the regions and errors behind it."""

    __tablename__ = "state_transitions"
    __table_args__ = (Index("ix_state_transitions_monitor_time", "monitor_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # Decision time: the scheduled time of the results that decided it, not the write time.
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {"us-east": {"ok": false, "error_kind": "connect", "error": "...", "result_id": 1}, ...}
    regions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_org_started", "organization_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # NULL for an incident created by hand that names no monitor.
    monitor_id: Mapped[str | None] = mapped_column(
        ForeignKey("monitors.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Every monitor the incident affects (a manual incident may name several).
    monitor_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # investigating | identified | monitoring | resolved
    status: Mapped[str] = mapped_column(String(16), default="investigating")
    # none | minor | major | critical
    impact: Mapped[str] = mapped_column(String(16), default="major")
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    regions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IncidentUpdate(Base):
    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Event(Base):
    """The durable event outbox: written in the same transaction as the change it reports;
    notification delivery reads it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_org_time", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # A stable id receivers can dedupe by.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    # monitor.down | monitor.up | monitor.degraded | ssl.expiring | incident.created |
    # incident.updated | incident.resolved | probe.unhealthy
    type: Mapped[str] = mapped_column(String(32), index=True)
    monitor_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    probe_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set once notification routing has turned the event into deliveries.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    monitor_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Length of each occurrence.
    duration_seconds: Mapped[int] = mapped_column(Integer)
    # An RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=SU"); NULL for a one-off window.
    rrule: Mapped[str | None] = mapped_column(String(500), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_time", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
