from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from picket.health import HealthServer, database_check
from picket.metrics import record_check


async def get(server: HealthServer, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(method, f"http://127.0.0.1:{server.port}{path}")


async def test_health_readiness_and_metrics() -> None:
    state = {"nats": False}

    async def slow() -> bool:
        await asyncio.sleep(60)
        return True

    def broken() -> bool:
        raise RuntimeError("no")

    server = HealthServer(
        "127.0.0.1",
        0,
        {"nats": lambda: state["nats"], "grpc": lambda: True},
    )
    await server.start()
    try:
        assert (await get(server, "/healthz")).json() == {"status": "ok"}

        not_ready = await get(server, "/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json() == {
            "status": "not ready",
            "checks": {"nats": "unreachable", "grpc": "ok"},
        }
        state["nats"] = True
        assert (await get(server, "/readyz?verbose=1")).status_code == 200

        server.checks = {"slow": slow, "broken": broken}
        checks = json.loads((await get(server, "/readyz")).text)["checks"]
        assert checks == {"slow": "unreachable", "broken": "unreachable"}

        record_check("tcp", "connect")
        metrics = await get(server, "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'picket_checks_total{kind="tcp",outcome="connect"}' in metrics.text

        assert (await get(server, "/nope")).status_code == 404
        assert (await get(server, "/healthz", "POST")).status_code == 405
    finally:
        await server.close()


async def test_database_check(database_url: str) -> None:
    from picket.db.engine import make_engine

    engine = make_engine(database_url)
    assert await database_check(engine)() is True
    engine.dispose()
    missing = make_engine("sqlite:////nonexistent-dir/picket.db")
    with pytest.raises(OperationalError, match="unable to open"):
        await database_check(missing)()
