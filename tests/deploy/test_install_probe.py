from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from picket.db.models import Probe
from picket.testing import Stack, free_port, wait_for
from tests.deploy.conftest import DEPLOY

SCRIPT = DEPLOY / "install-probe.sh"


def _install_shellcheck() -> str | None:
    """Debian's shellcheck, installed with apt-get when this machine lacks it."""
    found = shutil.which("shellcheck")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "shellcheck"])
    for command in steps:
        if subprocess.run(command, env=env, capture_output=True, timeout=300).returncode != 0:
            return None
    return shutil.which("shellcheck")


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = _install_shellcheck()
    if not found:
        pytest.skip("shellcheck is not installed and apt-get could not install it")
    return found


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **(env or {})},
    )


def install(prefix: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_script(
        "--collector",
        "127.0.0.1:50051",
        "--region",
        "eu-west",
        "--token",
        "pt_secret",
        "--prefix",
        str(prefix),
        "--python",
        sys.executable,
        *extra,
    )


def test_install_script_passes_shellcheck(shellcheck: str, tmp_path: Path) -> None:
    result = subprocess.run([shellcheck, "--shell=sh", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    # The launcher it writes is a shell script too.
    assert install(tmp_path / "p", "--no-start").returncode == 0
    launcher = tmp_path / "p" / "bin" / "picket-probe"
    result = subprocess.run([shellcheck, str(launcher)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_install_writes_a_private_settings_file(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    result = install(prefix, "--nats-url", "nats://probe-eu-west:pw@nats:4222", "--no-start")
    assert result.returncode == 0, result.stderr
    env_file = prefix / "etc" / "probe.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text().splitlines() == [
        "PICKET_COLLECTOR_ADDR='127.0.0.1:50051'",
        "PICKET_REGION='eu-west'",
        "PICKET_PROBE_TOKEN='pt_secret'",
        f"PICKET_DATA_DIR='{prefix}/data'",
        "PICKET_HEALTH_PORT='9100'",
        "PICKET_NATS_URL='nats://probe-eu-west:pw@nats:4222'",
    ]
    status = subprocess.run([str(prefix / "bin" / "picket-probe"), "status"], capture_output=True)
    assert status.returncode == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "eu-west", "--token", "t"], "--collector HOST:PORT is required"),
        (["--collector", "c:1", "--token", "t"], "--region is required"),
        (["--collector", "c:1", "--region", "eu-west"], "--token is required"),
        (["--collector", "nohost", "--region", "r", "--token", "t"], "must be HOST:PORT"),
        (["--collector", "c:1", "--region", "EU West", "--token", "t"], "--region must be"),
        (["--collector", "c:1", "--region", "r", "--token", "it's"], "single quote"),
        (["--bogus"], "unknown option --bogus"),
        (["--region"], "--region needs a value"),
    ],
)
def test_bad_arguments_say_what_is_wrong(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_script("--prefix", str(tmp_path), "--python", sys.executable, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_installed_probe_registers_with_a_local_collector(stack: Stack, tmp_path: Path) -> None:
    stack.start_collector()
    probe_id, token = stack.create_probe("eu-west")
    prefix = tmp_path / "prefix"
    health = free_port()
    result = run_script(
        "--collector", stack.collector_addr, "--region", "eu-west", "--token", token,
        "--nats-url", stack.nats_url, "--prefix", str(prefix), "--python", sys.executable,
        "--health-port", str(health),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "probe started (pid " in result.stdout
    launcher = str(prefix / "bin" / "picket-probe")
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{health}/readyz", timeout=2).is_success
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=30, message="the installed probe to register")
        with stack.sessions() as session:
            probe = session.get(Probe, probe_id)
            assert probe is not None and probe.last_seen_at is not None
        assert subprocess.run([launcher, "status"], capture_output=True).returncode == 0
        # Starting it again finds it running rather than starting a second one.
        again = subprocess.run([launcher, "start"], capture_output=True, text=True)
        assert again.stdout.startswith("probe already running")
    finally:
        subprocess.run([launcher, "stop"], check=True)
    wait_for(
        lambda: subprocess.run([launcher, "status"], capture_output=True).returncode == 3,
        timeout=30,
        message="the probe to stop",
    )
    log = (prefix / "log" / "probe.log").read_text()
    assert "registered as probe" in log
