from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import trustme

from picket.errors import ErrorKind
from picket.probe.checks import tls
from picket.probe.checks.base import CheckContext, CheckSpec
from tests.probe.checks.conftest import server_context
from tests.probe.checks.servers import closed_port, http_server


def spec(host: str, port: int, **settings: Any) -> CheckSpec:
    return CheckSpec(
        monitor_id="m1", kind="tls", target=host, timeout_s=5, settings={"port": port, **settings}
    )


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[int]:
    with http_server(tls=context) as server:
        yield server.port


def in_days(days: int) -> datetime:
    # An hour of slack so a slow test still sees the same whole number of days.
    return datetime.now(UTC) + timedelta(days=days, hours=1)


async def test_valid_certificate_facts(ctx: CheckContext, ca: trustme.CA) -> None:
    context = server_context(ca, "localhost", not_after=in_days(90))
    with tls_server(context) as port:
        outcome = await tls.run(spec("localhost", port), ctx)
    assert outcome.ok, outcome.error
    detail = outcome.detail
    assert detail["days_left"] == 90 and detail["expiring"] is False
    assert detail["hostname_valid"] and detail["chain_valid"]
    assert "localhost" in detail["names"]
    assert detail["chain"][0] == detail["subject"]
    assert "Testing CA" in detail["issuer"] and "Testing cert" in detail["subject"]
    assert {"connect", "tls", "total"} <= outcome.timings.keys()


async def test_expiring_in_ten_days_is_a_warning_at_the_14_day_threshold(
    ctx: CheckContext, ca: trustme.CA
) -> None:
    context = server_context(ca, "localhost", not_after=in_days(10))
    with tls_server(context) as port:
        outcome = await tls.run(spec("localhost", port), ctx)
    assert outcome.ok and outcome.error_kind is None
    assert outcome.detail["expiring"] is True
    assert (outcome.detail["days_left"], outcome.detail["threshold"]) == (10, 14)


async def test_configured_thresholds(ctx: CheckContext, ca: trustme.CA) -> None:
    context = server_context(ca, "localhost", not_after=in_days(10))
    with tls_server(context) as port:
        outcome = await tls.run(spec("localhost", port, expiry_thresholds_days=[5]), ctx)
    assert outcome.ok and outcome.detail["expiring"] is False


async def test_expired_certificate_fails_with_tls(ctx: CheckContext, ca: trustme.CA) -> None:
    context = server_context(
        ca, "localhost", not_before=in_days(-30), not_after=datetime.now(UTC) - timedelta(days=2)
    )
    with tls_server(context) as port:
        outcome = await tls.run(spec("localhost", port), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TLS)
    assert "expired" in outcome.error
    assert outcome.detail["days_left"] < 0


async def test_hostname_mismatch_fails_with_tls(ctx: CheckContext, ca: trustme.CA) -> None:
    with tls_server(server_context(ca, "shop.example")) as port:
        outcome = await tls.run(spec("localhost", port), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TLS)
    assert outcome.detail["hostname_valid"] is False and outcome.detail["chain_valid"] is True
    assert outcome.detail["names"] == ["shop.example"]


async def test_untrusted_chain_fails_with_tls(tls_context: ssl.SSLContext) -> None:
    with tls_server(tls_context) as port:
        outcome = await tls.run(spec("localhost", port), CheckContext(allow_private_targets=True))
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TLS)
    assert outcome.detail["chain_valid"] is False and outcome.detail["hostname_valid"] is True


async def test_refused_fails_with_connect(ctx: CheckContext) -> None:
    outcome = await tls.run(spec("127.0.0.1", closed_port()), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)


def test_crossed_threshold() -> None:
    assert tls.crossed_threshold(10, [30, 14, 7, 1]) == 14
    assert tls.crossed_threshold(14, [30, 14, 7, 1]) == 14
    assert tls.crossed_threshold(0, [30, 14, 7, 1]) == 1
    assert tls.crossed_threshold(31, [30, 14, 7, 1]) is None
