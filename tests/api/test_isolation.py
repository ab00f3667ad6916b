"""A key of organization A gets 404 for every resource id of organization B, everywhere."""

from __future__ import annotations

from picket.db.models import ApiKey, Incident, MaintenanceWindow, Monitor, Probe
from tests.api.conftest import Api
from tests.api.routing import endpoints, example_body


def test_other_organizations_ids_are_404_on_every_endpoint(api: Api) -> None:
    org_a = api.organization("A")
    org_b = api.organization("B")
    key_a = api.key(org_a, ["full"])
    openapi = api.client.get("/openapi.json").json()
    tried = []
    for endpoint in endpoints(api.app):
        if endpoint.public or not endpoint.params:
            continue
        response = api.request(
            endpoint.method,
            endpoint.url(org_b.ids),
            key_a,
            json=example_body(openapi, endpoint, org_a.ids),
        )
        assert response.status_code == 404, f"{endpoint}: {response.status_code} {response.text}"
        body = response.json()
        assert set(body) == {"detail"}
        assert not any(value in body["detail"] for value in org_b.ids.values())
        tried.append(str(endpoint))
    assert len(tried) >= 20, tried

    # Nothing of B's changed, although A tried to delete, pause, resolve and revoke it all.
    with api.session() as session:
        monitor = session.get(Monitor, org_b.ids["monitor_id"])
        assert monitor and monitor.deleted_at is None and not monitor.paused
        incident = session.get(Incident, org_b.ids["incident_id"])
        assert incident and incident.resolved_at is None and incident.acknowledged_at is None
        key = session.get(ApiKey, org_b.ids["key_id"])
        assert key and key.revoked_at is None
        probe = session.get(Probe, org_b.ids["probe_id"])
        assert probe and probe.revoked_at is None
        assert session.get(MaintenanceWindow, org_b.ids["window_id"]) is not None


def test_lists_show_only_own_organization(api: Api) -> None:
    org_a = api.organization("A")
    org_b = api.organization("B")
    key_a = api.key(org_a, ["full"])
    for path in ("monitors", "incidents", "keys", "probes", "maintenance-windows", "audit-log"):
        data = api.request("GET", f"/api/v1/{path}?limit=100", key_a).json()["data"]
        ids = {item["id"] for item in data}
        assert not ids & set(org_b.ids.values()), path


def test_bulk_and_references_do_not_reach_other_organizations(api: Api) -> None:
    org_a = api.organization("A")
    org_b = api.organization("B")
    key_a = api.key(org_a, ["full"])
    b_incident = org_b.ids["incident_id"]
    response = api.request(
        "POST", "/api/v1/incidents/bulk-resolve", key_a, json={"ids": [b_incident]}
    )
    assert response.json() == {
        "updated": [],
        "skipped": [{"id": b_incident, "reason": "not found"}],
    }
    response = api.request(
        "POST",
        "/api/v1/incidents",
        key_a,
        json={"title": "x", "monitor_ids": [org_b.ids["monitor_id"]]},
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("monitor_ids: unknown monitor")
    response = api.request("GET", f"/api/v1/incidents?monitor_id={org_b.ids['monitor_id']}", key_a)
    assert response.json()["data"] == []
