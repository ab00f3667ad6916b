"""The audit log records which key did what to which resource."""

from __future__ import annotations

from sqlalchemy import func, select

from picket.db.models import ApiKey, AuditEntry
from tests.api.conftest import Api
from tests.api.routing import endpoints, example_body


def test_write_endpoints_are_audited_and_filterable(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    with api.session() as session:
        key_id = session.scalars(
            select(ApiKey.id).where(ApiKey.organization_id == org.id, ApiKey.name == "test")
        ).one()
    monitor = api.request(
        "POST",
        "/api/v1/monitors",
        key,
        json={"name": "Shop", "type": "http", "url": "https://shop.example.com"},
    ).json()
    api.request("PATCH", f"/api/v1/monitors/{monitor['id']}", key, json={"name": "Shop 2"})
    api.request("POST", f"/api/v1/monitors/{monitor['id']}/pause", key)
    created_key = api.request(
        "POST", "/api/v1/keys", key, json={"name": "ci", "scopes": ["read_only"]}
    ).json()
    api.request("GET", "/api/v1/monitors", key)  # reads are not audited

    entries = api.request("GET", "/api/v1/audit-log?limit=100", key).json()["data"]
    assert [(e["action"], e["resource_id"]) for e in entries] == [
        ("key.create", created_key["key"]["id"]),
        ("monitor.pause", monitor["id"]),
        ("monitor.update", monitor["id"]),
        ("monitor.create", monitor["id"]),
    ]
    assert {e["key_id"] for e in entries} == {key_id}
    assert entries[2]["detail"] == {"fields": ["name"]}
    assert created_key["raw_key"] not in str(entries)

    def actions(query: str) -> list[str]:
        response = api.request("GET", f"/api/v1/audit-log?{query}", key)
        assert response.status_code == 200, response.text
        return [e["action"] for e in response.json()["data"]]

    assert actions("resource_type=key") == ["key.create"]
    assert actions(f"resource_id={monitor['id']}&action=monitor.pause") == ["monitor.pause"]
    assert actions("key_id=someone-else") == []
    assert actions("from=2999-01-01T00:00:00Z") == []
    # Another organization's log is its own.
    other = api.key(api.organization("B"), ["full"])
    assert api.request("GET", "/api/v1/audit-log", other).json()["data"] == []


def test_a_refused_write_leaves_no_entry(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    response = api.request(
        "POST", "/api/v1/monitors", key, json={"name": "x", "type": "http", "url": "ftp://x"}
    )
    assert response.status_code == 422
    assert api.request("GET", "/api/v1/audit-log", key).json()["data"] == []


def test_every_successful_write_is_audited(api: Api) -> None:
    openapi = api.client.get("/openapi.json").json()

    def entries() -> int:
        with api.session() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry)) or 0

    audited = []
    for endpoint in endpoints(api.app):
        if endpoint.method == "GET" or endpoint.public:
            continue
        # Fresh resources each time: an earlier write (a bulk resolve) must not leave
        # this one nothing to do.
        org = api.organization(str(endpoint))
        key = api.key(org, ["full", "admin"])
        before = entries()
        response = api.request(
            endpoint.method,
            endpoint.url(org.ids),
            key,
            json=example_body(openapi, endpoint, org.ids),
        )
        assert response.status_code < 300, f"{endpoint}: {response.status_code} {response.text}"
        assert entries() > before, f"{endpoint} changed something but wrote no audit entry"
        audited.append(str(endpoint))
    assert len(audited) >= 15, audited
