"""Test support shared by the test suite and the benchmarks: real servers, fresh databases.

Nothing here fakes a Picket component: it starts real nats-server processes and makes
real databases (SQLite files, or PostgreSQL databases cloned from a migrated template).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from picket.db.engine import normalize_url
from picket.migrations import migrate
from picket.nats_server import NatsServer
from picket.net import free_port, wait_for, wait_for_port

__all__ = [
    "DatabaseFactory",
    "NatsServer",
    "Stack",
    "free_port",
    "nats_server",
    "test_backends",
    "wait_for",
    "wait_for_port",
]


@contextmanager
def nats_server(store_dir: Path | None = None) -> Iterator[NatsServer]:
    tmp = None
    if store_dir is None:
        tmp = tempfile.mkdtemp(prefix="picket-nats-")
        store_dir = Path(tmp)
    server = NatsServer(store_dir).start()
    try:
        yield server
    finally:
        server.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


class DatabaseFactory:
    """Fresh, migrated databases: SQLite files, or PostgreSQL databases from a template."""

    def __init__(self, workdir: Path, postgres_url: str | None) -> None:
        self.workdir = workdir
        self.postgres_url = normalize_url(postgres_url) if postgres_url else None
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_created: list[str] = []

    def sqlite(self) -> str:
        if self._sqlite_template is None:
            self._sqlite_template = self.workdir / "template.db"
            migrate(f"sqlite:///{self._sqlite_template}")
        target = self.workdir / f"db-{uuid.uuid4().hex[:12]}.db"
        shutil.copy(self._sqlite_template, target)
        return f"sqlite:///{target}"

    def _admin(self) -> Any:
        assert self.postgres_url
        url = make_url(self.postgres_url).set(database="postgres")
        return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=None)

    def postgres(self) -> str:
        assert self.postgres_url, "PICKET_TEST_DATABASE_URL is not set"
        base = make_url(self.postgres_url)
        engine = self._admin()
        try:
            with engine.connect() as conn:
                if self._pg_template is None:
                    self._pg_template = f"picket_tmpl_{uuid.uuid4().hex[:10]}"
                    conn.execute(text(f'CREATE DATABASE "{self._pg_template}"'))
                    self._pg_created.append(self._pg_template)
                    migrate(base.set(database=self._pg_template).render_as_string(False))
                name = f"picket_test_{uuid.uuid4().hex[:12]}"
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"'))
                self._pg_created.append(name)
        finally:
            engine.dispose()
        return base.set(database=name).render_as_string(False)

    def make(self, backend: str) -> str:
        return self.sqlite() if backend == "sqlite" else self.postgres()

    def cleanup(self) -> None:
        if not self._pg_created:
            return
        engine = self._admin()
        try:
            with engine.connect() as conn:
                for name in reversed(self._pg_created):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()


def test_backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("PICKET_TEST_DATABASE_URL") else ["sqlite"]


class Stack:
    """Collector, API and probes as real subprocesses over one database and NATS server."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        nats_url: str,
        ping_interval_s: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        from picket.db.engine import make_engine, make_sessionmaker

        self.workdir = workdir
        self.database_url = database_url
        self.nats_url = nats_url
        self.collector_addr = f"127.0.0.1:{free_port()}"
        self.api_port = free_port()
        self.env = {
            "PICKET_DATABASE_URL": database_url,
            "PICKET_NATS_URL": nats_url,
            "PICKET_COLLECTOR_ADDR": self.collector_addr,
            "PICKET_PING_INTERVAL_S": str(ping_interval_s),
            "PICKET_ALLOW_PRIVATE_TARGETS": "true",
            "PICKET_DATA_DIR": str(workdir / "data"),
            "PICKET_LOG_LEVEL": "INFO",
            # Tests poll the API in tight loops; rate limiting has tests of its own.
            "PICKET_RATE_LIMIT_PER_MINUTE": "1000000",
            **(env or {}),
        }
        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.children: list[Any] = []
        self.admin_key = "pk_" + uuid.uuid4().hex[:32]
        from picket.db.accounts import ensure_admin_key
        from picket.db.engine import transaction

        with transaction(self.sessions) as session:
            ensure_admin_key(session, self.admin_key)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _child(self, name: str, role: str, env: dict[str, str]) -> Any:
        from picket.children import Child

        child = Child(name, role, {**self.env, **env}, self.workdir / "logs" / f"{name}.log")
        self.children.append(child.start())
        return child

    def start_collector(self, name: str = "collector", **env: str) -> Any:
        child = self._child(name, "collector", env)
        host, port = self.collector_addr.rsplit(":", 1)
        wait_for_port(host, int(port), timeout=30)
        return child

    def start_api(self) -> Any:
        import httpx

        child = self._child(
            "api", "api", {"PICKET_API_PORT": str(self.api_port), "PICKET_API_HOST": "127.0.0.1"}
        )

        def answers() -> bool:
            assert child.running, child.log_text()
            try:
                return httpx.get(f"{self.api_url}/openapi.json", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=30, message="the API to answer")
        return child

    def create_probe(self, region: str, name: str | None = None) -> tuple[str, str]:
        from picket.db.engine import transaction
        from picket.db.probes import create_probe

        with transaction(self.sessions) as session:
            probe, token = create_probe(session, name or f"probe-{region}", region)
            return probe.id, token

    def start_probe(
        self, region: str, token: str | None = None, name: str | None = None, **env: str
    ) -> tuple[Any, str]:
        """Start a probe for region (a new one unless token is given); returns (child, id)."""
        probe_id = ""
        if token is None:
            probe_id, token = self.create_probe(region, name)
        child = self._child(
            name or f"probe-{region}-{len(self.children)}",
            "probe",
            {"PICKET_REGION": region, "PICKET_PROBE_TOKEN": token, **env},
        )
        return child, probe_id

    def api(self) -> Any:
        import httpx

        return httpx.Client(
            base_url=f"{self.api_url}/api/v1",
            timeout=10,
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )

    def logs(self) -> str:
        return "\n".join(f"== {c.name}\n{c.log_text()[-4000:]}" for c in self.children)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.signal(15)
        for child in reversed(self.children):
            child.stop()
        self.engine.dispose()
