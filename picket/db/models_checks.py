"""Tables of the check kinds: heartbeat (push) monitors and certificate-expiry notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from picket.db.models import Base
from picket.db.types import UTCDateTime, utcnow


class Heartbeat(Base):
    """A push monitor's token and clock. The API records pings; the collector turns pings
    and missed deadlines into check results (region "push")."""

    __tablename__ = "heartbeats"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "ok" or "fail" (a ping to /fail).
    last_ping_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    last_ping_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last ping already turned into a result.
    processed_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the next ping is overdue (expected time + grace); NULL until the first ping.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TlsExpiryNotice(Base):
    """An `ssl.expiring` event already emitted for a monitor at a threshold (in days)."""

    __tablename__ = "tls_expiry_notices"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    threshold_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    days_left: Mapped[int] = mapped_column(Integer)
    not_after: Mapped[str | None] = mapped_column(String(40), nullable=True)
    emitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
