"""Maintenance windows: is a monitor inside one at time t?

A window starts at `starts_at` and lasts `duration_seconds`. With an RFC 5545 `rrule`
("FREQ=WEEKLY;BYDAY=SU") it repeats; occurrences follow the wall clock of the window's
`timezone`, so "every Sunday at 02:00 Europe/Paris" stays at 02:00 across DST changes.
A window covers the monitors listed in `monitor_ids`, and only those.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulebase, rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.models import MaintenanceWindow

log = logging.getLogger(__name__)


class InvalidRule(ValueError):
    """The window's rrule or timezone cannot be understood."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRule(f"unknown timezone {name!r}") from exc


@lru_cache(maxsize=1024)
def _rule(text: str, local_start: datetime) -> rrulebase:
    # Windows are re-checked every second; a cached rule remembers the occurrences it has
    # already walked through instead of iterating again from its first one.
    try:
        return rrulestr(text, dtstart=local_start, cache=True)
    except (ValueError, TypeError) as exc:
        raise InvalidRule(f"invalid rrule {text!r}: {exc}") from exc


def occurrence_at(
    starts_at: datetime,
    duration_seconds: int,
    rrule: str | None,
    timezone: str,
    at: datetime,
) -> tuple[datetime, datetime] | None:
    """The occurrence (start, end) in UTC that contains `at`, or None.

    Raises InvalidRule for a rule or timezone that cannot be parsed.
    """
    duration = timedelta(seconds=duration_seconds)
    if not rrule:
        start = starts_at.astimezone(UTC)
        return (start, start + duration) if start <= at < start + duration else None
    zone = _zone(timezone)
    rule = _rule(rrule, starts_at.astimezone(zone))
    # The latest occurrence starting at or before `at` is the only one that can contain it.
    latest = rule.before(at.astimezone(zone), inc=True)
    if latest is None:
        return None
    start = latest.astimezone(UTC)
    return (start, start + duration) if at < start + duration else None


def window_active(window: MaintenanceWindow, at: datetime) -> bool:
    try:
        return (
            occurrence_at(
                window.starts_at, window.duration_seconds, window.rrule, window.timezone, at
            )
            is not None
        )
    except InvalidRule as exc:
        log.warning("maintenance window %s ignored: %s", window.id, exc)
        return False


def monitors_in_maintenance(windows: Iterable[MaintenanceWindow], at: datetime) -> set[str]:
    """Ids of the monitors that an active window covers at `at`."""
    covered: set[str] = set()
    for window in windows:
        if window.monitor_ids and window_active(window, at):
            covered.update(window.monitor_ids)
    return covered


def load_windows(
    session: Session, organization_ids: Iterable[str] | None = None
) -> list[MaintenanceWindow]:
    query = select(MaintenanceWindow)
    if organization_ids is not None:
        query = query.where(MaintenanceWindow.organization_id.in_(list(set(organization_ids))))
    return list(session.scalars(query))


def in_maintenance(session: Session, monitor_id: str, at: datetime) -> bool:
    """Whether a window covers `monitor_id` at `at` (one monitor; for many, load once)."""
    return monitor_id in monitors_in_maintenance(load_windows(session), at)
