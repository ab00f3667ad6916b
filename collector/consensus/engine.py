"""Applying consensus decisions to the database: state, transitions, incidents, events.

One `Evaluator` serves one transaction at one instant `now`. It locks the monitors'
state rows (FOR UPDATE on PostgreSQL; SQLite serialises writers anyway), so collectors
evaluating the same monitor at once take turns and each sees the other's results.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from picket import metrics
from picket.collector.consensus import events as ev
from picket.collector.consensus.decision import (
    DEGRADED,
    DOWN,
    MAINTENANCE,
    PAUSED,
    UP,
    Decision,
    Memory,
    Policy,
    Vote,
    decide,
)
from picket.db.engine import one_of
from picket.db.models import (
    CheckResult,
    Incident,
    IncidentUpdate,
    Monitor,
    MonitorState,
    Probe,
    StateTransition,
)
from picket.db.monitors import all_regions, effective_quorum, effective_regions
from picket.db.types import json_datetimes, new_id
from picket.maintenance import load_windows, monitors_in_maintenance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmation:
    """Ask these regions' probes to check the monitor now (sent after commit)."""

    monitor_id: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class _Row:
    id: int
    monitor_id: str
    region: str
    probe_id: str
    scheduled_at: datetime
    ok: bool
    error_kind: str | None
    error: str | None
    check_now_id: str | None

    def vote(self) -> Vote:
        return Vote(
            region=self.region,
            ok=self.ok,
            scheduled_at=self.scheduled_at,
            result_id=self.id,
            probe_id=self.probe_id,
            error_kind=self.error_kind,
            error=self.error,
        )


@dataclass
class _State:
    """A monitor_states row, read for update. Rows that exist are read and written back
    without the ORM: its per-object bookkeeping cost more than the decisions themselves
    for a batch's couple of hundred monitors. A monitor's first state is an ORM insert."""

    monitor_id: str
    status: str
    region_status: dict[str, str]
    health: str
    pending_status: str | None
    pending_since: datetime | None
    changed_at: datetime
    last_result_at: datetime | None
    updated_at: datetime


# The rows as [monitor_id, then _State's other fields in order], one JSON array.
_PG_WRITE_STATES = (
    "UPDATE monitor_states AS s SET status = v ->> 1, region_status = v -> 2, "
    "health = v ->> 3, pending_status = v ->> 4, pending_since = (v ->> 5)::timestamptz, "
    "changed_at = (v ->> 6)::timestamptz, last_result_at = (v ->> 7)::timestamptz, "
    "updated_at = (v ->> 8)::timestamptz "
    "FROM jsonb_array_elements(%s::jsonb) AS v WHERE s.monitor_id = v ->> 0"
)


def policy_for(monitor: Monitor, known_regions: list[str]) -> Policy:
    regions = effective_regions(monitor, known_regions)
    return Policy(
        regions=tuple(regions),
        quorum=effective_quorum(monitor, regions),
        interval_s=monitor.interval_seconds,
        timeout_s=monitor.timeout_seconds,
        confirmation_period_s=monitor.confirmation_period_s or 0,
        recovery_period_s=monitor.recovery_period_s or 0,
    )


def describe_failure(vote: Vote) -> str:
    if vote.error_kind and vote.error:
        return f"{vote.region} ({vote.error_kind}: {vote.error})"
    return f"{vote.region} ({vote.error_kind or vote.error or 'failed'})"


def describe_votes(decision: Decision) -> str:
    failing = [describe_failure(decision.votes[r]) for r in decision.failing]
    parts = []
    if failing:
        parts.append("failing from " + ", ".join(failing))
    if decision.passing:
        parts.append("up from " + ", ".join(decision.passing))
    silent = sorted(r for r in decision.region_status if r not in decision.votes)
    if silent:
        parts.append("no recent result from " + ", ".join(silent))
    text = "; ".join(parts) or "no region has reported"
    return text[0].upper() + text[1:] + "."


def describe_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def regions_detail(votes: dict[str, Vote]) -> dict[str, Any]:
    """What transitions and incidents keep of each vote: outcome, error and result."""
    return {
        region: {
            "ok": v.ok,
            "error_kind": v.error_kind,
            "error": v.error,
            "result_id": v.result_id,
            "probe_id": v.probe_id,
            "scheduled_at": ev.iso(v.scheduled_at),
        }
        for region, v in sorted(votes.items())
    }


def open_incidents(session: Session, monitor_ids: list[str]) -> dict[str, Incident]:
    """Each monitor's open automatic incident (the latest, should there be several)."""
    query = (
        select(Incident)
        .where(
            one_of(session, Incident.monitor_id, monitor_ids),
            Incident.automatic.is_(True),
            Incident.resolved_at.is_(None),
        )
        .order_by(Incident.started_at)
    )
    return {i.monitor_id: i for i in session.scalars(query) if i.monitor_id is not None}


