"""Events the consensus engine writes to the `events` outbox, and their exact payloads.

Each event is one `events` row written in the same transaction as the change it reports:
`type`, `organization_id`, `monitor_id`, `incident_id` and `probe_id` columns (NULL when
not relevant) and a JSON `payload`. Notification delivery renders the payload; it never
needs to read another table. Times are ISO 8601 strings in UTC ("2026-11-24T12:00:00+00:00").

Monitor and incident events (`monitor.down`, `monitor.up`, `monitor.degraded`,
`incident.created`, `incident.updated`, `incident.resolved`) all carry::

    {
      "type": "monitor.down",
      "timestamp": "...",            # decision time: the scheduled time of the newest
                                     # result behind it (evaluation time when no result
                                     # decided, e.g. a maintenance window ending)
      "monitor": {"id": "...", "name": "Shop", "url": "https://shop.example.com",
                  "type": "http"},
      "status": "down",              # the monitor's state after the change
      "previous_status": "up",       # up | degraded | down | paused | maintenance | unknown
      "regions": {                   # every region that voted
        "us-east": {"ok": false, "error_kind": "connect", "error": "connection refused"},
        "eu-west": {"ok": true, "error_kind": null, "error": null}
      },
      "incident": null | {"id": "...", "title": "Shop is down", "status": "investigating",
                          "impact": "major", "started_at": "...", "resolved_at": null}
    }

`incident` is the monitor's open automatic incident (for `monitor.up` and
`incident.resolved`: the one just resolved, with `status` "resolved" and `resolved_at`
set), or null when there is none. The three `incident.*` events add the update they
report::

      "update": {"status": "investigating", "message": "Failing from us-east (connect:
                 connection refused), eu-west (status: HTTP 500); up from ap-south.",
                 "created_at": "..."}

When each is written:

* `monitor.down` — the state becomes down; `incident.created` follows when no automatic
  incident was open, `incident.updated` when one was (flapping, or after a window).
* `monitor.degraded` — the state becomes degraded; with `incident_on_degraded` an incident
  (impact "minor") is created too. Down → degraded with an open incident adds an
  `incident.updated` ("partially recovered") and keeps the incident open.
* `monitor.up` — the state becomes up from down or degraded, or while an automatic
  incident is open; that incident is resolved (`incident.resolved`).
* Nothing while the state is `maintenance`, `paused` or `unknown`.

`probe.unhealthy` (columns: `probe_id`, `organization_id` = the probe's, NULL for a shared
probe)::

    {
      "type": "probe.unhealthy",
      "timestamp": "...",            # when the collector set the probe aside
      "probe": {"id": "...", "name": "eu-1", "region": "eu-west"},
      "compared": 12,                # monitors it checked that other regions checked too
      "disagreed": 12,               # of those, failed by the probe and up elsewhere
      "monitor_ids": ["...", "..."]  # the monitors it disagreed on
    }
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from picket.collector.consensus.decision import Vote
from picket.db.models import Event, Incident, IncidentUpdate, Monitor, Probe

MONITOR_DOWN = "monitor.down"
MONITOR_UP = "monitor.up"
MONITOR_DEGRADED = "monitor.degraded"
INCIDENT_CREATED = "incident.created"
INCIDENT_UPDATED = "incident.updated"
INCIDENT_RESOLVED = "incident.resolved"
PROBE_UNHEALTHY = "probe.unhealthy"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def monitor_ref(monitor: Monitor) -> dict[str, Any]:
    return {"id": monitor.id, "name": monitor.name, "url": monitor.url, "type": monitor.type}


def incident_ref(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "impact": incident.impact,
        "started_at": iso(incident.started_at),
        "resolved_at": iso(incident.resolved_at),
    }


def update_ref(update: IncidentUpdate) -> dict[str, Any]:
    return {
        "status": update.status,
        "message": update.message,
        "created_at": iso(update.created_at),
    }


def regions_ref(votes: dict[str, Vote]) -> dict[str, dict[str, Any]]:
    return {
        region: {"ok": vote.ok, "error_kind": vote.error_kind, "error": vote.error}
        for region, vote in sorted(votes.items())
    }


def monitor_event(
    session: Session,
    kind: str,
    monitor: Monitor,
    *,
    at: datetime,
    status: str,
    previous_status: str,
    votes: dict[str, Vote],
    incident: Incident | None,
    update: IncidentUpdate | None = None,
) -> Event:
    payload: dict[str, Any] = {
        "type": kind,
        "timestamp": iso(at),
        "monitor": monitor_ref(monitor),
        "status": status,
        "previous_status": previous_status,
        "regions": regions_ref(votes),
        "incident": incident_ref(incident),
    }
    if update is not None:
        payload["update"] = update_ref(update)
    event = Event(
        organization_id=monitor.organization_id,
        type=kind,
        monitor_id=monitor.id,
        incident_id=incident.id if incident is not None else None,
        payload=payload,
    )
    session.add(event)
    return event


def probe_unhealthy_event(
    session: Session,
    probe: Probe,
    *,
    at: datetime,
    compared: int,
    disagreed: int,
    monitor_ids: list[str],
) -> Event:
    event = Event(
        organization_id=probe.organization_id,
        type=PROBE_UNHEALTHY,
        probe_id=probe.id,
        payload={
            "type": PROBE_UNHEALTHY,
            "timestamp": iso(at),
            "probe": {"id": probe.id, "name": probe.name, "region": probe.region},
            "compared": compared,
            "disagreed": disagreed,
            "monitor_ids": sorted(monitor_ids),
        },
    )
    session.add(event)
    return event
