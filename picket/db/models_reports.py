"""Rollups of check results, data exports and public status pages (issue 8)."""

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
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from picket.db.models import Base, CheckResult
from picket.db.types import JSONType, UTCDateTime, new_id, utcnow

# Retention prunes raw results by time alone, across monitors.
Index("ix_check_results_scheduled_at", CheckResult.scheduled_at)


class RollupColumns:
    """One bucket of one monitor in one region.

    `downtime_s` is time, not a count: the region is down from a failing result until its
    next result (see picket.collector.rollups). `histogram` is a mergeable latency summary:
    fixed logarithmic buckets, {"<index>": count} (see picket.collector.rollups.LatencyHistogram).
    """

    monitor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    downtime_s: Mapped[float] = mapped_column(Float, default=0.0)
    latency_count: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    histogram: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # Retention and organization-wide summaries scan by time.
        return (Index(f"ix_{cls.__tablename__}_bucket", "bucket"),)


class RollupMinute(RollupColumns, Base):
    __tablename__ = "rollups_minute"


class RollupHour(RollupColumns, Base):
    __tablename__ = "rollups_hour"


class RollupDay(RollupColumns, Base):
    __tablename__ = "rollups_day"


class RollupDayTotal(Base):
    """A monitor's day over all its regions, without histogram or downtime: a narrow table
    that organization-wide summaries scan several times faster than rollups_day."""

    __tablename__ = "rollups_day_totals"
    __table_args__ = (Index("ix_rollups_day_totals_bucket", "bucket"),)

    monitor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_count: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_max: Mapped[float | None] = mapped_column(Float, nullable=True)


class Export(Base):
    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_org_created", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # checks | incidents | uptime
    kind: Mapped[str] = mapped_column(String(16))
    # csv | json | ndjson
    format: Mapped[str] = mapped_column(String(16))
    from_at: Mapped[datetime] = mapped_column(UTCDateTime())
    to_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # NULL: every monitor of the organization.
    monitor_ids: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # pending | running | ready | failed | expired
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Relative to the data dir.
    path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class StatusPage(Base):
    __tablename__ = "status_pages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Lower-case host name without port; one page per domain across all organizations.
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True, nullable=True)
    show_uptime: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StatusPageComponent(Base):
    __tablename__ = "status_page_components"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page_id: Mapped[str] = mapped_column(
        ForeignKey("status_pages.id", ondelete="CASCADE"), index=True
    )
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(200), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
