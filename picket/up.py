"""`picket up`: everything on one machine — NATS, SQLite, collector, API, one probe per
region — until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time

import httpx
from sqlalchemy import select

from picket.children import Child
from picket.db.accounts import ensure_admin_key
from picket.db.engine import make_engine, make_sessionmaker, transaction
from picket.db.models import ApiKey, Probe
from picket.db.probes import create_probe, rotate_probe_token
from picket.db.types import utcnow
from picket.migrations import migrate
from picket.nats_server import NatsServer
from picket.net import free_port, wait_for
from picket.secrets import hash_secret, new_api_key
from picket.settings import Settings, SettingsError

log = logging.getLogger("picket.up")

UP_ADMIN_KEY_NAME = "picket up admin"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def prepare(
    settings: Settings, regions: list[str], admin_key: str | None
) -> tuple[str, dict[str, str]]:
    """Migrate, make the admin key and one shared probe per region; returns the raw admin
    key and each region's fresh probe token."""
    url = settings.effective_database_url
    migrate(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    tokens: dict[str, str] = {}
    with transaction(sessions) as session:
        if admin_key:
            raw = admin_key
        else:
            # A fresh key each run; the previous run's generated key stops working.
            for old in session.scalars(
                select(ApiKey).where(ApiKey.name == UP_ADMIN_KEY_NAME, ApiKey.revoked_at.is_(None))
            ):
                old.revoked_at = utcnow()
            raw = new_api_key()
        key = ensure_admin_key(session, raw)
        if not admin_key:
            key.name = UP_ADMIN_KEY_NAME
        for region in regions:
            name = f"local-{region}"
            probe = session.scalar(
                select(Probe).where(Probe.name == name, Probe.organization_id.is_(None))
            )
            if probe is None:
                _, tokens[region] = create_probe(session, name, region)
            else:
                probe.revoked_at = None
                tokens[region] = rotate_probe_token(session, probe)
        assert key.key_hash == hash_secret(raw)
    engine.dispose()
    return raw, tokens


def run_up(settings: Settings, regions: str, admin_key: str | None, nats_port: int | None) -> int:
    region_list = [r.strip() for r in regions.split(",") if r.strip()]
    if not region_list:
        raise SettingsError("invalid setting --regions: give at least one region")
    admin_key = admin_key or settings.admin_api_key or None
    if admin_key and not admin_key.startswith("pk_"):
        raise SettingsError(
            "invalid setting PICKET_ADMIN_API_KEY: expected a key starting with pk_"
        )
    if not _port_free(settings.api_host, settings.api_port):
        raise SettingsError(
            f"invalid setting PICKET_API_PORT: {settings.api_host}:"
            f"{settings.api_port} is already in use"
        )
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    db_url = settings.database_url or f"sqlite:///{data_dir / 'picket.db'}"
    settings = settings.model_copy(update={"database_url": db_url, "data_dir": data_dir})

    nats = NatsServer(data_dir / "nats", port=nats_port).start()
    children: list[Child] = []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        raw_key, tokens = prepare(settings, region_list, admin_key)
        collector_addr = f"127.0.0.1:{free_port()}"
        common = {
            "PICKET_DATABASE_URL": db_url,
            "PICKET_DATA_DIR": str(data_dir),
            "PICKET_NATS_URL": nats.url,
            "PICKET_COLLECTOR_ADDR": collector_addr,
            "PICKET_ALLOW_PRIVATE_TARGETS": "true",
            "PICKET_LOG_LEVEL": settings.log_level,
        }
        children.append(Child("collector", "collector", common, logs / "collector.log").start())
        children.append(
            Child(
                "api",
                "api",
                {
                    **common,
                    "PICKET_API_HOST": settings.api_host,
                    "PICKET_API_PORT": str(settings.api_port),
                },
                logs / "api.log",
            ).start()
        )
        for region in region_list:
            children.append(
                Child(
                    f"probe-{region}",
                    "probe",
                    {
                        **common,
                        "PICKET_REGION": region,
                        "PICKET_PROBE_TOKEN": tokens[region],
                    },
                    logs / f"probe-{region}.log",
                ).start()
            )
        host = "localhost" if settings.api_host in {"127.0.0.1", "0.0.0.0"} else settings.api_host
        base = f"http://{host}:{settings.api_port}"

        def api_answers() -> bool:
            for child in children:
                if not child.running:
                    raise RuntimeError(f"{child.name} exited; see {child.log_path}")
            try:
                return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(api_answers, timeout=60, interval=0.2, message="the API to answer")
        print(f"Picket is up ({', '.join(region_list)}).", flush=True)
        print(f"  API:           {base}/api/v1   (docs: {base}/docs)", flush=True)
        print(f"  Admin API key: {raw_key}", flush=True)
        print(f"  Data and logs: {data_dir}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.is_set():
            for child in children:
                if not child.running:
                    print(
                        f"picket up: {child.name} exited with code "
                        f"{child.process.returncode if child.process else '?'}; see "
                        f"{child.log_path}",
                        file=sys.stderr,
                        flush=True,
                    )
                    stop.set()
                    break
            stop.wait(0.5)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"picket up: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        for child in reversed(children):
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in reversed(children):
            child.stop(timeout=max(0.1, deadline - time.monotonic()))
        nats.stop()
