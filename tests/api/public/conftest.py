from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CHROMIUM = "/usr/bin/chromium"


def install_chromium() -> str | None:
    """Install Debian's chromium; returns why it could not be installed, or None."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(command)}` failed: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"`{' '.join(command)}` exited {done.returncode}: {tail[0]}"
    return None if os.path.exists(CHROMIUM) else f"chromium installed but {CHROMIUM} is missing"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a real headless-capable Chromium, installed with apt-get when missing."""
    if not os.path.exists(CHROMIUM):
        reason = install_chromium()
        if reason is not None:
            pytest.skip(f"headless Chromium is unavailable: {reason}")
    return CHROMIUM
