"""Small real HTTP servers on loopback for tests: they count requests and answer as told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Target:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.status = 200
        self.body = b"ok"
        self.requests: list[tuple[str, str]] = []  # (client address, path)
        self.refuse_from: set[str] = set()
        # The next this-many requests get a 500, whatever `status` says.
        self.fail_next = 0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"


@contextmanager
def http_target(host: str = "127.0.0.1") -> Iterator[Target]:
    target: Target

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            client = self.client_address[0]
            target.requests.append((client, self.path))
            status = 503 if client in target.refuse_from else target.status
            if target.fail_next > 0:
                target.fail_next -= 1
                status = 500
            self.send_response(status)
            self.send_header("Content-Length", str(len(target.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(target.body)

        do_GET = do_POST = do_HEAD = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    target = Target(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
