"""Drives the consensus processor the way ingest does: results inserted, then processed in
the same transaction; a fake clock stands in for time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.collector.consensus import ConsensusLoop, ConsensusProcessor
from picket.collector.processors import IngestedResult
from picket.db.accounts import create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import (
    CheckResult,
    Event,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Monitor,
    MonitorState,
    StateTransition,
)
from picket.db.monitors import create_monitor
from picket.db.probes import create_probe

REGIONS = ("ap-south", "eu-west", "us-east")
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Harness:
    def __init__(self, database_url: str, regions: tuple[str, ...] = REGIONS) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine, serialized=True)
        self.clock = FakeClock()
        self.confirmations: list[tuple[str, list[str]]] = []
        self.processor = ConsensusProcessor(
            clock=self.clock, confirm=lambda m, r: self.confirmations.append((m, r))
        )
        self.loop = ConsensusLoop(self.sessions, clock=self.clock)
        with transaction(self.sessions) as session:
            self.organization_id = create_organization(session, "acme").id
            self.probes = {
                region: create_probe(session, f"probe-{region}", region)[0].id for region in regions
            }

    def close(self) -> None:
        self.engine.dispose()

    def monitor(self, name: str = "Shop", **fields: Any) -> str:
        fields = {"type": "http", "interval_seconds": 10, "timeout_seconds": 5, **fields}
        with transaction(self.sessions) as session:
            monitor = create_monitor(
                session,
                self.organization_id,
                name=name,
                url=f"https://{name.lower()}.example.com",
                **fields,
            )
            return monitor.id

    def edit(self, monitor_id: str, **fields: Any) -> None:
        with transaction(self.sessions) as session:
            monitor = session.get(Monitor, monitor_id)
            assert monitor is not None
            for key, value in fields.items():
                setattr(monitor, key, value)

    def maintenance(self, monitor_id: str, duration_seconds: int) -> None:
        """A window over the monitor from T0."""
        with transaction(self.sessions) as session:
            session.add(
                MaintenanceWindow(
                    organization_id=self.organization_id,
                    name="upgrade",
                    monitor_ids=[monitor_id],
                    starts_at=T0,
                    duration_seconds=duration_seconds,
                )
            )

    def report(
        self,
        monitor_id: str,
        outcome: Mapping[str, bool],
        *,
        check_now: bool = False,
        at: datetime | None = None,
        commit: bool = True,
    ) -> None:
        """One ingest batch: a result per region, scheduled at the fake clock's time."""
        scheduled = at or self.clock.now
        session = self.sessions()
        try:
            session.begin()
            rows = []
            for region, ok in outcome.items():
                row = CheckResult(
                    monitor_id=monitor_id,
                    monitor_version=1,
                    region=region,
                    probe_id=self.probes[region],
                    scheduled_at=scheduled,
                    ok=ok,
                    error_kind=None if ok else "connect",
                    error=None if ok else f"connection refused from {region}",
                    timings={},
                    check_now_id="cn-1" if check_now else None,
                )
                session.add(row)
                rows.append(row)
            session.flush()
            self.processor.process(session, [ingested(r) for r in rows])
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    def tick(self) -> None:
        self.loop.tick()

    # Reading back

    def state(self, monitor_id: str) -> MonitorState:
        with self.sessions() as session:
            state = session.get(MonitorState, monitor_id)
            assert state is not None
            return state

    def status(self, monitor_id: str) -> str:
        return self.state(monitor_id).status

    def incidents(self, monitor_id: str) -> list[Incident]:
        with self.sessions() as session:
            query = select(Incident).where(Incident.monitor_id == monitor_id)
            return list(session.scalars(query.order_by(Incident.started_at)))

    def updates(self, incident_id: str) -> list[IncidentUpdate]:
        with self.sessions() as session:
            query = select(IncidentUpdate).where(IncidentUpdate.incident_id == incident_id)
            return list(session.scalars(query.order_by(IncidentUpdate.id)))

    def events(self, monitor_id: str | None = None) -> list[Event]:
        with self.sessions() as session:
            query = select(Event).order_by(Event.id)
            if monitor_id is not None:
                query = query.where(Event.monitor_id == monitor_id)
            return list(session.scalars(query))

    def event_types(self, monitor_id: str | None = None) -> list[str]:
        return [e.type for e in self.events(monitor_id)]

    def transitions(self, monitor_id: str) -> list[StateTransition]:
        with self.sessions() as session:
            query = select(StateTransition).where(StateTransition.monitor_id == monitor_id)
            return list(session.scalars(query.order_by(StateTransition.id)))

    def session(self) -> Session:
        return self.sessions()


def ingested(row: CheckResult) -> IngestedResult:
    return IngestedResult(
        id=row.id,
        monitor_id=row.monitor_id,
        monitor_version=row.monitor_version,
        region=row.region,
        probe_id=row.probe_id,
        scheduled_at=row.scheduled_at,
        ok=row.ok,
        error_kind=row.error_kind,
        error=row.error,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        timings=row.timings,
        detail=row.detail,
        check_now_id=row.check_now_id,
    )


def everywhere(ok: bool, regions: tuple[str, ...] = REGIONS) -> dict[str, bool]:
    return {region: ok for region in regions}
