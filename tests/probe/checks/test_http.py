from __future__ import annotations

import socket
import ssl
from typing import Any

import trustme

from picket.errors import ErrorKind
from picket.probe.checks import http
from picket.probe.checks.base import CheckContext, CheckSpec
from picket.probe.checks.errors import classify
from tests.probe.checks.conftest import server_context
from tests.probe.checks.servers import Request, closed_port, http_server, tcp_server


def spec(url: str, timeout_s: float = 5.0, **settings: Any) -> CheckSpec:
    return CheckSpec(
        monitor_id="m1", kind="http", target=url, timeout_s=timeout_s, settings=settings
    )


async def test_passes_with_status_and_phase_timings(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(spec(server.url("/")), ctx)
    assert outcome.ok, outcome.error
    assert outcome.status_code == 200
    assert {"dns", "connect", "first_byte", "total"} <= outcome.timings.keys()
    assert outcome.timings["total"] >= outcome.timings["first_byte"] > 0
    assert outcome.detail["addresses"] == ["127.0.0.1"]


async def test_https_has_tls_phase(ctx: CheckContext, tls_context: ssl.SSLContext) -> None:
    with http_server(tls=tls_context) as server:
        outcome = await http.run(spec(server.url("/", host="localhost")), ctx)
    assert outcome.ok, outcome.error
    assert outcome.timings["tls"] > 0


async def test_sends_method_headers_and_body(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(
            spec(
                server.url("/echo"),
                method="post",
                headers={"X-Picket": "yes"},
                body='{"a": 1}',
                keyword='"method": "POST"',
            ),
            ctx,
        )
        seen = server.requests[-1]
    assert outcome.ok, outcome.error
    assert (seen.method, seen.headers["x-picket"], seen.body) == ("POST", "yes", b'{"a": 1}')


async def test_unexpected_status_fails_with_status(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(spec(server.url("/status/500")), ctx)
    assert (outcome.ok, outcome.error_kind, outcome.status_code) == (False, ErrorKind.STATUS, 500)
    assert "500" in outcome.error


async def test_expected_status_list_and_ranges(ctx: CheckContext) -> None:
    with http_server() as server:
        in_range = await http.run(
            spec(server.url("/status/503"), expected_status=["200", "500-599"]), ctx
        )
        exact_miss = await http.run(spec(server.url("/status/204"), expected_status=[200]), ctx)
    assert in_range.ok
    assert exact_miss.error_kind == ErrorKind.STATUS


async def test_redirects_followed_or_not(ctx: CheckContext) -> None:
    with http_server() as server:
        followed = await http.run(
            spec(server.url("/redirect"), expected_status=["2xx"], keyword="Welcome"), ctx
        )
        not_followed = await http.run(
            spec(server.url("/redirect"), expected_status=["2xx"], follow_redirects=False), ctx
        )
    assert followed.ok and followed.detail["redirects"] == 1
    assert (not_followed.error_kind, not_followed.status_code) == (ErrorKind.STATUS, 302)


async def test_keyword_missing_fails_with_keyword(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(spec(server.url("/"), keyword="Sold out"), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.KEYWORD)
    assert "Sold out" in outcome.error


async def test_negated_keyword(ctx: CheckContext) -> None:
    with http_server() as server:
        absent = await http.run(spec(server.url("/"), keyword="Error", keyword_negate=True), ctx)
        present = await http.run(spec(server.url("/"), keyword="Welcome", keyword_negate=True), ctx)
    assert absent.ok
    assert (present.ok, present.error_kind) == (False, ErrorKind.KEYWORD)


async def test_slower_than_threshold_fails_with_slow(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(
            spec(server.url("/slow?ms=300"), response_time_threshold_ms=50), ctx
        )
    assert (outcome.ok, outcome.error_kind, outcome.status_code) == (False, ErrorKind.SLOW, 200)


async def test_timeout_fails_with_timeout(ctx: CheckContext) -> None:
    with http_server() as server:
        outcome = await http.run(spec(server.url("/slow?ms=2000"), timeout_s=0.3), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TIMEOUT)


async def test_refused_connection_fails_with_connect(ctx: CheckContext) -> None:
    outcome = await http.run(spec(f"http://127.0.0.1:{closed_port()}/"), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)


async def test_every_check_opens_its_own_connection(
    ctx: CheckContext, tls_context: ssl.SSLContext
) -> None:
    # Timings and connect/TLS failures mean something only on a fresh connection; within
    # one check a redirect to the same server may reuse it, as a browser would.
    for tls in (None, tls_context):
        with http_server(tls=tls) as server:
            host = "localhost" if tls else None
            first = await http.run(spec(server.url("/", host=host)), ctx)
            second = await http.run(spec(server.url("/redirect?to=/ok", host=host)), ctx)
            peers = [request.peer for request in server.requests]
        assert first.ok and second.ok, (first.error, second.error)
        assert "connect" in second.timings and (tls is None or "tls" in second.timings)
        assert len(peers) == 3 and len(set(peers)) == 2, peers


async def test_connection_dropped_mid_body_fails_with_connect(ctx: CheckContext) -> None:
    with tcp_server(reply=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial") as server:
        outcome = await http.run(spec(f"http://127.0.0.1:{server.port}/"), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)


async def test_untrusted_certificate_fails_with_tls_unless_verification_off(
    tls_context: ssl.SSLContext,
) -> None:
    no_test_ca = CheckContext(allow_private_targets=True)
    with http_server(tls=tls_context) as server:
        verified = await http.run(spec(server.url("/")), no_test_ca)
        unverified = await http.run(spec(server.url("/"), verify_tls=False), no_test_ca)
    assert (verified.ok, verified.error_kind) == (False, ErrorKind.TLS)
    assert unverified.ok, unverified.error


async def test_hostname_mismatch_fails_with_tls(ctx: CheckContext, ca: trustme.CA) -> None:
    with http_server(tls=server_context(ca, "shop.example")) as server:
        outcome = await http.run(spec(server.url("/", host="localhost")), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.TLS)


async def test_name_resolving_to_loopback_refused_when_private_not_allowed() -> None:
    strict = CheckContext(allow_private_targets=False)
    with http_server() as server:
        outcome = await http.run(spec(server.url("/", host="localhost")), strict)
        assert server.requests == []
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert "localhost resolves to a refused address" in outcome.error


async def test_redirect_to_metadata_address_is_refused(ctx: CheckContext) -> None:
    with http_server() as server:

        def to_metadata(_request: Request) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""

        server.routes["/go"] = to_metadata
        outcome = await http.run(spec(server.url("/go")), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert "169.254.169.254" in outcome.error and "never checked" in outcome.error


def test_name_resolution_errors_map_to_dns() -> None:
    kind, message = classify(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert kind == ErrorKind.DNS and "Name or service not known" in message
