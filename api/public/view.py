"""What a public status page shows, gathered in a few queries: current states, 90 daily
bars per component, incidents and maintenance. No template or HTTP concerns here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from picket.db.models import (
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Monitor,
    MonitorState,
)
from picket.db.models_reports import RollupDay, StatusPage, StatusPageComponent
from picket.db.reports import status_intervals
from picket.db.rollups import DAY, split_interval

DAYS = 90
PAST_INCIDENT_DAYS = 14
MAINTENANCE_AHEAD_DAYS = 14

LABELS = {
    "up": "Operational",
    "degraded": "Degraded performance",
    "down": "Major outage",
    "maintenance": "Under maintenance",
    "paused": "Paused",
    "unknown": "No data yet",
}
BAR_LABELS = {
    "up": "no downtime",
    "degraded": "degraded or brief outage",
    "down": "outage",
    "nodata": "no data",
}


@dataclass
class Bar:
    day: date
    state: str  # up | degraded | down | nodata
    uptime: float | None
    title: str


@dataclass
class ComponentView:
    monitor_id: str
    name: str
    section: str | None
    status: str
    label: str
    uptime: float | None
    bars: list[Bar]


@dataclass
class Section:
    name: str | None
    components: list[ComponentView] = field(default_factory=list)


@dataclass
class PageView:
    page: StatusPage
    status: str  # operational | degraded | partial | major | maintenance | unknown
    headline: str
    sections: list[Section]
    active_incidents: list[dict[str, Any]]
    past_incidents: list[dict[str, Any]]
    maintenance: list[dict[str, Any]]
    generated_at: datetime

    @property
    def components(self) -> list[ComponentView]:
        return [c for s in self.sections for c in s.components]


def overall_status(statuses: list[str]) -> tuple[str, str]:
    if not statuses or all(s == "unknown" for s in statuses):
        return "unknown", "Status not known yet"
    if "down" in statuses:
        if all(s == "down" for s in statuses):
            return "major", "Major outage"
        return "partial", "Partial outage"
    if "degraded" in statuses:
        return "degraded", "Degraded performance"
    if "maintenance" in statuses:
        return "maintenance", "Maintenance in progress"
    return "operational", "All systems operational"


def _bar(
    day: date, checks: int, down_s: float, degraded_s: float, span_s: float, show: bool
) -> Bar:
    if checks == 0 or span_s <= 0:
        return Bar(day, "nodata", None, f"{day:%b %-d, %Y}: no data")
    uptime = max(0.0, 100.0 * (1 - down_s / span_s))
    if uptime < 99.0:
        state = "down"
    elif down_s > 0 or degraded_s > 0:
        state = "degraded"
    else:
        state = "up"
    figure = f"{uptime:.2f}% uptime"
    if down_s:
        figure += f", {down_s / 60:.1f} min down"
    title = f"{day:%b %-d, %Y}: " + (figure if show else BAR_LABELS[state])
    return Bar(day, state, uptime, title)


def _incident(incident: Incident, updates: list[IncidentUpdate]) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "impact": incident.impact,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "updates": [
            {"status": u.status, "message": u.message, "created_at": u.created_at}
            for u in sorted(updates, key=lambda u: u.created_at, reverse=True)
        ],
    }


def _maintenance(
    windows: list[MaintenanceWindow], monitor_ids: set[str], now: datetime
) -> list[dict[str, Any]]:
    horizon = now + timedelta(days=MAINTENANCE_AHEAD_DAYS)
    out = []
    for window in windows:
        if not monitor_ids & set(window.monitor_ids or []):
            continue
        length = timedelta(seconds=window.duration_seconds)
        starts = [window.starts_at]
        if window.rrule:
            try:
                zone = ZoneInfo(window.timezone or "UTC")
            except ZoneInfoNotFoundError:
                zone = ZoneInfo("UTC")
            local = window.starts_at.astimezone(zone)
            try:
                rule = rrulestr(window.rrule, dtstart=local)
            except (ValueError, TypeError):
                continue
            starts = list(
                rule.between((now - length).astimezone(zone), horizon.astimezone(zone), inc=True)
            )[:3]
        for start in starts:
            end = start + length
            if end > now and start < horizon:
                out.append(
                    {
                        "name": window.name,
                        "starts_at": start,
                        "ends_at": end,
                        "active": start <= now,
                    }
                )
    return sorted(out, key=lambda m: m["starts_at"])


def build_view(session: Session, page: StatusPage, now: datetime) -> PageView:
    components = list(
        session.scalars(
            select(StatusPageComponent)
            .join(Monitor, Monitor.id == StatusPageComponent.monitor_id)
            .where(
                StatusPageComponent.page_id == page.id,
                Monitor.organization_id == page.organization_id,
                Monitor.deleted_at.is_(None),
            )
            .order_by(StatusPageComponent.position, StatusPageComponent.id)
        )
    )
    ids = [c.monitor_id for c in components]
    monitors = {m.id: m for m in session.scalars(select(Monitor).where(Monitor.id.in_(ids)))}
    states = {
        s.monitor_id: s.status
        for s in session.scalars(select(MonitorState).where(MonitorState.monitor_id.in_(ids)))
    }
    first_day = DAY.floor(now) - timedelta(days=DAYS - 1)
    checks: dict[tuple[str, datetime], int] = {}
    for monitor_id, bucket, count in session.execute(
        select(RollupDay.monitor_id, RollupDay.bucket, func.sum(RollupDay.checks))
        .where(RollupDay.monitor_id.in_(ids), RollupDay.bucket >= first_day)
        .group_by(RollupDay.monitor_id, RollupDay.bucket)
    ):
        checks[(monitor_id, bucket)] = int(count or 0)
    spans = status_intervals(session, ids, first_day, now, now)

    sections: dict[str | None, Section] = {}
    for component in components:
        monitor = monitors[component.monitor_id]
        seconds: dict[str, dict[datetime, float]] = {
            "down": defaultdict(float),
            "degraded": defaultdict(float),
        }
        for status in seconds:
            for a, b in spans.get(monitor.id, {}).get(status, []):
                for bucket, s in split_interval(DAY, a, b):
                    seconds[status][bucket] += s
        bars = []
        total_span = total_down = 0.0
        for offset in range(DAYS):
            day = first_day + timedelta(days=offset)
            span = (min(day + DAY.step, now) - max(day, monitor.created_at)).total_seconds()
            count = checks.get((monitor.id, day), 0)
            bar = _bar(
                day.date(),
                count,
                seconds["down"][day],
                seconds["degraded"][day],
                span,
                page.show_uptime,
            )
            if bar.state != "nodata":
                total_span += span
                total_down += seconds["down"][day]
            bars.append(bar)
        status = "paused" if monitor.paused else states.get(monitor.id, "unknown")
        uptime = 100.0 * (1 - total_down / total_span) if total_span > 0 else None
        view = ComponentView(
            monitor.id,
            component.name,
            component.section,
            status,
            LABELS.get(status, status),
            uptime if page.show_uptime else None,
            bars,
        )
        sections.setdefault(component.section, Section(component.section)).components.append(view)

    incidents = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.organization_id == page.organization_id,
                Incident.monitor_id.in_(ids),
                or_(
                    Incident.resolved_at.is_(None),
                    Incident.resolved_at >= now - timedelta(days=PAST_INCIDENT_DAYS),
                ),
            )
            .order_by(Incident.started_at.desc())
        )
    )
    updates: dict[str, list[IncidentUpdate]] = defaultdict(list)
    for update in session.scalars(
        select(IncidentUpdate).where(IncidentUpdate.incident_id.in_([i.id for i in incidents]))
    ):
        updates[update.incident_id].append(update)
    windows = list(
        session.scalars(
            select(MaintenanceWindow).where(
                MaintenanceWindow.organization_id == page.organization_id
            )
        )
    )
    status, headline = overall_status(
        [c.status for s in sections.values() for c in s.components if c.status != "paused"]
    )
    return PageView(
        page=page,
        status=status,
        headline=headline,
        sections=list(sections.values()),
        active_incidents=[_incident(i, updates[i.id]) for i in incidents if i.resolved_at is None],
        past_incidents=[
            _incident(i, updates[i.id]) for i in incidents if i.resolved_at is not None
        ],
        maintenance=_maintenance(windows, set(ids), now),
        generated_at=now,
    )


def feed_incidents(session: Session, page: StatusPage, now: datetime) -> list[dict[str, Any]]:
    """Incidents of the page's monitors over the last 90 days, newest first, for the feed."""
    ids = select(StatusPageComponent.monitor_id).where(StatusPageComponent.page_id == page.id)
    incidents = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.organization_id == page.organization_id,
                Incident.monitor_id.in_(ids),
                Incident.started_at >= now - timedelta(days=DAYS),
            )
            .order_by(Incident.started_at.desc())
            .limit(100)
        )
    )
    updates: dict[str, list[IncidentUpdate]] = defaultdict(list)
    for update in session.scalars(
        select(IncidentUpdate).where(IncidentUpdate.incident_id.in_([i.id for i in incidents]))
    ):
        updates[update.incident_id].append(update)
    out = []
    for incident in incidents:
        body = _incident(incident, updates[incident.id])
        body["updated_at"] = max(
            [incident.started_at, incident.resolved_at or incident.started_at]
            + [u["created_at"] for u in body["updates"]]
        )
        out.append(body)
    return out
