"""Exports: 100,000 check results written and streamed back with flat memory."""

from __future__ import annotations

import csv
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from picket.db.models import Monitor
from picket.db.models_reports import Export
from picket.db.types import utcnow
from picket.exports import KINDS
from picket.formats import WRITERS
from picket.testing import wait_for
from tests.api.reports_support import Tenant, add_monitor, bulk_insert_results, make_tenant

TOTAL = 100_000
SMALL = 10_000


def seed(tenant: Tenant) -> tuple[str, str]:
    """Two monitors: SMALL results for one, the rest of TOTAL for the other."""
    start = utcnow() - timedelta(days=2)
    with tenant.sessions() as session, session.begin():
        small = add_monitor(session, tenant.organization_id, name="Small").id
        large = add_monitor(session, tenant.organization_id, name="Large").id
        for monitor_id, count in ((small, SMALL), (large, TOTAL - SMALL)):
            rows = [
                {
                    "monitor_id": monitor_id,
                    "region": ("us-east", "eu-west")[i % 2],
                    "probe_id": "probe-1",
                    "scheduled_at": start + timedelta(seconds=i),
                    "ok": i % 17 != 0,
                    "error_kind": None if i % 17 else "timeout",
                    "error": None if i % 17 else 'read timed out, "after 10s"',
                    "status_code": 200 if i % 17 else None,
                    "latency_ms": 12.5 + i % 300,
                    "timings": {"connect": 1.5, "ttfb": 9.25},
                }
                for i in range(count)
            ]
            bulk_insert_results(session, rows)
    return small, large


def measured(action: Callable[[], Any]) -> tuple[Any, int]:
    """Run `action`; return its value and the peak of memory allocated meanwhile."""
    tracemalloc.start()
    try:
        value = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, peak


def export(tenant: Tenant, fmt: str, monitor_ids: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "checks", "format": fmt}
    if monitor_ids:
        body["monitor_ids"] = monitor_ids
    created = tenant.client.post("/api/v1/exports", json=body, headers=tenant.auth)
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "pending"

    def ready() -> dict[str, Any] | None:
        current = tenant.client.get(f"/api/v1/exports/{created.json()['id']}", headers=tenant.auth)
        return current.json() if current.json()["status"] in ("ready", "failed") else None

    done = wait_for(ready, timeout=60, interval=0.2, message="the export to finish")
    assert done["status"] == "ready", done
    return done


def stream_lines(tenant: Tenant, url: str) -> Iterator[str]:
    with tenant.client.stream("GET", url, headers=tenant.auth) as response:
        assert response.status_code == 200
        yield from response.iter_lines()


def count_csv(tenant: Tenant, url: str) -> int:
    rows = csv.DictReader(stream_lines(tenant, url))
    assert rows.fieldnames == KINDS["checks"].columns
    count = 0
    for row in rows:
        assert row["ok"] in ("True", "False") and row["timings"].startswith("{")
        count += 1
    return count


def count_ndjson(tenant: Tenant, url: str) -> int:
    count = 0
    for line in stream_lines(tenant, url):
        if line:
            record = json.loads(line)
            assert set(record) == set(KINDS["checks"].columns)
            count += 1
    return count


def test_large_check_export_streams_with_flat_memory(database_url: str, tmp_path: Path) -> None:
    tenant = make_tenant(database_url, tmp_path)
    seed(tenant)
    # A warm-up export, so caches filled once do not count as the large export's memory.
    export(tenant, "json", [small_id(tenant)])

    done, peak = measured(lambda: export(tenant, "csv"))
    assert done["rows"] == TOTAL
    # Holding the rows would take at least the file's size; streaming takes one chunk.
    assert peak < done["size_bytes"] / 4, (peak, done["size_bytes"])
    count, download_peak = measured(lambda: count_csv(tenant, done["download_url"]))
    assert count == TOTAL
    assert download_peak < done["size_bytes"] / 4, (download_peak, done["size_bytes"])

    as_ndjson = export(tenant, "ndjson")
    assert count_ndjson(tenant, as_ndjson["download_url"]) == TOTAL


def small_id(tenant: Tenant) -> str:
    with tenant.sessions() as session:
        return session.scalars(select(Monitor.id).where(Monitor.name == "Small")).one()


