from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from picket.errors import ErrorKind
from picket.probe.checks import tcp
from picket.probe.checks.base import CheckContext, CheckSpec
from picket.testing import wait_for
from tests.probe.checks.servers import closed_port, tcp_server


def spec(host: str, **settings: Any) -> CheckSpec:
    return CheckSpec(monitor_id="m1", kind="tcp", target=host, timeout_s=5, settings=settings)


async def test_connects_and_reports_connect_time(ctx: CheckContext) -> None:
    with tcp_server() as server:
        outcome = await tcp.run(spec(server.host, port=server.port), ctx)
        wait_for(lambda: server.accepted == 1, message="the connection")
    assert outcome.ok, outcome.error
    assert outcome.timings["connect"] > 0
    assert outcome.detail == {"address": "127.0.0.1", "port": server.port}


async def test_send_and_expect(ctx: CheckContext) -> None:
    with tcp_server(reply=b"+PONG\r\n") as server:
        outcome = await tcp.run(
            spec(server.host, port=server.port, send="PING\r\n", expect="PONG"), ctx
        )
        assert server.received == [b"PING\r\n"]
    assert outcome.ok, outcome.error
    assert outcome.detail["reply"] == "+PONG\r\n"


async def test_unexpected_reply_fails_with_keyword(ctx: CheckContext) -> None:
    with tcp_server(reply=b"-ERR unknown\r\n") as server:
        outcome = await tcp.run(
            spec(server.host, port=server.port, send="PING\r\n", expect="PONG"), ctx
        )
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.KEYWORD)
    assert "-ERR unknown" in outcome.error


async def test_refused_fails_with_connect(ctx: CheckContext) -> None:
    outcome = await tcp.run(spec("127.0.0.1", port=closed_port()), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)


async def test_loopback_refused_by_policy_without_connecting() -> None:
    with tcp_server() as server:
        outcome = await tcp.run(
            spec("localhost", port=server.port), CheckContext(allow_private_targets=False)
        )
        assert server.accepted == 0
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert "PICKET_ALLOW_PRIVATE_TARGETS" in outcome.error


async def test_port_is_required(ctx: CheckContext) -> None:
    with pytest.raises(ValidationError, match="port"):
        await tcp.run(spec("127.0.0.1"), ctx)
