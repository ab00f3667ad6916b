from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from picket.api.app import create_app
from picket.cli import main
from picket.db.accounts import create_api_key, create_organization, ensure_admin_key
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.monitors import ensure_region
from picket.settings import Settings
from picket.testing import free_port, wait_for

REGIONS = ("us-east", "eu-west", "ap-south")
ADMIN_KEY = "pk_" + "a" * 32


@dataclass
class Api:
    url: str
    key: str
    database_url: str

    def key_of_new_organization(self, scopes: list[str]) -> str:
        engine = make_engine(self.database_url)
        with transaction(make_sessionmaker(engine)) as session:
            org = create_organization(session, "Other")
            _, raw = create_api_key(session, org.id, "other", scopes)
        engine.dispose()
        return raw


@pytest.fixture
def api(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The real API (create_app) served by uvicorn on a free loopback port, fresh database;
    PICKET_API_URL and PICKET_API_KEY point the client at it."""
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        ensure_admin_key(session, ADMIN_KEY)
        for region in REGIONS:
            ensure_region(session, region)
    engine.dispose()
    port = free_port()
    settings = Settings(database_url=database_url, allow_private_targets=True)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30, message="uvicorn to start")
        url = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("PICKET_API_URL", url)
        monkeypatch.setenv("PICKET_API_KEY", ADMIN_KEY)
        yield Api(url, ADMIN_KEY, database_url)
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `picket ARGS...` in this process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