def test_every_writer_writes_what_its_format_reads(tmp_path: Path) -> None:
    rows = [{"a": 1, "b": 'x,"y"', "c": None}, {"a": 2, "b": "z", "c": {"k": [1]}}]
    values = [list(row.values()) for row in rows]
    for name, writer in WRITERS.items():
        path = tmp_path / f"out.{writer.extension}"
        with path.open("w", newline="") as out:
            assert writer.write(out, ["a", "b", "c"], iter(values)) == 2
        text = path.read_text()
        if name == "csv":
            parsed = list(csv.DictReader(text.splitlines()))
            assert [r["b"] for r in parsed] == ['x,"y"', "z"]
            assert json.loads(parsed[1]["c"]) == {"k": [1]}
        elif name == "json":
            assert json.loads(text) == rows
        else:
            assert [json.loads(line) for line in text.splitlines()] == rows
        with path.open("w") as out:
            assert writer.write(out, ["a"], iter([])) == 0


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_export_kinds_webhook_expiry_and_bad_input(database_url: str, tmp_path: Path) -> None:
    tenant = make_tenant(database_url, tmp_path)
    tenant.client.app.state.settings.allow_private_targets = True
    small, _ = seed_few(tenant)
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = f"http://127.0.0.1:{server.server_port}/done"
        for kind in ("incidents", "uptime", "checks"):
            body = {"kind": kind, "format": "json", "webhook_url": hook}
            created = tenant.client.post("/api/v1/exports", json=body, headers=tenant.auth)
            assert created.status_code == 202, created.text
            done = tenant.client.get(f"/api/v1/exports/{created.json()['id']}", headers=tenant.auth)
            assert done.json()["status"] == "ready"
            data = tenant.client.get(done.json()["download_url"], headers=tenant.auth).json()
            assert isinstance(data, list)
            if kind == "uptime":
                assert {row["monitor_id"] for row in data} == {small}
                assert len(data) == 31
        wait_for(lambda: len(Hook.received) >= 3, timeout=30, message="three webhooks")
        assert {h["event"] for h in Hook.received} == {"export.ready"}
    finally:
        server.shutdown()

    listed = tenant.client.get("/api/v1/exports", headers=tenant.auth).json()
    assert listed["pagination"]["total"] == 3
    export_id = listed["data"][0]["id"]

    with tenant.sessions() as session, session.begin():
        row = session.get(Export, export_id)
        assert row is not None and row.path
        path = tmp_path / row.path
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert path.exists()
    gone = tenant.client.get(f"/api/v1/exports/{export_id}/download", headers=tenant.auth)
    assert gone.status_code == 410
    assert not path.exists()
    assert (
        tenant.client.get(f"/api/v1/exports/{export_id}", headers=tenant.auth).json()["status"]
        == "expired"
    )

    other_org, other_key = tenant.add_organization("Other")
    other = {"Authorization": f"Bearer {other_key}"}
    assert tenant.client.get(f"/api/v1/exports/{export_id}", headers=other).status_code == 404
    for body, field in (
        ({"kind": "everything"}, "kind"),
        ({"kind": "checks", "format": "xml"}, "format"),
        ({"kind": "checks", "monitor_ids": ["nope"]}, "monitor_ids"),
        ({"kind": "checks", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"kind": "checks", "webhook_url": "http://169.254.169.254/"}, "webhook_url"),
    ):
        bad = tenant.client.post("/api/v1/exports", json=body, headers=tenant.auth)
        assert bad.status_code == 422, body
        assert field in bad.json()["detail"]
    # Another organization's monitor is as unknown as a made-up one.
    bad = tenant.client.post(
        "/api/v1/exports", json={"kind": "checks", "monitor_ids": [small]}, headers=other
    )
    assert bad.status_code == 422
    del other_org


def seed_few(tenant: Tenant) -> tuple[str, None]:
    with tenant.sessions() as session, session.begin():
        monitor_id = add_monitor(session, tenant.organization_id).id
        now = utcnow()
        bulk_insert_results(
            session,
            [
                {
                    "monitor_id": monitor_id,
                    "region": "us-east",
                    "probe_id": "p",
                    "scheduled_at": now - timedelta(minutes=i),
                    "ok": True,
                    "latency_ms": 20.0,
                    "timings": {},
                }
                for i in range(1, 30)
            ],
        )
    return monitor_id, None
