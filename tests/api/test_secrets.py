"""API keys and probe tokens are never stored or logged in clear."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect, select, text

from picket.db.models import ApiKey
from picket.db.schema import Base
from tests.api.conftest import Api


def _everything_stored(api: Api) -> str:
    """Every value of every row of every table, as one text."""
    parts = []
    with api.session() as session:
        tables = inspect(session.get_bind()).get_table_names()
        for table in tables:
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    assert set(Base.metadata.tables) <= set(tables)
    return "\n".join(parts)


def test_keys_and_tokens_are_stored_only_as_hashes(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQL statements and their parameters too: a raw key must not reach a query.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    org = api.organization("A")
    admin = api.key(org, ["admin", "full"])
    created = api.request("POST", "/api/v1/keys", admin, json={"name": "ci", "scopes": ["full"]})
    assert created.status_code == 201
    raw_key = created.json()["raw_key"]
    assert raw_key.startswith("pk_") and len(raw_key) == 35
    assert created.json()["key"]["prefix"] == raw_key[:8]

    organization = api.request("POST", "/api/v1/organizations", admin, json={"name": "Acme"})
    org_key = organization.json()["raw_key"]
    probe = api.request(
        "POST", "/api/v1/probes", admin, json={"name": "p", "region": "eu-west"}
    ).json()
    rotated = api.request("POST", f"/api/v1/probes/{probe['id']}/rotate-token", admin).json()
    secrets = [admin, raw_key, org_key, probe["token"], rotated["token"]]
    assert f"PICKET_PROBE_TOKEN={rotated['token']}" in rotated["command"]

    # Use the new keys, so authentication's own queries are in the logs as well.
    for key in (raw_key, org_key):
        assert api.request("GET", "/api/v1/monitors", key).status_code == 200
    listed = api.request("GET", "/api/v1/keys", admin).json()["data"]
    assert "raw_key" not in str(listed) and "key_hash" not in str(listed)

    stored = _everything_stored(api)
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert "SELECT" in logged, "SQL logging was not captured; the log check would be empty"
    for secret in secrets:
        assert secret not in stored
        assert secret not in logged
    # Only the hash reaches the database, so a leaked dump gives no working key.
    with api.session() as session:
        hashes = session.scalars(select(ApiKey.key_hash)).all()
    assert all(len(h) == 64 for h in hashes)
