"""Refusals: a probe with a wrong token, an API request with a bad key."""

from __future__ import annotations

import httpx

from picket.testing import Stack, wait_for


def test_probe_with_wrong_token_is_refused(stack: Stack) -> None:
    stack.start_collector()
    probe, _ = stack.start_probe("us-east", token="pt_" + "x" * 32)
    wait_for(lambda: not probe.running, timeout=30, message="the refused probe to exit")
    assert probe.process.returncode == 3
    assert "refused this probe's token (UNAUTHENTICATED" in probe.log_text()
    collector = stack.children[0]
    wait_for(
        lambda: "refused probe from" in collector.log_text(),
        timeout=10,
        message="the collector's log line",
    )


def test_bad_api_key_gets_401(stack: Stack) -> None:
    stack.start_api()
    for headers in ({}, {"Authorization": "Bearer pk_wrong"}, {"Authorization": "Basic x"}):
        response = httpx.get(f"{stack.api_url}/api/v1/monitors", headers=headers)
        assert response.status_code == 401
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]
