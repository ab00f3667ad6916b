from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from picket.testing import DatabaseFactory, NatsServer, Stack, nats_server, test_backends


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(
        tmp_path_factory.mktemp("databases"), os.environ.get("PICKET_TEST_DATABASE_URL")
    )
    yield factory
    factory.cleanup()


@pytest.fixture(params=test_backends())
def database_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> str:
    """A fresh, migrated database of its own: SQLite, and PostgreSQL when configured."""
    return database_factory.make(request.param)


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream on a free loopback port."""
    with nats_server(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, database_url: str, nats: NatsServer) -> Iterator[Stack]:
    """A real collector, API and probes (started by the test) over a fresh database."""
    running = Stack(tmp_path, database_url, nats.url, ping_interval_s=1.0)
    try:
        yield running
    finally:
        running.stop()
