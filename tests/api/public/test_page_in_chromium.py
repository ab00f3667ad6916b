"""Acceptance 4: the public status page renders in a real headless Chromium."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import uvicorn

from picket.testing import free_port, wait_for, wait_for_port
from tests.api.reports_support import make_tenant, seed_status_page

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The API with a seeded status page, served by uvicorn on a loopback port."""
    tenant = make_tenant(database_url, tmp_path / "data")
    seed_status_page(tenant)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(tenant.client.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port, timeout=30)
    try:
        yield f"http://127.0.0.1:{port}/status/acme"
    finally:
        server.should_exit = True
        thread.join(30)


def chromium_run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Components(HTMLParser):
    """Component names, states and bar states from the DOM Chromium produced."""

    def __init__(self) -> None:
        super().__init__()
        self.components: list[dict[str, object]] = []
        self.banner: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if "component" in classes:
            self.components.append(
                {"name": values["data-component"], "status": values["data-status"], "bars": []}
            )
        elif "bar" in classes and self.components:
            bars = self.components[-1]["bars"]
            assert isinstance(bars, list)
            bars.append((values["class"], values.get("title")))
        elif values.get("id") == "overall":
            self.banner = values.get("data-status")


def test_status_page_renders_in_headless_chromium(
    chromium: str, served: str, tmp_path: Path
) -> None:
    dom = chromium_run(chromium, tmp_path / "profile-dom", "--dump-dom", served)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = Components()
    parsed.feed(dom.stdout)
    assert parsed.banner == "partial"
    assert [(c["name"], c["status"]) for c in parsed.components] == [
        ("Public API", "up"),
        ("Checkout", "down"),
        ("Marketing site", "degraded"),
    ]
    for component in parsed.components:
        bars = component["bars"]
        assert isinstance(bars, list) and len(bars) == 90
        assert all(title and "%" in title for _, title in bars)
    checkout_bars = parsed.components[1]["bars"]
    assert isinstance(checkout_bars, list)
    assert checkout_bars[-11][0] == "bar bar-down"
    assert "87.50% uptime, 180.0 min down" in (checkout_bars[-11][1] or "")

    screenshot = tmp_path / "page.png"
    shot = chromium_run(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        served,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    wait_for(screenshot.exists, timeout=30, message="the screenshot file")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000
