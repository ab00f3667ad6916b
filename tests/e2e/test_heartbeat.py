"""Acceptance 3: a heartbeat monitor (interval 2 s, grace 1 s) goes down about 3 s after
its last ping and up again on the next ping — with real API and collector processes."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from picket.testing import Stack, wait_for


def test_heartbeat_down_after_interval_plus_grace_and_up_on_next_ping(stack: Stack) -> None:
    stack.start_collector()
    stack.start_api()
    with stack.api() as client:
        created = client.post(
            "/monitors",
            json={
                "name": "nightly backup",
                "type": "heartbeat",
                "interval_seconds": 2,
                "heartbeat": {"grace_seconds": 1},
            },
        )
        assert created.status_code == 201, created.text
        monitor = created.json()
        ping_url = f"{stack.api_url}/api/v1/heartbeat/{monitor['heartbeat_token']}"

        def status() -> str:
            return client.get(f"/monitors/{monitor['id']}").json()["status"]

        def checks() -> list[dict]:
            return client.get(f"/monitors/{monitor['id']}/checks", params={"limit": 100}).json()[
                "data"
            ]

        assert httpx.get(ping_url).status_code == 200
        # "up" lasts only 3 s here, so wait for what stays: the ping's result, then "down".
        wait_for(lambda: any(c["ok"] for c in checks()), timeout=30, message="the ping's result")
        wait_for(lambda: status() == "down", timeout=30, message="down without pings")
        ping, missed = sorted(checks(), key=lambda c: c["scheduled_at"])[:2]
        assert ping["ok"] and ping["region"] == "push"
        assert (missed["ok"], missed["error_kind"]) == (False, "timeout")
        # The failure is dated at the deadline: last ping + interval + grace.
        gap = datetime.fromisoformat(missed["scheduled_at"]) - datetime.fromisoformat(
            ping["scheduled_at"]
        )
        assert gap == timedelta(seconds=3)

        def ping_then_status() -> str:
            # Pinging on every poll keeps "up" from lapsing while a loaded machine is slow.
            assert httpx.post(ping_url, content=b"ran in 4 s").status_code == 200
            return status()

        wait_for(lambda: ping_then_status() == "up", timeout=30, message="up on the next ping")
        assert client.get(f"/monitors/{monitor['id']}").json()["region_status"] == {"push": "up"}
