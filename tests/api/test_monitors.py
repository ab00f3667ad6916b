"""Monitors: filters, full replace, pause/resume, check history and uptime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from picket.db.incidents import create_incident
from picket.db.models import CheckResult, Event, MonitorState
from picket.db.types import utcnow
from tests.api.conftest import Api, Org

BASE = "/api/v1/monitors"


def _create(api: Api, key: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Shop", "type": "http", "url": "https://shop.example.com", **fields}
    response = api.request("POST", BASE, key, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _names(api: Api, key: str, query: str) -> list[str]:
    response = api.request("GET", f"{BASE}?{query}", key)
    assert response.status_code == 200, response.text
    return sorted(m["name"] for m in response.json()["data"])


def test_list_filters(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    with api.session() as session:
        # The organization fixture's monitor would match some filters; keep to ours.
        session.get(MonitorState, org.ids["monitor_id"]).status = "up"  # type: ignore[union-attr]
        session.commit()
    api.request("DELETE", f"{BASE}/{org.ids['monitor_id']}", key)
    shop = _create(api, key, name="Shop", tags=["prod", "eu"], regions=["eu-west"])
    _create(api, key, name="Blog", url="https://blog.example.org/100%_real", tags=["staging"])
    paused = _create(api, key, name="Docs", url="https://docs.example.com")
    api.request("POST", f"{BASE}/{paused['id']}/pause", key)
    with api.session() as session:
        state = session.get(MonitorState, shop["id"])
        assert state is not None
        state.status = "down"
        session.commit()

    assert _names(api, key, "") == ["Blog", "Docs", "Shop"]
    assert _names(api, key, "tag=prod") == ["Shop"]
    assert _names(api, key, "tag=pro") == []
    assert _names(api, key, "region=eu-west") == ["Blog", "Docs", "Shop"]
    assert _names(api, key, "region=us-east") == ["Blog", "Docs"]
    assert _names(api, key, "status=down") == ["Shop"]
    assert _names(api, key, "status=paused") == ["Docs"]
    assert _names(api, key, "status=unknown") == ["Blog"]
    assert _names(api, key, "type=http&q=EXAMPLE.COM") == ["Docs", "Shop"]
    assert _names(api, key, "q=blo") == ["Blog"]
    # LIKE wildcards in q are taken literally.
    assert _names(api, key, "q=100%25_") == ["Blog"]
    assert _names(api, key, "q=%25") == ["Blog"]
    assert _names(api, key, "tag=prod&status=up") == []
    bad = api.request("GET", f"{BASE}?status=sleeping", key)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("status:")


def test_put_replaces_the_whole_monitor(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor = _create(
        api,
        key,
        tags=["prod"],
        regions=["eu-west"],
        interval_seconds=30,
        http={"keyword": "Welcome"},
    )
    replaced = api.request(
        "PUT",
        f"{BASE}/{monitor['id']}",
        key,
        json={"name": "Shop v2", "type": "http", "url": "https://v2.example.com"},
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["name"] == "Shop v2" and body["url"] == "https://v2.example.com"
    # Left out means default again, unlike PATCH.
    assert body["tags"] == [] and body["interval_seconds"] == 60
    assert body["regions"] == ["eu-west", "us-east"]
    assert body["http"].get("keyword") is None  # back to the default: no keyword
    assert body["version"] > monitor["version"]
    missing = api.request("PUT", f"{BASE}/{monitor['id']}", key, json={"name": "x"})
    assert missing.status_code == 422 and "type" in missing.json()["detail"]


def test_patch_changes_only_what_is_sent_and_refuses_null(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor = _create(api, key, tags=["prod"], http={"keyword": "Welcome"})
    patched = api.request(
        "PATCH", f"{BASE}/{monitor['id']}", key, json={"interval_seconds": 30}
    ).json()
    assert patched["interval_seconds"] == 30 and patched["tags"] == ["prod"]
    assert patched["http"]["keyword"] == "Welcome"
    refused = api.request("PATCH", f"{BASE}/{monitor['id']}", key, json={"retries": None})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "retries: may not be null"


def test_pause_and_resume(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor = _create(api, key)
    paused = api.request("POST", f"{BASE}/{monitor['id']}/pause", key).json()
    assert paused["paused"] is True and paused["status"] == "paused"
    assert paused["version"] == monitor["version"] + 1
    again = api.request("POST", f"{BASE}/{monitor['id']}/pause", key).json()
    assert again["version"] == paused["version"]
    resumed = api.request("POST", f"{BASE}/{monitor['id']}/resume", key).json()
    assert resumed["paused"] is False and resumed["status"] == "unknown"


def _results(api: Api, org: Org, rows: list[tuple[str, int, bool, float | None]]) -> None:
    """rows: (region, minutes ago, ok, latency)."""
    now = utcnow()
    with api.session() as session:
        for region, minutes, ok, latency in rows:
            session.add(
                CheckResult(
                    monitor_id=org.ids["monitor_id"],
                    region=region,
                    probe_id="p",
                    scheduled_at=now - timedelta(minutes=minutes),
                    ok=ok,
                    error_kind=None if ok else "connect",
                    error=None if ok else "refused",
                    latency_ms=latency,
                    timings={},
                )
            )
        session.commit()


def test_check_history_filters(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["read_only"])
    _results(
        api,
        org,
        [("eu-west", 1, True, 10.0), ("eu-west", 2, False, None), ("us-east", 3, True, 30.0)],
    )
    url = f"{BASE}/{org.ids['monitor_id']}/checks"
    every = api.request("GET", url, key).json()
    assert [c["region"] for c in every["data"]] == ["eu-west", "eu-west", "us-east"]
    assert every["pagination"]["total"] == 3
    failed = api.request("GET", f"{url}?ok=false", key).json()["data"]
    assert [(c["ok"], c["error_kind"]) for c in failed] == [(False, "connect")]
    assert len(api.request("GET", f"{url}?region=us-east", key).json()["data"]) == 1
    since = (utcnow() - timedelta(minutes=2, seconds=30)).isoformat()
    recent = api.request("GET", url, key, params={"from": since}).json()["data"]
    assert len(recent) == 2
    naive = api.request("GET", url, key, params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["detail"].startswith("from:")


def test_uptime_overall_and_per_region(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["read_only"])
    eu = [("eu-west", m, m % 4 != 0, float(m)) for m in range(1, 21)]  # 15 of 20 pass
    us = [("us-east", m, True, 100.0) for m in range(1, 11)]
    old = [("us-east", 60 * 30, False, 5.0)]  # 30 hours ago: only in 7d
    _results(api, org, eu + us + old)
    with api.session() as session:
        create_incident(session, org.id, title="down", monitor_ids=[org.ids["monitor_id"]])
        session.commit()

    url = f"{BASE}/{org.ids['monitor_id']}/uptime"
    day = api.request("GET", f"{url}?period=24h", key).json()
    assert day["period"] == "24h"
    assert day["regions"]["eu-west"]["uptime_percent"] == 75.0
    assert day["regions"]["eu-west"]["total_checks"] == 20
    assert day["regions"]["eu-west"]["latency_ms"] == {"avg": 10.5, "p95": 19.0}
    assert day["regions"]["us-east"]["uptime_percent"] == 100.0
    assert day["overall"]["total_checks"] == 30
    assert day["overall"]["uptime_percent"] == round(100 * 25 / 30, 4)
    assert day["overall"]["latency_ms"]["p95"] == 100.0
    assert day["overall"]["incidents"] == 1
    week = api.request("GET", f"{url}?period=7d", key).json()
    assert week["regions"]["us-east"]["total_checks"] == 11
    assert week["regions"]["us-east"]["failed_checks"] == 1
    empty = api.request("GET", f"{BASE}/{_create(api, api.key(org, ['full']))['id']}/uptime", key)
    assert empty.json()["overall"]["uptime_percent"] is None
    assert api.request("GET", f"{url}?period=1y", key).status_code == 422


def test_tags_in_use(api: Api) -> None:
    org = api.organization("A")  # its monitor is tagged prod
    key = api.key(org, ["full"])
    _create(api, key, tags=["prod", "eu"])
    gone = _create(api, key, tags=["legacy"])
    api.request("DELETE", f"{BASE}/{gone['id']}", key)
    api.organization("B")  # another organization's prod monitor does not count
    body = api.request("GET", f"{BASE}/tags", key).json()
    assert body["data"] == [{"name": "eu", "monitors": 1}, {"name": "prod", "monitors": 2}]
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}
    second = api.request("GET", f"{BASE}/tags?limit=1&page=2", key).json()["data"]
    assert second == [{"name": "prod", "monitors": 2}]


def test_deleting_a_monitor_resolves_its_open_incident(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor_id = org.ids["monitor_id"]
    with api.session() as session:
        outage = create_incident(
            session, org.id, title="Shop is down", monitor_ids=[monitor_id], automatic=True
        )
        manual = create_incident(session, org.id, title="Payments", monitor_ids=[monitor_id])
        session.commit()
        outage_id, manual_id = outage.id, manual.id

    assert api.request("DELETE", f"{BASE}/{monitor_id}", key).status_code == 204
    incident = api.request("GET", f"/api/v1/incidents/{outage_id}", key).json()
    assert incident["status"] == "resolved"
    assert incident["updates"][-1]["message"] == "Resolved: the monitor was deleted."
    # A person opened the other one; a person closes it.
    assert api.request("GET", f"/api/v1/incidents/{manual_id}", key).json()["status"] == (
        "investigating"
    )
    with api.session() as session:
        resolved = session.scalars(
            select(Event.type).where(
                Event.incident_id == outage_id, Event.type == "incident.resolved"
            )
        ).all()
    assert resolved == ["incident.resolved"]
