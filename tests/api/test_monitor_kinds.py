"""Creating monitors of every kind: settings validated per kind, targets screened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from picket.api.app import create_app
from picket.db.accounts import create_api_key, create_organization
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models_checks import Heartbeat
from picket.settings import Settings
from picket.specs import KIND_SETTINGS

Client = Callable[[bool], TestClient]


@pytest.fixture
def client_for(database_url: str) -> Iterator[Client]:
    """An API client with a full key; the argument sets PICKET_ALLOW_PRIVATE_TARGETS."""
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        org = create_organization(session, "Shop")
        _, raw = create_api_key(session, org.id, "test", ["full"])
    engine.dispose()
    clients: list[TestClient] = []

    def make(allow_private: bool) -> TestClient:
        settings = Settings(database_url=database_url, allow_private_targets=allow_private)
        client = TestClient(create_app(settings), headers={"Authorization": f"Bearer {raw}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
        client.app.state.engine.dispose()


@pytest.fixture
def client(client_for: Client) -> TestClient:
    return client_for(False)


def create(client: TestClient, **body: Any) -> Any:
    body.setdefault("name", "m")
    return client.post("/api/v1/monitors", json=body)


def api_steps(*urls: str) -> dict[str, Any]:
    return {"steps": [{"name": f"s{i}", "url": url} for i, url in enumerate(urls)]}


VALID = [
    {"type": "http", "url": "https://shop.example.com", "http": {"keyword": "Welcome"}},
    {"type": "tcp", "url": "db.example.com", "tcp": {"port": 5432, "expect": "OK"}},
    {
        "type": "dns",
        "url": "shop.example.com",
        "dns": {"record_type": "mx", "expected": ["10 mail.example.com"], "resolver": "1.1.1.1"},
    },
    {"type": "icmp", "url": "shop.example.com", "icmp": {"count": 3}},
    {"type": "tls", "url": "shop.example.com", "tls": {"expiry_thresholds_days": [7, 30]}},
    {"type": "heartbeat", "heartbeat": {"grace_seconds": 60, "cron": "*/5 * * * *"}},
    {
        "type": "api",
        "api": {
            "steps": [
                {
                    "name": "login",
                    "method": "post",
                    "url": "https://api.example.com/login",
                    "body": {"user": "ann"},
                    "extract": {"token": "data.access_token"},
                },
                {
                    "name": "me",
                    "url": "https://api.example.com/me",
                    "headers": {"Authorization": "Bearer {{token}}"},
                    "assertions": [{"type": "json_path", "path": "name", "equals": "Ann"}],
                },
            ]
        },
    },
]


@pytest.mark.parametrize("body", VALID, ids=[b["type"] for b in VALID])
def test_every_kind_is_created_with_its_settings(client: TestClient, body: dict[str, Any]) -> None:
    response = create(client, **body)
    assert response.status_code == 201, response.text
    kind = body["type"]
    stored = response.json()[kind]
    for key, value in body.get(kind, {}).items():
        if key not in {"record_type", "steps", "expiry_thresholds_days"}:
            assert stored[key] == value
    fetched = client.get(f"/api/v1/monitors/{response.json()['id']}").json()
    assert fetched[kind] == stored
    # What is stored is what probes get: it must read back as the same settings.
    model = KIND_SETTINGS[kind]
    assert model.model_validate(stored).model_dump(mode="json") == stored


def test_settings_are_normalized_and_defaulted(client: TestClient) -> None:
    tls = create(
        client, type="tls", url="shop.example.com", tls={"expiry_thresholds_days": [7, 30]}
    )
    assert tls.json()["tls"] == {"port": 443, "expiry_thresholds_days": [30, 7]}
    dns = create(client, type="dns", url="shop.example.com", dns={"record_type": "mx"})
    assert dns.json()["dns"]["record_type"] == "MX"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"type": "http", "url": "https://a.example", "http": {"port": 80}},
            "http.port: Extra inputs are not permitted",
        ),
        (
            {"type": "http", "url": "https://a.example", "tcp": {"port": 80}},
            "tcp: settings do not apply to a http monitor",
        ),
        ({"type": "tcp", "url": "db.example"}, "tcp: port: Field required"),
        ({"type": "tcp", "url": "db.example", "tcp": {"port": 70000}}, "tcp.port:"),
        ({"type": "tcp", "tcp": {"port": 5432}}, "url: required for a tcp monitor"),
        (
            {"type": "tls", "url": "https://shop.example/"},
            "url: a tls monitor takes a host name or IP address (no scheme, port or path)",
        ),
        ({"type": "http", "url": "ftp://shop.example/"}, "url: expected an http:// or https://"),
        (
            {"type": "dns", "url": "a.example", "dns": {"record_type": "SRV"}},
            "dns.record_type:",
        ),
        (
            {"type": "dns", "url": "a.example", "dns": {"resolver": "dns.google"}},
            "dns.resolver: Value error, expected an IP address",
        ),
        ({"type": "icmp", "url": "a.example", "icmp": {"count": 0}}, "icmp.count:"),
        (
            {"type": "tls", "url": "a.example", "tls": {"expiry_thresholds_days": [0]}},
            "tls.expiry_thresholds_days:",
        ),
        ({"type": "heartbeat", "heartbeat": {"cron": "every day"}}, "heartbeat.cron:"),
        ({"type": "heartbeat", "heartbeat": {"timezone": "Mars/Base"}}, "heartbeat.timezone:"),
        (
            {"type": "http", "url": "https://a.example", "http": {"expected_status": ["2xy"]}},
            "http.expected_status:",
        ),
        ({"type": "api"}, "api: steps: Field required"),
        ({"type": "api", "api": api_steps(*["https://a.example/"] * 11)}, "api.steps:"),
        (
            {
                "type": "api",
                "api": {
                    "steps": [{"name": "a", "url": "https://a.example/{{token}}"}],
                },
            },
            "step 1 (a) uses {{token}}, which no earlier step extracts",
        ),
        (
            {
                "type": "api",
                "api": {
                    "steps": [
                        {
                            "name": "a",
                            "url": "https://a.example/",
                            "assertions": [{"type": "json_path", "equals": 1}],
                        }
                    ]
                },
            },
            "api.steps.0.assertions.0.json_path.path: Field required",
        ),
        (
            {
                "type": "api",
                "api": {
                    "steps": [
                        {"name": "a", "url": "https://a.example/", "assertions": [{"type": "x"}]}
                    ]
                },
            },
            "api.steps.0.assertions.0:",
        ),
    ],
)
def test_wrong_settings_get_422_naming_the_field(
    client: TestClient, body: dict[str, Any], detail: str
) -> None:
    response = create(client, **body)
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "http", "url": "http://169.254.169.254/"}, "url"),
        ({"type": "http", "url": "http://[fd00:ec2::254]/latest/"}, "url"),
        ({"type": "http", "url": "http://[::ffff:169.254.169.254]/"}, "url"),
        ({"type": "http", "url": "http://metadata.google.internal/"}, "url"),
        ({"type": "tcp", "url": "169.254.169.254", "tcp": {"port": 80}}, "url"),
        ({"type": "icmp", "url": "169.254.1.1"}, "url"),
        ({"type": "tls", "url": "fe80::1"}, "url"),
        (
            {"type": "api", "api": api_steps("https://ok.example/", "http://169.254.169.254/")},
            "api.steps.1.url",
        ),
        (
            {"type": "dns", "url": "a.example", "dns": {"resolver": "169.254.169.253"}},
            "dns.resolver",
        ),
    ],
)
def test_metadata_and_link_local_targets_always_refused(
    client_for: Client, allow_private: bool, body: dict[str, Any], field: str
) -> None:
    response = create(client_for(allow_private), **body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ")
    assert "never checked" in detail


def test_acceptance_metadata_url_gets_clear_422(client_for: Client) -> None:
    for allow_private in (False, True):
        response = create(client_for(allow_private), type="http", url="http://169.254.169.254/")
        assert response.status_code == 422
        assert response.json()["detail"] == (
            "url: 169.254.169.254 is a link-local or metadata address and is never checked"
        )


@pytest.mark.parametrize(
    "body",
    [
        {"type": "http", "url": "http://127.0.0.1:8080/"},
        {"type": "http", "url": "http://10.0.0.5/"},
        {"type": "tcp", "url": "192.168.1.10", "tcp": {"port": 22}},
        # A name (localhost) is screened when the probe resolves it; ::1 is refused now.
        {"type": "api", "api": api_steps("http://localhost/", "http://[::1]/")},
        {"type": "dns", "url": "a.example", "dns": {"resolver": "127.0.0.53:5353"}},
    ],
)
def test_private_targets_only_where_the_operator_allows(
    client_for: Client, body: dict[str, Any]
) -> None:
    refused = create(client_for(False), **body)
    assert refused.status_code == 422, refused.text
    assert "PICKET_ALLOW_PRIVATE_TARGETS" in refused.json()["detail"]
    allowed = create(client_for(True), **body)
    assert allowed.status_code == 201, allowed.text


def test_patch_screens_new_url_and_new_steps(client: TestClient) -> None:
    monitor = create(client, type="api", api=api_steps("https://a.example/")).json()
    response = client.patch(
        f"/api/v1/monitors/{monitor['id']}",
        json={"api": api_steps("https://a.example/", "http://169.254.169.254/")},
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("api.steps.1.url: ")
    http = create(client, type="http", url="https://a.example/").json()
    response = client.patch(
        f"/api/v1/monitors/{http['id']}", json={"url": "http://169.254.169.254"}
    )
    assert response.status_code == 422


def test_patch_refuses_wrong_field_for_the_kind(client: TestClient) -> None:
    monitor = create(client, type="tcp", url="db.example", tcp={"port": 5432}).json()
    response = client.patch(f"/api/v1/monitors/{monitor['id']}", json={"tcp": {"sned": "x"}})
    assert response.status_code == 422
    assert "tcp.sned" in response.json()["detail"]


def test_heartbeat_monitor_gets_a_token_and_takes_pings_without_a_key(
    client: TestClient, database_url: str
) -> None:
    created = create(client, type="heartbeat", interval_seconds=60, heartbeat={"grace_seconds": 5})
    assert created.status_code == 201, created.text
    monitor = created.json()
    token = monitor["heartbeat_token"]
    assert token.startswith("hb_") and monitor["regions"] == ["push"]
    assert client.get(f"/api/v1/monitors/{monitor['id']}").json()["heartbeat_token"] == token

    anonymous = TestClient(client.app)
    assert anonymous.get(f"/api/v1/heartbeat/{token}").json() == {"status": "ok"}
    assert anonymous.post(f"/api/v1/heartbeat/{token}", content=b"done").status_code == 200
    failed = anonymous.post(f"/api/v1/heartbeat/{token}/fail", content=b"disk full")
    assert failed.json() == {"status": "fail"}
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        heartbeat = session.get(Heartbeat, monitor["id"])
        assert heartbeat is not None
        assert (heartbeat.last_ping_kind, heartbeat.last_ping_message) == ("fail", "disk full")
    engine.dispose()

    assert client.patch(f"/api/v1/monitors/{monitor['id']}", json={"name": "n"}).status_code == 200
    moved = client.patch(f"/api/v1/monitors/{monitor['id']}", json={"regions": ["us-east"]})
    assert moved.status_code == 422 and moved.json()["detail"].startswith("regions: ")
    assert client.delete(f"/api/v1/monitors/{monitor['id']}").status_code == 204
    assert anonymous.get(f"/api/v1/heartbeat/{token}").status_code == 404


def test_unknown_heartbeat_token_is_404(client: TestClient) -> None:
    for path in ("/api/v1/heartbeat/hb_nope", "/api/v1/heartbeat/hb_nope/fail"):
        response = TestClient(client.app).post(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "unknown heartbeat token"}


def test_heartbeat_monitors_have_no_regions(client: TestClient) -> None:
    response = create(client, type="heartbeat", regions=["us-east"])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("regions: ")
    other = create(client, type="http", url="https://a.example", tags=["x"]).json()
    assert "heartbeat_token" not in other or other["heartbeat_token"] is None
