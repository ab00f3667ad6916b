from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from picket.probe.checks.base import CheckContext
from picket.probe.main import event_loop_factory


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every check also on the loop `picket probe` runs on (uvloop where installed)."""
    factories = {"asyncio": asyncio.new_event_loop}
    if event_loop_factory() is not asyncio.new_event_loop:
        factories["probe_loop"] = event_loop_factory()
    return factories


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = Path(tmp_path_factory.mktemp("ca")) / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def ctx(ca_file: str) -> CheckContext:
    """A probe that may check loopback (the test servers) and trusts the test CA."""
    return CheckContext(allow_private_targets=True, ca_file=ca_file)


def server_context(ca: trustme.CA, *names: str, **issue: object) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names, **issue).configure_cert(context)  # type: ignore[arg-type]
    return context


@pytest.fixture(scope="session")
def tls_context(ca: trustme.CA) -> Iterator[ssl.SSLContext]:
    yield server_context(ca, "localhost", "127.0.0.1")
