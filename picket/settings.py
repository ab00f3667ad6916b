"""Settings shared by every process, read from PICKET_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PICKET_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Path("./picket-data")
    database_url: str = ""
    nats_url: str = "nats://127.0.0.1:4222"
    collector_addr: str = "127.0.0.1:50051"
    collector_public_addr: str = ""
    probe_token: str = ""
    region: str = ""
    source_address: str = ""
    # PEM file of extra CA certificates probes trust besides the public roots (private CAs).
    ca_file: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_public_url: str = ""
    admin_api_key: str = ""
    # Seals notification channel secrets in the database; empty: stored unsealed.
    secret_key: str = ""
    allow_private_targets: bool = False
    ping_interval_s: float = Field(default=10.0, gt=0)
    rate_limit_per_minute: int = Field(default=100, ge=1)
    ingest_batch_size: int = Field(default=500, ge=1, le=10_000)
    probe_concurrency: int = Field(default=200, ge=1)
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    spool_max_age_s: float = Field(default=24 * 3600, gt=0)
    # Test and diagnostic aid: shifts the probe's own clock by this many seconds, to show
    # how the collector handles a probe whose clock is wrong.
    clock_offset_s: float = 0.0
    raw_retention_days: int = Field(default=30, ge=1)
    export_ttl_hours: int = Field(default=24, ge=1)
    log_level: str = "INFO"
    # Collector and probe serve /healthz, /readyz and /metrics here; 0 turns it off.
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=0, ge=0, le=65535)
    # The `picket` command-line client's API and key (monitors, incidents, apply, ...).
    api_url: str = "http://127.0.0.1:8000"
    api_key: str = ""

    @field_validator("database_url", "nats_url", "collector_addr")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'picket.db').resolve()}"


class SettingsError(SystemExit):
    """A bad setting: carries the one line that names the variable and what it expected."""


def _describe(error: dict[str, Any]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else "?"
    return f"{ENV_PREFIX}{field.upper()}: {error['msg']} (got {error.get('input')!r})"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value raises SettingsError with one line naming the variable."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(f"invalid setting {_describe(exc.errors()[0])}") from None
