"""An API on a fresh database, with two organizations and one resource of each kind."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from picket.api.app import create_app
from picket.collector.notify.secretbox import SecretBox
from picket.collector.notify.store import create_channel
from picket.db.accounts import create_api_key, create_organization
from picket.db.incidents import create_incident
from picket.db.models import MaintenanceWindow
from picket.db.models_notify import EscalationPolicy, NotificationRule
from picket.db.models_reports import Export, StatusPage
from picket.db.monitors import create_monitor, ensure_region
from picket.db.probes import create_probe
from picket.db.types import utcnow
from picket.settings import Settings

REGIONS = ("eu-west", "us-east")


def make_monitor(session: Session, org_id: str) -> str:
    monitor = create_monitor(
        session,
        org_id,
        name="Shop",
        type="http",
        url="https://shop.example.com",
        regions=list(REGIONS),
        tags=["prod"],
        spec={"method": "GET", "expected_status": ["2xx"]},
    )
    return monitor.id


def make_incident(session: Session, org_id: str) -> str:
    return create_incident(session, org_id, title="Checkout errors").id


def make_key(session: Session, org_id: str) -> str:
    return create_api_key(session, org_id, "spare", ["read_only"])[0].id


def make_probe(session: Session, org_id: str) -> str:
    return create_probe(session, "probe-1", "eu-west", org_id)[0].id


def make_window(session: Session, org_id: str) -> str:
    window = MaintenanceWindow(
        organization_id=org_id,
        name="upgrade",
        monitor_ids=[],
        starts_at=utcnow() + timedelta(days=1),
        duration_seconds=3600,
        timezone="UTC",
    )
    session.add(window)
    session.flush()
    return window.id


def make_channel(session: Session, org_id: str) -> str:
    # A closed loopback port: a test send fails at once and goes nowhere else.
    return create_channel(
        session,
        org_id,
        name="ops",
        type="webhook",
        config={"url": "http://127.0.0.1:9/hook", "secret": "whsec-factory"},
        box=SecretBox(""),
    ).id


def make_policy(session: Session, org_id: str) -> str:
    policy = EscalationPolicy(
        organization_id=org_id,
        name="on-call",
        steps=[{"delay_minutes": 0, "channel_ids": [make_channel(session, org_id)]}],
    )
    session.add(policy)
    session.flush()
    return policy.id


def make_rule(session: Session, org_id: str) -> str:
    rule = NotificationRule(
        organization_id=org_id,
        name="all",
        events=["monitor.down"],
        channel_ids=[make_channel(session, org_id)],
    )
    session.add(rule)
    session.flush()
    return rule.id


def make_status_page(session: Session, org_id: str) -> str:
    # Slugs are unique across organizations.
    page = StatusPage(organization_id=org_id, name="Shop status", slug=f"shop-{org_id}")
    session.add(page)
    session.flush()
    return page.id


def make_export(session: Session, org_id: str) -> str:
    # Still pending: the walks reach its handlers without a file being written.
    now = utcnow()
    export = Export(
        organization_id=org_id,
        kind="checks",
        format="csv",
        from_at=now - timedelta(days=1),
        to_at=now,
    )
    session.add(export)
    session.flush()
    return export.id


# How to make, in a given organization, the resource each path parameter names. A router
# with a new `{something_id}` adds its factory here; the isolation and scope tests use it.
FACTORIES: dict[str, Callable[[Session, str], str]] = {
    "monitor_id": make_monitor,
    "incident_id": make_incident,
    "key_id": make_key,
    "probe_id": make_probe,
    "window_id": make_window,
    "channel_id": make_channel,
    "policy_id": make_policy,
    "rule_id": make_rule,
    "page_id": make_status_page,
    "export_id": make_export,
}


@dataclass
class Org:
    id: str
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Api:
    app: FastAPI
    client: TestClient

    def session(self) -> Session:
        return self.app.state.sessions()

    def organization(self, name: str) -> Org:
        with self.session() as session:
            for region in REGIONS:
                ensure_region(session, region)
            org = Org(create_organization(session, name).id)
            org.ids = {param: make(session, org.id) for param, make in FACTORIES.items()}
            session.commit()
        return org

    def key(self, org: Org | str, scopes: list[str]) -> str:
        with self.session() as session:
            _, raw = create_api_key(
                session, org.id if isinstance(org, Org) else org, "test", scopes
            )
            session.commit()
        return raw

    def request(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.request(method, path, headers=headers, **kwargs)


def make_api(database_url: str, **settings: Any) -> Iterator[Api]:
    # Exports started by the route walks write their files here, not in the working tree.
    with tempfile.TemporaryDirectory() as data_dir:
        options: dict[str, Any] = {
            "rate_limit_per_minute": 1_000_000,
            "data_dir": Path(data_dir),
            **settings,
        }
        app = create_app(Settings(database_url=database_url, **options))
        with TestClient(app) as client:
            yield Api(app, client)
        app.state.engine.dispose()


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    yield from make_api(database_url)
