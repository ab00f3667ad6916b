"""Fault 5: the database goes away. The collector naks with a delay instead of acking,
loses nothing and resumes by itself; the API answers 503 with a clear detail."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from picket.testing import NatsServer, Stack, wait_for
from tests.faults.support import TcpProxy, add_monitors, count_rows, crafted, publish

BATCH = 1000


@pytest.fixture
def proxied(
    tmp_path: Path, database_url: str, nats: NatsServer
) -> Iterator[tuple[Stack, TcpProxy]]:
    """Collector and API reach PostgreSQL through a proxy the test can cut."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server to cut away is PostgreSQL's case")
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    stack = Stack(tmp_path, database_url, nats.url, env={"PICKET_DATABASE_URL": through})
    try:
        yield stack, proxy
    finally:
        stack.stop()
        proxy.stop()


def _seed(stack: Stack) -> tuple[list[str], dict[str, str]]:
    monitors = add_monitors(stack, "http://127.0.0.1:9/", count=20, interval_s=60)
    return monitors, {r: stack.create_probe(r)[0] for r in ("us-east", "eu-west")}


def test_postgres_unreachable(proxied: tuple[Stack, TcpProxy], nats: NatsServer) -> None:
    stack, proxy = proxied
    monitors, probes = _seed(stack)
    results = crafted(monitors, probes, 3 * BATCH)
    collector = stack.start_collector()
    stack.start_api()
    publish(nats.url, results[:BATCH])
    wait_for(lambda: count_rows(stack) == BATCH, timeout=30, message="first results stored")

    proxy.cut()
    publish(nats.url, results[BATCH : 2 * BATCH])
    wait_for(
        lambda: "database unavailable" in collector.log_text(),
        timeout=30,
        message="the collector to nak while the database is away",
    )
    with stack.api() as client:
        answer = client.get("/monitors")
    assert answer.status_code == 503, answer.text
    assert "database is unavailable" in answer.json()["detail"]
    assert answer.headers["Retry-After"]
    assert count_rows(stack) == BATCH

    proxy.restore()
    publish(nats.url, results[2 * BATCH :])
    wait_for(
        lambda: count_rows(stack) == 3 * BATCH,
        timeout=60,
        message="ingest to resume by itself and store everything",
    )
    assert collector.running
    with stack.api() as client:
        assert client.get("/monitors").status_code == 200


def test_sqlite_locked(stack: Stack, nats: NatsServer, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a lock held on the file is SQLite's way to be unavailable")
    monitors, probes = _seed(stack)
    results = crafted(monitors, probes, 2 * BATCH)
    collector = stack.start_collector()
    publish(nats.url, results[:BATCH])
    wait_for(lambda: count_rows(stack) == BATCH, timeout=30, message="first results stored")

    path = make_url(database_url).database
    assert path
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        publish(nats.url, results[BATCH:])
        held_until = time.monotonic() + 3
        while time.monotonic() < held_until:
            assert count_rows(stack) == BATCH
            time.sleep(0.2)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: count_rows(stack) == 2 * BATCH, timeout=60, message="ingest to resume")
    assert collector.running
