"""Probes: token shown once with its start command, liveness, rotation and revocation."""

from __future__ import annotations

from datetime import timedelta

from picket.db.models import Probe
from picket.db.probes import create_probe, find_probe_by_token
from picket.db.types import utcnow
from tests.api.conftest import Api, make_api


def test_probe_lifecycle(database_url: str) -> None:
    for api in make_api(database_url, collector_public_addr="collector.example.net:50051"):
        org = api.organization("A")
        key = api.key(org, ["probes:read", "probes:write"])
        created = api.request(
            "POST", "/api/v1/probes", key, json={"name": "fra", "region": "ap-south"}
        )
        assert created.status_code == 201, created.text
        probe = created.json()
        token = probe["token"]
        assert probe["region"] == "ap-south" and token.startswith("pt_")
        assert probe["command"] == (
            f"PICKET_COLLECTOR_ADDR=collector.example.net:50051 PICKET_PROBE_TOKEN={token} "
            "picket probe"
        )
        assert probe["status"] == "offline" and probe["live"] is False
        with api.session() as session:
            found = find_probe_by_token(session, token)
            assert found is not None and found.region == "ap-south"
            found.last_seen_at = utcnow()
            found.version = "0.1.0"
            session.commit()

        listed = api.request("GET", "/api/v1/probes?region=ap-south", key).json()["data"]
        assert [(p["id"], p["status"], p["version"]) for p in listed] == [
            (probe["id"], "live", "0.1.0")
        ]
        assert "token" not in listed[0]

        with api.session() as session:
            row = session.get(Probe, probe["id"])
            assert row is not None
            row.last_seen_at = utcnow() - timedelta(minutes=5)
            row.unhealthy = True
            session.commit()
        seen = api.request("GET", f"/api/v1/probes/{probe['id']}", key).json()
        assert seen["status"] == "offline" and seen["unhealthy"] is True

        rotated = api.request("POST", f"/api/v1/probes/{probe['id']}/rotate-token", key).json()
        assert rotated["token"] != token and rotated["token"] in rotated["command"]
        with api.session() as session:
            assert find_probe_by_token(session, token) is None
            assert find_probe_by_token(session, rotated["token"]) is not None

        assert api.request("DELETE", f"/api/v1/probes/{probe['id']}", key).status_code == 204
        with api.session() as session:
            assert find_probe_by_token(session, rotated["token"]) is None
        gone = api.request("GET", f"/api/v1/probes/{probe['id']}", key).json()
        assert gone["status"] == "revoked"
        assert api.request("GET", "/api/v1/probes?region=ap-south", key).json()["data"] == []
        again = api.request("POST", f"/api/v1/probes/{probe['id']}/rotate-token", key)
        assert again.status_code == 409


def test_region_names_are_validated(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    bad = api.request("POST", "/api/v1/probes", key, json={"name": "x", "region": "EU West"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("region:")


def test_shared_probes_are_listed_but_not_managed(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    with api.session() as session:
        shared, _ = create_probe(session, "local", "us-east")
        session.commit()
        shared_id = shared.id
    listed = api.request("GET", "/api/v1/probes?region=us-east", key).json()["data"]
    assert [(p["id"], p["shared"]) for p in listed] == [(shared_id, True)]
    assert api.request("DELETE", f"/api/v1/probes/{shared_id}", key).status_code == 404
