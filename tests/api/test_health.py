from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from picket.api.app import create_app
from picket.db.accounts import create_api_key, create_organization
from picket.db.engine import make_engine, make_sessionmaker
from picket.db.models import CheckResult, Incident, MonitorState, Probe
from picket.db.monitors import create_monitor, ensure_region
from picket.db.probes import create_probe
from picket.db.types import utcnow
from picket.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def seed(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        for region in ("us-east", "eu-west"):
            ensure_region(session, region)
        org_a = create_organization(session, "A")
        org_b = create_organization(session, "B")
        _, key_a = create_api_key(session, org_a.id, "a", ["monitors:read"])
        _, key_b = create_api_key(session, org_b.id, "b", ["monitors:read"])
        shop = create_monitor(session, org_a.id, name="Shop", type="http", url="http://x", spec={})
        other = create_monitor(session, org_b.id, name="B's", type="http", url="http://y", spec={})
        session.execute(
            update(MonitorState)
            .where(MonitorState.monitor_id == shop.id)
            .values(status="degraded", region_status={"us-east": "up", "eu-west": "down"})
        )
        for minutes, latency in ((2, 90.0), (1, 120.5)):
            session.add(
                CheckResult(
                    monitor_id=shop.id,
                    region="us-east",
                    probe_id="p",
                    scheduled_at=now - timedelta(minutes=minutes),
                    ok=True,
                    latency_ms=latency,
                )
            )
        live, _ = create_probe(session, "live", "us-east")
        create_probe(session, "silent", "eu-west")
        session.execute(update(Probe).where(Probe.id == live.id).values(last_seen_at=now))
        session.add(Incident(organization_id=org_a.id, monitor_id=shop.id, title="Shop down"))
        session.add(
            Incident(organization_id=org_a.id, title="old", resolved_at=now - timedelta(days=1))
        )
        session.commit()
        ids = {"key_a": key_a, "key_b": key_b, "shop": shop.id, "other": other.id}
    engine.dispose()
    return ids


def test_healthz_and_readyz(database_url: str) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok"}
        # Operator endpoints, not REST API operations: no key, not in the OpenAPI document.
        paths = client.get("/openapi.json").json()["paths"]
        assert not {"/healthz", "/readyz", "/metrics"} & set(paths)
        assert "/api/v1/metrics" in paths


def test_readyz_is_503_when_the_database_is_gone(tmp_path) -> None:
    missing = tmp_path / "no-such-dir" / "picket.db"
    with TestClient(create_app(Settings(database_url=f"sqlite:///{missing}"))) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unreachable"


def test_metrics_show_operator_totals_without_monitor_data(database_url: str) -> None:
    ids = seed(database_url)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("picket_incidents_open", ())] == 1
    assert got[("picket_probes_live", (("region", "us-east"),))] == 1
    assert got[("picket_probes_live", (("region", "eu-west"),))] == 0
    assert ids["shop"] not in response.text


def test_monitor_gauges_are_scoped_to_the_key(database_url: str) -> None:
    ids = seed(database_url)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/metrics").status_code == 401
        mine = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {ids['key_a']}"})
        theirs = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {ids['key_b']}"})
    got = samples(mine.text)
    shop = ids["shop"]
    assert got[("picket_monitor_up", (("monitor", shop), ("region", "us-east")))] == 1
    assert got[("picket_monitor_up", (("monitor", shop), ("region", "eu-west")))] == 0
    assert got[("picket_monitor_latency_ms", (("monitor", shop), ("region", "us-east")))] == 120.5
    assert got[("picket_monitor_info", (("monitor", shop), ("name", "Shop"), ("type", "http")))]
    assert ids["other"] not in mine.text
    assert shop not in theirs.text and ids["other"] in theirs.text
    assert "process_cpu" not in mine.text
