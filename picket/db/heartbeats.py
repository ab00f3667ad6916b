"""Heartbeat (push) monitors: tokens, pings, and the deadlines the collector enforces.

The API only records pings (`record_ping`). The collector (collector/heartbeats.py) turns
each new ping, and each deadline passed without one, into a check result for the region
"push", so push monitors go through the same result processing as every other kind.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.models import Monitor
from picket.db.models_checks import Heartbeat

PUSH_REGION = "push"
PUSH_PROBE = "push"


def new_token() -> str:
    return "hb_" + secrets.token_urlsafe(24)


def create_heartbeat(session: Session, monitor_id: str) -> Heartbeat:
    heartbeat = Heartbeat(monitor_id=monitor_id, token=new_token())
    session.add(heartbeat)
    session.flush()
    return heartbeat


def heartbeat_token(session: Session, monitor_id: str) -> str | None:
    return session.scalar(select(Heartbeat.token).where(Heartbeat.monitor_id == monitor_id))


def record_ping(session: Session, token: str, at: datetime, failed: bool, message: str) -> bool:
    """Store a ping for the token's monitor; False when no live monitor has the token."""
    heartbeat = session.scalar(
        select(Heartbeat)
        .join(Monitor, Monitor.id == Heartbeat.monitor_id)
        .where(Heartbeat.token == token, Monitor.deleted_at.is_(None))
    )
    if heartbeat is None:
        return False
    heartbeat.last_ping_at = at
    heartbeat.last_ping_kind = "fail" if failed else "ok"
    heartbeat.last_ping_message = message[:1000] or None
    session.flush()
    return True


@dataclass(frozen=True)
class Schedule:
    """When pings are expected: every `interval_s`, or at each time of a cron expression."""

    interval_s: int
    grace_s: int
    cron: str | None = None
    timezone: str = "UTC"

    @classmethod
    def of(cls, monitor: Monitor) -> Schedule:
        spec = monitor.spec or {}
        return cls(
            interval_s=monitor.interval_seconds,
            grace_s=int(spec.get("grace_seconds", 300)),
            cron=spec.get("cron"),
            timezone=spec.get("timezone") or "UTC",
        )

    def next_expected(self, after: datetime) -> datetime:
        if self.cron is None:
            return after + timedelta(seconds=self.interval_s)
        local = after.astimezone(ZoneInfo(self.timezone))
        following: datetime = croniter(self.cron, local).get_next(datetime)
        return following.astimezone(after.tzinfo)

    def deadline_after_ping(self, ping_at: datetime) -> datetime:
        return self.next_expected(ping_at) + timedelta(seconds=self.grace_s)

    def deadline_after_miss(self, deadline: datetime) -> datetime:
        return self.next_expected(deadline - timedelta(seconds=self.grace_s)) + timedelta(
            seconds=self.grace_s
        )

    def latest_deadline(self, deadline: datetime, now: datetime) -> datetime:
        """The last deadline of the series starting at `deadline` that is not after now."""
        if self.cron is None:
            behind = (now - deadline) // timedelta(seconds=self.interval_s)
            return deadline + behind * timedelta(seconds=self.interval_s)
        expected = (now - timedelta(seconds=self.grace_s)).astimezone(ZoneInfo(self.timezone))
        previous: datetime = croniter(self.cron, expected).get_prev(datetime)
        return max(deadline, previous.astimezone(deadline.tzinfo) + timedelta(seconds=self.grace_s))

    def describe(self) -> str:
        every = (
            f"cron '{self.cron}' ({self.timezone})" if self.cron else f"every {self.interval_s}s"
        )
        return f"{every} + {self.grace_s}s grace"


def _row(monitor: Monitor, at: datetime, ok: bool, **fields: Any) -> dict[str, Any]:
    return {
        "monitor_id": monitor.id,
        "monitor_version": monitor.version,
        "region": PUSH_REGION,
        "probe_id": PUSH_PROBE,
        "scheduled_at": at,
        "started_at": at,
        "ok": ok,
        "error_kind": None,
        "error": None,
        "status_code": None,
        "latency_ms": None,
        "timings": {},
        "detail": None,
        "attempts": 1,
        "check_now_id": None,
        **fields,
    }


def due_results(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Result rows for new pings and passed deadlines, moving each heartbeat's clock on.

    Rows are deterministic (a ping's time, a deadline's time), so two collectors doing
    this at once produce the same rows and the store keeps one of each.
    """
    rows: list[dict[str, Any]] = []
    pairs = session.execute(
        select(Heartbeat, Monitor)
        .join(Monitor, Monitor.id == Heartbeat.monitor_id)
        .where(Monitor.deleted_at.is_(None), Monitor.paused.is_(False))
    ).all()
    for heartbeat, monitor in pairs:
        schedule = Schedule.of(monitor)
        ping = heartbeat.last_ping_at
        if ping is not None and (
            heartbeat.processed_ping_at is None or ping > heartbeat.processed_ping_at
        ):
            rows.append(_ping_row(monitor, heartbeat, ping))
            heartbeat.processed_ping_at = ping
            heartbeat.deadline_at = schedule.deadline_after_ping(ping)
        if heartbeat.deadline_at is not None and heartbeat.deadline_at <= now:
            # One failing result per pass: for the latest deadline passed (a collector that
            # was away does not record every deadline it slept through).
            deadline = schedule.latest_deadline(heartbeat.deadline_at, now)
            heartbeat.deadline_at = schedule.deadline_after_miss(deadline)
            since = ping.isoformat(timespec="seconds") if ping else "never"
            rows.append(
                _row(
                    monitor,
                    deadline,
                    False,
                    error_kind="timeout",
                    error=f"no ping since {since}; expected {schedule.describe()}",
                    detail={"missed_deadline": deadline.isoformat(), "last_ping_at": since},
                )
            )
    session.flush()
    return rows


def _ping_row(monitor: Monitor, heartbeat: Heartbeat, ping: datetime) -> dict[str, Any]:
    message = heartbeat.last_ping_message
    if heartbeat.last_ping_kind == "fail":
        return _row(
            monitor,
            ping,
            False,
            error_kind="status",
            error="the job reported a failure" + (f": {message}" if message else ""),
            detail={"ping": "fail", "message": message},
        )
    return _row(monitor, ping, True, detail={"ping": "ok", "message": message})
