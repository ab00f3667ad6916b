"""Acceptance 2 end to end: a certificate 10 days from expiry, checked again and again by a
real probe, gives results saying `expiring` (days_left 10) and one ssl.expiring event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from sqlalchemy import select

from picket.db.models import Event
from picket.testing import Stack, wait_for
from tests.probe.checks.conftest import server_context
from tests.probe.checks.servers import http_server


def test_expiring_certificate_gives_one_event_at_the_14_day_threshold(
    stack: Stack, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    expires = datetime.now(UTC) + timedelta(days=10, hours=1)
    stack.start_collector()
    stack.start_api()
    stack.start_probe("us-east", PICKET_CA_FILE=str(ca_file))
    with http_server(tls=server_context(ca, "localhost", not_after=expires)) as server:
        with stack.api() as client:
            created = client.post(
                "/monitors",
                json={
                    "name": "shop certificate",
                    "type": "tls",
                    "url": "localhost",
                    "interval_seconds": 1,
                    "tls": {"port": server.port},
                },
            )
            assert created.status_code == 201, created.text
            monitor_id = created.json()["id"]

            def checks() -> list[dict]:
                url = f"/monitors/{monitor_id}/checks"
                return client.get(url, params={"limit": 100}).json()["data"]

            wait_for(lambda: len(checks()) >= 3, timeout=30, message="three TLS checks")
            results = checks()
    assert all(c["ok"] for c in results), results
    assert {(c["detail"]["expiring"], c["detail"]["days_left"]) for c in results} == {(True, 10)}
    with stack.sessions() as session:
        events = session.scalars(select(Event).where(Event.monitor_id == monitor_id)).all()
    assert [(e.type, e.payload["threshold_days"], e.payload["days_left"]) for e in events] == [
        ("ssl.expiring", 14, 10)
    ]