class Evaluator:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.known_regions = all_regions(session)
        self.unhealthy = set(session.scalars(select(Probe.id).where(Probe.unhealthy.is_(True))))
        self.in_maintenance = monitors_in_maintenance(load_windows(session), now)
        self.incidents: dict[str, Incident] = {}

    def evaluate(
        self, monitor_ids: Iterable[str], new_result_ids: Collection[int] = ()
    ) -> list[Confirmation]:
        """Re-decide these monitors. Where a new result flips its region's vote (and is
        not itself a check-now answer), returns a request to confirm from the others."""
        ids = sorted(set(monitor_ids))
        if not ids:
            return []
        monitors = {
            m.id: m
            for m in self.session.scalars(
                select(Monitor).where(one_of(self.session, Monitor.id, ids))
            )
        }
        table = MonitorState.__table__
        states = {
            row.monitor_id: _State(**row._mapping)
            for row in self.session.execute(
                select(*(table.c[f.name] for f in fields(_State)))
                .where(one_of(self.session, table.c.monitor_id, ids))
                .order_by(table.c.monitor_id)
                .with_for_update()
            )
        }
        policies = {mid: policy_for(m, self.known_regions) for mid, m in monitors.items()}
        recent = self._recent_results(policies)
        self.incidents = open_incidents(self.session, ids)
        confirmations: list[Confirmation] = []
        new_ids = set(new_result_ids)
        decided: list[_State] = []
        for monitor_id in ids:
            monitor = monitors.get(monitor_id)
            if monitor is None:
                continue
            state: MonitorState | _State | None = states.get(monitor_id)
            if state is None:
                state = MonitorState(monitor_id=monitor_id, status="unknown", region_status={})
                self.session.add(state)
            else:
                decided.append(state)
            rows = recent.get(monitor_id, [])
            self._apply(monitor, state, policies[monitor_id], rows)
            confirmation = self._confirmation(monitor, policies[monitor_id], rows, new_ids)
            if confirmation is not None:
                confirmations.append(confirmation)
        self._write_states(decided)
        self.session.flush()
        return confirmations

    def _write_states(self, states: list[_State]) -> None:
        """Every decided state row back at once (the rows are locked): one statement on
        PostgreSQL, the rows as one JSON parameter; one executemany on SQLite."""
        if not states:
            return
        table = MonitorState.__table__
        names = [f.name for f in fields(_State) if f.name != "monitor_id"]
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            rows = [[s.monitor_id, *(getattr(s, name) for name in names)] for s in states]
            data = json.dumps(rows, default=json_datetimes)
            connection.exec_driver_sql(_PG_WRITE_STATES, (data,))
            return
        statement = (
            update(table)
            .where(table.c.monitor_id == bindparam("key"))
            .values({name: bindparam(name) for name in names})
        )
        connection.execute(
            statement,
            [{"key": s.monitor_id, **{name: getattr(s, name) for name in names}} for s in states],
        )

    def _recent_results(self, policies: dict[str, Policy]) -> dict[str, list[_Row]]:
        """Results young enough to vote, newest first, grouped by monitor."""
        by_window: dict[timedelta, list[str]] = defaultdict(list)
        for monitor_id, policy in policies.items():
            by_window[policy.stale_after].append(monitor_id)
        out: dict[str, list[_Row]] = defaultdict(list)
        for window, monitor_ids in by_window.items():
            query = (
                select(
                    CheckResult.id,
                    CheckResult.monitor_id,
                    CheckResult.region,
                    CheckResult.probe_id,
                    CheckResult.scheduled_at,
                    CheckResult.ok,
                    CheckResult.error_kind,
                    CheckResult.error,
                    CheckResult.check_now_id,
                )
                .where(
                    one_of(self.session, CheckResult.monitor_id, monitor_ids),
                    CheckResult.scheduled_at >= self.now - window,
                )
                .order_by(CheckResult.scheduled_at.desc(), CheckResult.id.desc())
            )
            for row in self.session.execute(query):
                out[row.monitor_id].append(_Row(*row))
        return out

    def _latest_votes(self, rows: list[_Row], exclude: Collection[int] = ()) -> dict[str, Vote]:
        latest: dict[str, Vote] = {}
        for row in rows:
            if row.region in latest or row.probe_id in self.unhealthy or row.id in exclude:
                continue
            latest[row.region] = row.vote()
        return latest

    def _apply(
        self, monitor: Monitor, state: MonitorState | _State, policy: Policy, rows: list[_Row]
    ) -> None:
        memory = Memory(state.health or "unknown", state.pending_status, state.pending_since)
        decision = decide(policy, memory, self._latest_votes(rows), self.now)
        if monitor.paused or monitor.deleted_at is not None:
            status = PAUSED
        elif monitor.id in self.in_maintenance:
            status = MAINTENANCE
        else:
            status = decision.health
        previous = state.status
        state.health = decision.health
        state.pending_status = decision.pending
        state.pending_since = decision.pending_since
        state.region_status = decision.region_status
        if rows:
            newest = rows[0].scheduled_at
            if state.last_result_at is None or newest > state.last_result_at:
                state.last_result_at = newest
        state.updated_at = self.now
        if status == previous:
            return
        at = decision.at or self.now
        state.status = status
        state.changed_at = at
        self.session.add(
            StateTransition(
                monitor_id=monitor.id,
                from_status=previous,
                to_status=status,
                at=at,
                regions=regions_detail(decision.votes),
            )
        )
        log.info(
            "monitor %s: %s -> %s (%s)", monitor.id, previous, status, describe_votes(decision)
        )
        metrics.record_decision(status)
        self._incidents_and_events(monitor, previous, status, decision, at)

    def _incidents_and_events(
        self, monitor: Monitor, previous: str, status: str, decision: Decision, at: datetime
    ) -> None:
        if status not in (UP, DEGRADED, DOWN):
            return  # maintenance, paused, unknown: no incident, no notification
        incident = self.incidents.get(monitor.id)

        def event(kind: str, update: IncidentUpdate | None = None) -> None:
            ev.monitor_event(
                self.session,
                kind,
                monitor,
                at=at,
                status=status,
                previous_status=previous,
                votes=decision.votes,
                incident=incident,
                update=update,
            )

        if status == DOWN:
            if incident is None:
                incident, update = self._open(monitor, decision, at, impact="major")
                event(ev.MONITOR_DOWN)
                event(ev.INCIDENT_CREATED, update)
            else:
                incident.impact = "major"
                incident.regions = regions_detail(decision.votes)
                update = self._update(incident, "Down: " + _lower_first(describe_votes(decision)))
                event(ev.MONITOR_DOWN)
                event(ev.INCIDENT_UPDATED, update)
        elif status == DEGRADED:
            if incident is None and monitor.incident_on_degraded:
                incident, update = self._open(monitor, decision, at, impact="minor")
                event(ev.MONITOR_DEGRADED)
                event(ev.INCIDENT_CREATED, update)
            elif incident is not None and previous == DOWN:
                incident.regions = regions_detail(decision.votes)
                message = "Partially recovered: " + _lower_first(describe_votes(decision))
                update = self._update(incident, message)
                event(ev.MONITOR_DEGRADED)
                event(ev.INCIDENT_UPDATED, update)
            else:
                event(ev.MONITOR_DEGRADED)
        elif incident is not None:
            update = self._resolve(incident, decision, at)
            event(ev.MONITOR_UP)
            event(ev.INCIDENT_RESOLVED, update)
        elif previous in (DOWN, DEGRADED):
            event(ev.MONITOR_UP)

    def _open(
        self, monitor: Monitor, decision: Decision, at: datetime, impact: str
    ) -> tuple[Incident, IncidentUpdate]:
        verb = "down" if impact == "major" else "degraded"
        incident = Incident(
            id=new_id(),
            organization_id=monitor.organization_id,
            monitor_id=monitor.id,
            monitor_ids=[monitor.id],
            title=f"{monitor.name} is {verb}",
            status="investigating",
            impact=impact,
            automatic=True,
            regions=regions_detail(decision.votes),
            started_at=at,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(incident)
        self.incidents[monitor.id] = incident
        return incident, self._update(incident, describe_votes(decision))

    def _update(
        self, incident: Incident, message: str, status: str | None = None
    ) -> IncidentUpdate:
        update = IncidentUpdate(
            incident_id=incident.id,
            status=status or incident.status,
            message=message,
            automatic=True,
            created_at=self.now,
        )
        incident.updated_at = self.now
        self.session.add(update)
        return update

    def _resolve(self, incident: Incident, decision: Decision, at: datetime) -> IncidentUpdate:
        self.incidents.pop(incident.monitor_id or "", None)
        incident.status = "resolved"
        incident.resolved_at = at
        took = describe_duration(at - incident.started_at)
        regions = ", ".join(decision.passing) or "every region"
        return self._update(
            incident, f"Resolved automatically: up from {regions} after {took}.", "resolved"
        )

    def _confirmation(
        self, monitor: Monitor, policy: Policy, rows: list[_Row], new_ids: set[int]
    ) -> Confirmation | None:
        if not new_ids or monitor.paused or monitor.deleted_at is not None:
            return None
        before = self._latest_votes(rows, exclude=new_ids)
        flipped: set[str] = set()
        for row in rows:
            if (
                row.id not in new_ids
                or row.check_now_id
                or row.region not in policy.regions
                or row.probe_id in self.unhealthy
            ):
                continue
            previous = before.get(row.region)
            # A first result counts as a change only when it fails.
            was_ok = previous.ok if previous is not None else True
            if row.ok != was_ok:
                flipped.add(row.region)
        if not flipped:
            return None
        others = tuple(r for r in policy.regions if r not in flipped)
        return Confirmation(monitor.id, others) if others else None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
