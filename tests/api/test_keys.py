"""API keys and organizations."""

from __future__ import annotations

from picket.db.accounts import ensure_admin_key
from picket.db.models import ApiKey
from tests.api.conftest import Api


def test_create_list_and_revoke_a_key(api: Api) -> None:
    org = api.organization("A")
    manager = api.key(org, ["full"])
    created = api.request(
        "POST", "/api/v1/keys", manager, json={"name": "dashboard", "scopes": ["read_only"]}
    )
    assert created.status_code == 201, created.text
    raw = created.json()["raw_key"]
    key = created.json()["key"]
    assert key["scopes"] == ["read_only"] and key["last_used_at"] is None

    assert api.request("GET", "/api/v1/monitors", raw).status_code == 200
    assert api.request("POST", "/api/v1/incidents", raw, json={"title": "x"}).status_code == 403
    listed = api.request("GET", "/api/v1/keys?limit=100", manager).json()["data"]
    mine = next(k for k in listed if k["id"] == key["id"])
    assert mine["prefix"] == raw[:8] and mine["last_used_at"] is not None
    assert all(set(k) == set(key) for k in listed)

    assert api.request("DELETE", f"/api/v1/keys/{key['id']}", manager).status_code == 204
    refused = api.request("GET", "/api/v1/monitors", raw)
    assert refused.status_code == 401 and refused.json() == {"detail": "invalid or revoked API key"}
    listed = api.request("GET", "/api/v1/keys?limit=100", manager).json()["data"]
    assert key["id"] not in {k["id"] for k in listed}
    everything = api.request("GET", "/api/v1/keys?limit=100&include_revoked=true", manager)
    assert key["id"] in {k["id"] for k in everything.json()["data"]}
    assert api.request("DELETE", f"/api/v1/keys/{key['id']}", manager).status_code == 204


def test_scopes_are_validated_and_cannot_escalate(api: Api) -> None:
    org = api.organization("A")
    narrow = api.key(org, ["keys:write", "monitors:read"])

    def create(key: str, scopes: list[str]) -> tuple[int, str]:
        response = api.request("POST", "/api/v1/keys", key, json={"name": "k", "scopes": scopes})
        return response.status_code, response.json().get("detail", "")

    assert create(narrow, ["monitors:read"])[0] == 201
    assert create(narrow, ["monitors:sleep"]) == (422, "scopes: unknown scope 'monitors:sleep'")
    assert create(narrow, ["monitors:write"]) == (
        403,
        "scopes: this API key cannot grant 'monitors:write'",
    )
    assert create(narrow, ["read_only"])[0] == 403
    full = api.key(org, ["full"])
    assert create(full, ["full"])[0] == 201
    assert create(full, ["admin"]) == (403, "scopes: this API key cannot grant 'admin'")
    assert create(full, [])[0] == 422


def test_admin_creates_organizations_with_a_first_key(api: Api) -> None:
    with api.session() as session:
        ensure_admin_key(session, "pk_" + "a" * 32)
        session.commit()
    admin = "pk_" + "a" * 32
    made = api.request("POST", "/api/v1/organizations", admin, json={"name": "Acme"})
    assert made.status_code == 201, made.text
    org_id = made.json()["organization"]["id"]
    first = made.json()["raw_key"]
    with api.session() as session:
        (row,) = [k for k in session.query(ApiKey).filter_by(organization_id=org_id)]
        assert row.scopes == ["full"]
    # The new organization starts empty and cannot see the admin's.
    assert api.request("GET", "/api/v1/monitors", first).json()["data"] == []
    created = api.request(
        "POST",
        "/api/v1/monitors",
        first,
        json={"name": "Acme site", "type": "http", "url": "https://acme.example"},
    )
    assert created.status_code == 201
    assert api.request("GET", "/api/v1/monitors", admin).json()["data"] == []
    # Only the admin key may create organizations.
    refused = api.request("POST", "/api/v1/organizations", first, json={"name": "Evil"})
    assert refused.status_code == 403
    listed = api.request("GET", "/api/v1/organizations", admin).json()["data"]
    assert "Acme" in {o["name"] for o in listed}
