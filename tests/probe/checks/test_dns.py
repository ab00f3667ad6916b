from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from picket.errors import ErrorKind
from picket.probe.checks import dns as dns_check
from picket.probe.checks.base import CheckContext, CheckSpec
from tests.probe.checks.servers import DnsServer, dns_server

RECORDS = {
    ("shop.example", "A"): ["192.0.2.10", "192.0.2.11"],
    ("shop.example", "AAAA"): ["2001:db8::10"],
    ("shop.example", "MX"): ["10 mail.shop.example."],
    ("shop.example", "TXT"): ['"v=spf1 -all"'],
    ("shop.example", "NS"): ["ns1.shop.example."],
    ("www.shop.example", "CNAME"): ["shop.example."],
}


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with dns_server(RECORDS) as running:
        yield running


def spec(name: str, server: DnsServer, timeout_s: float = 3.0, **settings: Any) -> CheckSpec:
    settings.setdefault("resolver", server.address)
    return CheckSpec(
        monitor_id="m1", kind="dns", target=name, timeout_s=timeout_s, settings=settings
    )


@pytest.mark.parametrize(
    ("name", "record_type", "expected"),
    [
        ("shop.example", "A", ["192.0.2.11", "192.0.2.10"]),
        ("shop.example", "AAAA", ["2001:DB8:0::10"]),
        ("shop.example", "MX", ["10 MAIL.shop.example"]),
        ("shop.example", "TXT", ["v=spf1 -all"]),
        ("shop.example", "NS", ["ns1.shop.example."]),
        ("www.shop.example", "CNAME", ["shop.example"]),
    ],
)
async def test_expected_answers_pass(
    ctx: CheckContext, server: DnsServer, name: str, record_type: str, expected: list[str]
) -> None:
    outcome = await dns_check.run(
        spec(name, server, record_type=record_type, expected=expected), ctx
    )
    assert outcome.ok, outcome.error
    assert outcome.detail["answers"]
    assert server.queries == [f"{name} {record_type}"]


async def test_result_carries_the_answers(ctx: CheckContext, server: DnsServer) -> None:
    outcome = await dns_check.run(spec("shop.example", server), ctx)
    assert outcome.ok
    assert sorted(outcome.detail["answers"]) == ["192.0.2.10", "192.0.2.11"]
    assert outcome.timings["dns"] > 0


async def test_unexpected_answer_fails_with_assertion(ctx: CheckContext, server: DnsServer) -> None:
    outcome = await dns_check.run(spec("shop.example", server, expected=["192.0.2.99"]), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.ASSERTION)
    assert "192.0.2.99" in outcome.error and "192.0.2.10" in outcome.error


async def test_unknown_name_fails_with_dns(ctx: CheckContext, server: DnsServer) -> None:
    outcome = await dns_check.run(spec("gone.example", server), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.DNS)
    assert "does not exist" in outcome.error


async def test_no_record_of_that_type_fails_with_dns(ctx: CheckContext, server: DnsServer) -> None:
    outcome = await dns_check.run(spec("www.shop.example", server, record_type="MX"), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.DNS)


async def test_silent_resolver_fails_with_timeout(ctx: CheckContext) -> None:
    with dns_server({}, silent=True) as silent:
        outcome = await dns_check.run(spec("shop.example", silent, timeout_s=0.5), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TIMEOUT)


async def test_private_resolver_refused_by_policy(server: DnsServer) -> None:
    outcome = await dns_check.run(
        spec("shop.example", server), CheckContext(allow_private_targets=False)
    )
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert server.queries == []
