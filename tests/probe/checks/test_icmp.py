from __future__ import annotations

from typing import Any

import pytest

from picket.errors import ErrorKind
from picket.probe.checks import icmp
from picket.probe.checks.base import CheckContext, CheckSpec


def spec(host: str, **settings: Any) -> CheckSpec:
    settings.setdefault("interval_ms", 20)
    return CheckSpec(monitor_id="m1", kind="icmp", target=host, timeout_s=3, settings=settings)


async def _ping(host: str, ctx: CheckContext, **settings: Any) -> Any:
    outcome = await icmp.run(spec(host, **settings), ctx)
    if outcome.error.startswith("ICMP is not permitted"):
        pytest.skip(outcome.error)
    return outcome


async def test_ping_loopback_reports_loss_and_rtt(ctx: CheckContext) -> None:
    outcome = await _ping("127.0.0.1", ctx, count=3)
    assert outcome.ok, outcome.error
    detail = outcome.detail
    assert (detail["sent"], detail["received"], detail["packet_loss_percent"]) == (3, 3, 0)
    assert 0 < detail["rtt_min_ms"] <= detail["rtt_avg_ms"] <= detail["rtt_max_ms"]
    # Latency is the round trip, not the time spent sending three packets.
    assert outcome.latency_ms == detail["rtt_avg_ms"]


async def test_slower_than_max_rtt_fails_with_slow(ctx: CheckContext) -> None:
    outcome = await _ping("127.0.0.1", ctx, count=1, max_rtt_ms=0.000001)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.SLOW)


async def test_metadata_address_refused_before_any_packet(ctx: CheckContext) -> None:
    outcome = await icmp.run(spec("169.254.169.254"), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert "never checked" in outcome.error


def test_permission_message_names_the_sysctl_and_the_fix() -> None:
    message = icmp.permission_message("1\t0\n", [1000])
    assert "net.ipv4.ping_group_range is '1 0', which allows no group" in message
    assert "CAP_NET_RAW" in message and "sysctl -w" in message
    outside = icmp.permission_message("0 999", [1000])
    assert "does not include this process's groups [1000]" in outside
