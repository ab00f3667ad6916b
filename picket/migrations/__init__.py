"""Alembic migrations; `picket migrate` (or migrate()) brings a database up to date."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from picket.db.engine import normalize_url

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)
