"""Acceptance 2: nats-server accepts deploy/nats/, and a real three-node cluster started on
it lets a region's user publish only under its own region."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import nats
import pytest
import yaml
from nats.js.api import StreamConfig

from picket.nats_server import find_nats_server
from picket.testing import free_port, wait_for_port
from tests.deploy.conftest import DEPLOY, NATS_DIR, nats_env_vars

PASSWORDS = {
    "collector": "collector-secret",
    "probe-us-east": "us-east-secret",
    "probe-eu-west": "eu-west-secret",
    "probe-ap-south": "ap-south-secret",
}


def nats_env(server_name: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "NATS_SERVER_NAME": server_name}
    for user, password in PASSWORDS.items():
        env[f"NATS_{user.replace('-', '_').upper()}_PASSWORD"] = password
    assert set(env) - {"PATH"} == nats_env_vars()
    return env


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_nats_server(), "-t", "-c", str(path)],
        env=nats_env("nats-1"),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nats_server_accepts_the_config() -> None:
    result = check_config(NATS_DIR / "nats-server.conf")
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout + result.stderr


def test_nats_server_accepts_the_kubernetes_config(tmp_path: Path) -> None:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "nats.yaml").read_text())
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    result = check_config(tmp_path / "nats-server.conf")
    assert result.returncode == 0, result.stderr


def test_nats_server_refuses_a_broken_copy(tmp_path: Path) -> None:
    shutil.copy(NATS_DIR / "auth.conf", tmp_path / "auth.conf")
    text = (NATS_DIR / "nats-server.conf").read_text().replace("jetstream {", "jetstream {{")
    (tmp_path / "nats-server.conf").write_text(text)
    assert check_config(tmp_path / "nats-server.conf").returncode != 0


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.cluster_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


def localize(config: str, node: Node, nodes: list[Node], store: Path) -> str:
    """The deploy config with loopback ports and a temporary store: nothing else changes."""
    routes = {
        f"nats-route://{n.name}:6222": f"nats-route://127.0.0.1:{n.cluster_port}" for n in nodes
    }
    replacements = {
        "listen: 0.0.0.0:4222": f"listen: 127.0.0.1:{node.port}",
        "http: 0.0.0.0:8222": f"http: 127.0.0.1:{node.http_port}",
        "listen: 0.0.0.0:6222": f"listen: 127.0.0.1:{node.cluster_port}",
        "store_dir: /data/jetstream": f"store_dir: {store}",
        **routes,
    }
    for old, new in replacements.items():
        assert old in config, old
        config = config.replace(old, new)
    return config


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = [Node(f"nats-{i}") for i in (1, 2, 3)]
    source = (NATS_DIR / "nats-server.conf").read_text()
    try:
        for node in nodes:
            directory = tmp_path / node.name
            directory.mkdir()
            shutil.copy(NATS_DIR / "auth.conf", directory / "auth.conf")
            conf = directory / "nats-server.conf"
            conf.write_text(localize(source, node, nodes, directory / "jetstream"))
            node.process = subprocess.Popen(
                [find_nats_server(), "-c", str(conf)],
                env=nats_env(node.name),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for node in nodes:
            wait_for_port("127.0.0.1", node.port, timeout=30)
        yield nodes
    finally:
        for node in nodes:
            if node.process and node.process.poll() is None:
                node.process.terminate()
        for node in nodes:
            if node.process:
                node.process.wait(15)


async def connect(nodes: list[Node], user: str, errors: list[str] | None = None) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        servers=[n.url for n in nodes],
        user=user,
        password=PASSWORDS[user],
        error_cb=on_error,
        max_reconnect_attempts=0,
    )


async def poll(
    predicate: Callable[[], Awaitable[object]], within: float = 30.0, message: str = "condition"
) -> object:
    deadline = time.monotonic() + within
    while True:
        try:
            value = await predicate()
        except Exception as exc:  # the cluster may still be electing its JetStream leader
            value, last = None, exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s waiting for {message}: {last}")
        await asyncio.sleep(0.2)


async def test_a_region_user_publishes_only_under_its_region(cluster: list[Node]) -> None:
    collector = await connect(cluster, "collector")
    js = collector.jetstream(timeout=5)

    async def create_stream() -> bool:
        await js.add_stream(
            StreamConfig(name="PICKET_RESULTS", subjects=["results.>"], num_replicas=3)
        )
        return True

    await poll(create_stream, message="the JetStream cluster to accept the stream")

    errors: list[str] = []
    probe = await connect(cluster, "probe-us-east", errors)
    ack = await probe.jetstream(timeout=10).publish("results.us-east.x", b"mine")
    assert ack.stream == "PICKET_RESULTS"

    await probe.publish("results.eu-west.x", b"forged")
    await probe.publish("$JS.API.STREAM.DELETE.PICKET_RESULTS", b"")
    await probe.flush()

    async def refused() -> bool:
        return len(errors) >= 2

    await poll(refused, within=10, message="the server to refuse both publishes")
    refusals = " | ".join(errors).lower()
    assert 'permissions violation for publish to "results.eu-west.x"' in refusals, errors
    assert '"$js.api.stream.delete.picket_results"' in refusals, errors
    assert probe.is_connected

    info = await js.stream_info("PICKET_RESULTS")
    assert info.state.messages == 1
    consumer = await js.pull_subscribe("results.>", durable="collector")
    [message] = await consumer.fetch(1, timeout=10)
    assert (message.subject, message.data) == ("results.us-east.x", b"mine")
    await message.ack_sync()

    # Another region's user is held to its own subjects the same way.
    other_errors: list[str] = []
    eu = await connect(cluster, "probe-eu-west", other_errors)
    await eu.jetstream(timeout=10).publish("results.eu-west.y", b"eu")
    await eu.publish("results.us-east.y", b"forged")
    await eu.flush()

    async def eu_refused() -> bool:
        return bool(other_errors)

    await poll(eu_refused, within=10, message="the server to refuse eu-west's forgery")
    assert (await js.stream_info("PICKET_RESULTS")).state.messages == 2
    for connection in (probe, eu, collector):
        await connection.close()


async def test_a_wrong_password_is_refused(cluster: list[Node]) -> None:
    with pytest.raises(Exception, match="(?i)authorization"):
        await nats.connect(
            servers=[cluster[0].url],
            user="probe-us-east",
            password=PASSWORDS["probe-eu-west"],
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )
    assert re.search(r"results\.us-east\.>", (NATS_DIR / "auth.conf").read_text())
