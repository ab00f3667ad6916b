"""Real processes: results a probe reports become rollups in the collector, figures in the
report API and bars on the public status page."""

from __future__ import annotations

from typing import Any

import httpx

from picket.testing import Stack, wait_for
from tests.http_targets import http_target


def test_probe_results_reach_reports_and_status_page(stack: Stack) -> None:
    stack.start_collector()
    stack.start_api()
    stack.start_probe("us-east")
    with http_target() as target, stack.api() as client:
        created = client.post(
            "/monitors",
            json={"name": "local", "type": "http", "url": target.url, "interval_seconds": 1},
        )
        assert created.status_code == 201, created.text
        monitor_id = created.json()["id"]

        def report() -> dict[str, Any] | None:
            response = client.get("/reports/uptime", params={"monitor_id": monitor_id})
            assert response.status_code == 200, response.text
            body = response.json()
            region = body["regions"].get("us-east")
            return body if region and region["checks"] >= 3 else None

        body = wait_for(report, timeout=30, interval=0.5, message="rollups of three results")
        region = body["regions"]["us-east"]
        assert region["failures"] == 0 and region["downtime_seconds"] == 0
        assert region["latency_ms"]["p95"] > 0
        summary = client.get("/reports/summary", params={"period": "1d"}).json()
        assert [row["monitor_id"] for row in summary["data"]] == [monitor_id]

        # An outage: consensus records it, and both the monitor's and the region's
        # downtime show in the report.
        target.status = 500

        def outage_reported() -> dict[str, Any] | None:
            response = client.get("/reports/uptime", params={"monitor_id": monitor_id})
            body = response.json()
            overall, region = body["overall"], body["regions"]["us-east"]
            seen = overall["downtime_seconds"] > 0 and region["downtime_seconds"] > 0
            return body if seen and overall["incidents"] >= 1 else None

        body = wait_for(
            outage_reported, timeout=30, interval=0.5, message="the outage in the report"
        )
        assert body["regions"]["us-east"]["failures"] >= 1
        target.status = 200

        page = client.post(
            "/status-pages",
            json={"name": "Local", "slug": "local", "components": [{"monitor_id": monitor_id}]},
        )
        assert page.status_code == 201, page.text
        html = httpx.get(f"{stack.api_url}/status/local", timeout=10)
        assert html.status_code == 200
        assert 'data-component="local"' in html.text
        assert html.text.count('class="bar bar-') == 90
        # Only today's bar has data, and it shows the outage.
        assert html.text.count('class="bar bar-nodata"') == 89
        assert 'class="bar bar-up"' not in html.text
