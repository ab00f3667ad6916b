"""Shared set-up for benchmarks: fresh databases and a private nats-server."""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from picket.migrations import migrate

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fresh_database(backend: str, workdir: Path) -> str:
    """A new, migrated database: an SQLite file, or a PostgreSQL database of its own."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        base = make_url(os.environ.get("PICKET_BENCH_DATABASE_URL", DEFAULT_PG))
        name = f"picket_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = base.set(database=name).render_as_string(False)
    migrate(url)
    return url


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="picket-bench-"))


def backend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
