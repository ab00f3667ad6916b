"""Acceptance 3: /metrics of the collector, the probe and the API, scraped while real
processes check a real target, count what happened; /readyz says each part is ready;
the processes' logs are JSON lines carrying the probe's ids."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from picket.testing import Stack, free_port, wait_for
from tests.http_targets import http_target


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, frozenset], float]:
    response = httpx.get(url, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_metrics_count_ingest_and_checks(stack: Stack) -> None:
    collector_port, probe_port = free_port(), free_port()
    collector = f"http://127.0.0.1:{collector_port}"
    probe = f"http://127.0.0.1:{probe_port}"
    stack.start_collector(PICKET_HEALTH_PORT=str(collector_port))
    stack.start_api()
    probe_child, probe_id = stack.start_probe("us-east", PICKET_HEALTH_PORT=str(probe_port))
    wait_for(lambda: ready(f"{collector}/readyz"), timeout=30, message="the collector ready")
    wait_for(lambda: ready(f"{probe}/readyz"), timeout=30, message="the probe ready")
    assert httpx.get(f"{probe}/readyz").json()["checks"] == {"registered": "ok", "nats": "ok"}

    with http_target() as target, stack.api() as client:
        created = client.post(
            "/monitors",
            json={"name": "local", "type": "http", "url": target.url, "interval_seconds": 1},
        )
        assert created.status_code == 201, created.text
        monitor_id = created.json()["id"]

        def ingested() -> bool:
            samples = scrape(f"{collector}/metrics")
            return value(samples, "picket_results_ingested_total", region="us-east") >= 2

        wait_for(ingested, timeout=30, message="the collector to count ingested results")

        def decided() -> bool:
            samples = scrape(f"{collector}/metrics")
            return value(samples, "picket_decisions_total", status="up") >= 1

        wait_for(decided, timeout=30, message="consensus to count the monitor going up")

    collected = scrape(f"{collector}/metrics")
    assert value(collected, "picket_ingest_batch_size_count") >= 1
    assert value(collected, "picket_ingest_lag_seconds_count") >= 2

    probed = scrape(f"{probe}/metrics")
    assert value(probed, "picket_checks_total", kind="http", outcome="ok") >= 2
    assert value(probed, "picket_scheduler_lateness_seconds_count") >= 1
    assert ("picket_spool_depth", frozenset()) in probed
    assert ("picket_publish_failures_total", frozenset()) in probed

    api = scrape(f"{stack.api_url}/metrics")
    assert value(api, "picket_probes_live", region="us-east") == 1
    mine = scrape(f"{stack.api_url}/api/v1/metrics", {"Authorization": f"Bearer {stack.admin_key}"})
    assert value(mine, "picket_monitor_latency_ms", monitor=monitor_id, region="us-east") > 0

    # Written to a file, not a terminal: every line of the probe's log is a JSON object.
    entries = [json.loads(line) for line in probe_child.log_text().splitlines() if line]
    registered = [e for e in entries if e["msg"].startswith("registered as probe")]
    assert registered and registered[0]["logger"] == "picket.probe"
    assert (registered[0]["probe_id"], registered[0]["region"]) == (probe_id, "us-east")
