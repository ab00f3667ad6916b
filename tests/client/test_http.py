"""ApiClient against a small local server that answers as each test tells it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from picket.client.http import RATE_LIMIT_RETRIES, ApiClient, ClientError


class Script:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.requests: list[str] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            script.requests.append(self.path)
            status, headers, body = (
                script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
            )
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        thread.join(5)


LIMITED = (
    429,
    {"Retry-After": "0", "Content-Type": "application/json"},
    b'{"detail": "slow down"}',
)


def test_a_rate_limited_request_is_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [LIMITED, LIMITED, (200, {"Content-Type": "application/json"}, b'{"ok": 1}')]
    with ApiClient(url, "pk_x") as client:
        assert client.get("/monitors") == {"ok": 1}
    assert len(script.requests) == 3


def test_rate_limiting_that_persists_is_reported(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [LIMITED]
    with ApiClient(url, "pk_x") as client, pytest.raises(ClientError) as info:
        client.get("/monitors")
    assert str(info.value) == "GET /monitors: 429 slow down (retry after 0s)"
    assert len(script.requests) == RATE_LIMIT_RETRIES + 1


def test_a_long_retry_after_is_not_waited_for(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "3600"}, b"{}")]
    with ApiClient(url, "pk_x") as client, pytest.raises(ClientError):
        client.get("/monitors")
    assert len(script.requests) == 1


def test_a_non_json_error_is_one_line(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(502, {"Content-Type": "text/html"}, b"Bad Gateway\n<html>...</html>\n")]
    with ApiClient(url, "pk_x") as client, pytest.raises(ClientError) as info:
        client.get("/monitors")
    assert str(info.value) == "GET /monitors: 502 Bad Gateway"
    assert info.value.status == 502


def test_pages_are_followed(server: tuple[str, Script]) -> None:
    url, script = server

    def page(n: int, pages: int) -> tuple[int, dict[str, str], bytes]:
        body = {
            "data": [{"n": n}],
            "pagination": {"page": n, "limit": 100, "total": 2, "pages": pages},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    script.answers = [page(1, 2), page(2, 2)]
    with ApiClient(url, "pk_x") as client:
        assert client.list_all("/monitors", type="http") == [{"n": 1}, {"n": 2}]
    assert script.requests == [
        "/api/v1/monitors?page=1&limit=100&type=http",
        "/api/v1/monitors?page=2&limit=100&type=http",
    ]
