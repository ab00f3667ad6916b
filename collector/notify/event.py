"""The complete, read-only message a channel is handed: built from an outbox event once,
so no channel reaches back into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# What an event means to a paging service: open (trigger) or close (resolve) an alert.
TRIGGERS = frozenset({"monitor.down", "incident.created", "probe.unhealthy"})
RECOVERIES = frozenset({"monitor.up", "incident.resolved"})

EVENT_TYPES = (
    "monitor.down",
    "monitor.up",
    "monitor.degraded",
    "ssl.expiring",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "probe.unhealthy",
)

_HEADLINES = {
    "monitor.down": "is DOWN",
    "monitor.up": "is back UP",
    "monitor.degraded": "is DEGRADED",
    "ssl.expiring": "has a TLS certificate expiring soon",
    "incident.created": "has a new incident",
    "incident.updated": "has an incident update",
    "incident.resolved": "incident resolved",
    "probe.unhealthy": "is unhealthy: its results are set aside",
}


_INCIDENT_HEADLINES = {
    "incident.created": "New incident",
    "incident.updated": "Incident update",
    "incident.resolved": "Incident resolved",
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class NotifyEvent:
    uid: str
    type: str
    monitor: dict[str, Any]
    incident: dict[str, Any] | None
    regions: dict[str, dict[str, Any]]
    timestamp: str
    # Where a human can look at the incident (the API), when there is one.
    incident_url: str | None = None
    # Anything else the event carried (ssl expiry days, probe id...), passed on as is.
    extra: dict[str, Any] = field(default_factory=dict)
    # Set when an escalation policy re-sends the event at a later step.
    escalation_step: int | None = None
    test: bool = False

    @classmethod
    def from_outbox(
        cls,
        *,
        uid: str,
        type: str,
        payload: dict[str, Any] | None,
        created_at: datetime,
        monitor_id: str | None = None,
        incident_id: str | None = None,
        api_public_url: str = "",
    ) -> NotifyEvent:
        """Read the outbox payload defensively: every part of it may be missing."""
        payload = _dict(payload)
        monitor = _dict(payload.get("monitor"))
        probe = _dict(payload.get("probe"))
        # A probe's health event names no monitor: the probe is what it is about.
        fallback = (
            f"Probe {probe.get('name') or probe.get('id')} ({probe.get('region') or '?'})"
            if probe
            else monitor_id or _str(_dict(payload.get("incident")).get("title")) or "unknown"
        )
        # Some producers (the TLS expiry check) write the monitor flat, not as an object.
        monitor = {
            "id": _str(monitor.get("id")) or _str(payload.get("monitor_id")) or monitor_id,
            "name": _str(monitor.get("name")) or _str(payload.get("monitor_name")) or fallback,
            "url": _str(monitor.get("url")) or _str(payload.get("host")),
            "type": _str(monitor.get("type")),
        }
        incident = _dict(payload.get("incident")) or None
        if incident is None and incident_id:
            incident = {"id": incident_id}
        regions = {
            str(region): {
                "ok": bool(_dict(vote).get("ok", False)),
                "error_kind": _str(_dict(vote).get("error_kind")),
                "error": _str(_dict(vote).get("error")),
            }
            for region, vote in _dict(payload.get("regions")).items()
        }
        incident_url = None
        if incident and incident.get("id") and api_public_url:
            incident_url = f"{api_public_url.rstrip('/')}/api/v1/incidents/{incident['id']}"
        known = {
            "event",
            "type",
            "monitor",
            "incident",
            "regions",
            "timestamp",
            "monitor_id",
            "monitor_name",
            "host",
        }
        return cls(
            uid=uid,
            type=type,
            monitor=monitor,
            incident=incident,
            regions=regions,
            timestamp=_str(payload.get("timestamp")) or created_at.isoformat(),
            incident_url=incident_url,
            extra={k: v for k, v in payload.items() if k not in known},
        )

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGERS

    @property
    def is_recovery(self) -> bool:
        return self.type in RECOVERIES

    @property
    def alert_key(self) -> str:
        """Same for the trigger and the recovery of one outage: paging services' dedup key."""
        if self.incident and self.incident.get("id"):
            return f"picket-incident-{self.incident['id']}"
        if self.monitor.get("id"):
            return f"picket-monitor-{self.monitor['id']}"
        probe = _dict(self.extra.get("probe"))
        if probe.get("id"):
            return f"picket-probe-{probe['id']}"
        return f"picket-event-{self.uid}"

    @property
    def failing_regions(self) -> dict[str, dict[str, Any]]:
        return {r: v for r, v in self.regions.items() if not v["ok"]}

    def title(self) -> str:
        prefix = "[TEST] " if self.test else ""
        step = f" (escalation step {self.escalation_step})" if self.escalation_step else ""
        incident_title = (self.incident or {}).get("title")
        if self.type in _INCIDENT_HEADLINES and incident_title and not self.monitor.get("id"):
            # A manual incident that names no monitor: the incident is the subject.
            return f"{prefix}{_INCIDENT_HEADLINES[self.type]}: {incident_title}{step}"
        headline = _HEADLINES.get(self.type, self.type)
        days_left = self.extra.get("days_left")
        if self.type == "ssl.expiring" and isinstance(days_left, int):
            headline = f"has a TLS certificate expiring in {days_left} day(s)"
        return f"{prefix}{self.monitor['name']} {headline}{step}"

    def text(self) -> str:
        """Plain text for chat channels and email."""
        lines = [self.title()]
        if self.monitor.get("url"):
            lines.append(f"Target: {self.monitor['url']}")
        for region, vote in sorted(self.regions.items()):
            if vote["ok"]:
                lines.append(f"- {region}: ok")
            else:
                kind = f"[{vote['error_kind']}] " if vote["error_kind"] else ""
                lines.append(f"- {region}: failing {kind}{vote['error'] or ''}".rstrip())
        if self.incident and self.incident.get("title"):
            lines.append(f"Incident: {self.incident['title']}")
        update = _dict(self.extra.get("update"))
        if update.get("message"):
            lines.append(f"Update ({update.get('status') or 'note'}): {update['message']}")
        if self.extra.get("not_after"):
            lines.append(f"Certificate valid until: {self.extra['not_after']}")
        if self.incident_url:
            lines.append(f"Details: {self.incident_url}")
        lines.append(f"At: {self.timestamp}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The JSON document the generic webhook posts (and other channels embed)."""
        body: dict[str, Any] = {
            "id": self.uid,
            "event": self.type,
            "monitor": self.monitor,
            "incident": self.incident,
            "regions": self.regions,
            "timestamp": self.timestamp,
            "incident_url": self.incident_url,
            "text": self.text(),
        }
        if self.extra:
            body["detail"] = self.extra
        if self.escalation_step:
            body["escalation_step"] = self.escalation_step
        if self.test:
            body["test"] = True
        return body
