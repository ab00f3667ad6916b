"""Shared set-up for the report, export and status page tests: an app, an organization
and a key, all real."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from picket.api.app import create_app
from picket.collector.result_writer import insert_new
from picket.db.accounts import create_api_key, create_organization
from picket.db.models import (
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Monitor,
    MonitorState,
    StateTransition,
)
from picket.db.models_reports import RollupDay
from picket.db.types import utcnow
from picket.settings import Settings


@dataclass
class Tenant:
    client: TestClient
    sessions: sessionmaker[Session]
    organization_id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def add_organization(self, name: str) -> tuple[str, str]:
        with self.sessions() as session, session.begin():
            org = create_organization(session, name)
            _, raw = create_api_key(session, org.id, "test", ["full"])
            return org.id, raw


def make_tenant(database_url: str, data_dir: Path, scopes: list[str] | None = None) -> Tenant:
    # Tests here poll and page freely; rate limits have their own tests.
    settings = Settings(database_url=database_url, data_dir=data_dir, rate_limit_per_minute=100_000)
    app = create_app(settings)
    sessions = app.state.sessions
    with sessions() as session, session.begin():
        org = create_organization(session, "Acme")
        _, raw = create_api_key(session, org.id, "test", scopes or ["full"])
        org_id = org.id
    return Tenant(TestClient(app), sessions, org_id, raw)


def add_monitor(session: Session, organization_id: str, **fields: Any) -> Monitor:
    values: dict[str, Any] = {"name": "Shop", "type": "http", "url": "https://shop.example.com"}
    values.update(fields)
    monitor = Monitor(organization_id=organization_id, **values)
    session.add(monitor)
    session.flush()
    return monitor


def result_row(**fields: Any) -> dict[str, Any]:
    """A check_results row as the ingest stores it, with quiet defaults."""
    row: dict[str, Any] = {
        "monitor_version": 1,
        "probe_id": "probe",
        "started_at": None,
        "ok": True,
        "error_kind": None,
        "error": None,
        "status_code": None,
        "latency_ms": None,
        "timings": {},
        "detail": None,
        "attempts": 1,
        "check_now_id": None,
    }
    row.update(fields)
    return row


def bulk_insert_results(session: Session, rows: list[dict[str, Any]]) -> None:
    """The collector's own bulk writer: COPY on PostgreSQL, executemany on SQLite."""
    insert_new(session, [result_row(**row) for row in rows])


def seed_status_page(tenant: Tenant, slug: str = "acme", **page_fields: Any) -> dict[str, Any]:
    """A page with two sections and three components that are up, degraded and down, 90 days
    of daily rollups, a past outage, an active incident with a timeline and a maintenance."""
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    created = today - timedelta(days=120)
    with tenant.sessions() as session, session.begin():
        ids = {}
        for name, status in (("API", "up"), ("Website", "degraded"), ("Checkout", "down")):
            monitor = add_monitor(session, tenant.organization_id, name=name, created_at=created)
            ids[name] = monitor.id
            session.add(MonitorState(monitor_id=monitor.id, status=status, changed_at=now))
            session.execute(
                insert(RollupDay.__table__),
                [
                    {
                        "monitor_id": monitor.id,
                        "region": region,
                        "bucket": today - timedelta(days=d),
                        "checks": 1440,
                        "failures": 0,
                        "downtime_s": 0.0,
                        "latency_count": 1440,
                        "latency_sum": 1440 * 50.0,
                        "latency_min": 20.0,
                        "latency_max": 90.0,
                        "histogram": {"197": 1440},
                    }
                    for d in range(90)
                    for region in ("us-east", "eu-west")
                ],
            )
        # Checkout: down for 3 hours 10 days ago, and down since an hour ago.
        outage = today - timedelta(days=10, hours=-6)
        transitions = [
            (ids["API"], "unknown", "up", created),
            (ids["Website"], "unknown", "up", created),
            (ids["Website"], "up", "degraded", now - timedelta(hours=2)),
            (ids["Checkout"], "unknown", "up", created),
            (ids["Checkout"], "up", "down", outage),
            (ids["Checkout"], "down", "up", outage + timedelta(hours=3)),
            (ids["Checkout"], "up", "down", now - timedelta(hours=1)),
        ]
        for monitor_id, before, after, at in transitions:
            session.add(
                StateTransition(monitor_id=monitor_id, from_status=before, to_status=after, at=at)
            )
        past = Incident(
            organization_id=tenant.organization_id,
            monitor_id=ids["Checkout"],
            title="Checkout unavailable",
            status="resolved",
            started_at=now - timedelta(days=3),
            resolved_at=now - timedelta(days=3, hours=-1),
        )
        active = Incident(
            organization_id=tenant.organization_id,
            monitor_id=ids["Checkout"],
            title="Checkout is failing",
            status="identified",
            started_at=now - timedelta(hours=1),
        )
        session.add_all([past, active])
        session.flush()
        session.add_all(
            [
                IncidentUpdate(
                    incident_id=active.id,
                    status="investigating",
                    message="Payments time out in every region.",
                    created_at=now - timedelta(minutes=50),
                ),
                IncidentUpdate(
                    incident_id=active.id,
                    status="identified",
                    message="A bad deploy of the payment service; rolling back.",
                    created_at=now - timedelta(minutes=20),
                ),
                IncidentUpdate(
                    incident_id=past.id,
                    status="resolved",
                    message="The database failover completed.",
                    created_at=now - timedelta(days=3, hours=-1),
                ),
                MaintenanceWindow(
                    organization_id=tenant.organization_id,
                    name="Database upgrade",
                    monitor_ids=[ids["API"]],
                    starts_at=today + timedelta(days=2, hours=3),
                    duration_seconds=3600,
                ),
            ]
        )
    body = {
        "name": "Acme status",
        "slug": slug,
        "description": "Live status of Acme services.",
        "components": [
            {"monitor_id": ids["API"], "name": "Public API", "section": "Core"},
            {"monitor_id": ids["Checkout"], "section": "Core"},
            {"monitor_id": ids["Website"], "name": "Marketing site", "section": "Web"},
        ],
        **page_fields,
    }
    created_page = tenant.client.post("/api/v1/status-pages", json=body, headers=tenant.auth)
    assert created_page.status_code == 201, created_page.text
    return {"page": created_page.json(), "monitors": ids, "active_incident": active.id}
