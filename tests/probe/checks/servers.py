"""Real servers on loopback for the check tests: HTTP(S), TCP and DNS."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Route = Callable[["Request"], tuple[int, dict[str, str], bytes]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    # The client's "address:port": one per connection it opened.
    peer: str = ""

    def json(self) -> object:
        return json.loads(self.body or b"null")


@dataclass
class HttpServer:
    server: ThreadingHTTPServer
    scheme: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or str(self.server.server_address[0])
        return f"{self.scheme}://{host}:{self.port}{path}"


def _default_route(request: Request) -> tuple[int, dict[str, str], bytes]:
    path = request.path
    if path.startswith("/status/"):
        return int(path.rsplit("/", 1)[1]), {}, b"status page"
    if path == "/slow":
        time.sleep(int(request.query.get("ms", "300")) / 1000)
        return 200, {}, b"slow but fine"
    if path == "/redirect":
        return 302, {"Location": request.query.get("to", "/ok")}, b""
    if path == "/echo":
        echo = {
            "method": request.method,
            "headers": request.headers,
            "body": request.body.decode(),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(echo).encode()
    return 200, {"Content-Type": "text/html"}, b"<h1>Welcome to the shop</h1>"


@contextmanager
def http_server(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[HttpServer]:
    holder: dict[str, HttpServer] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            target = holder["server"]
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                peer="{}:{}".format(*self.client_address[:2]),
            )
            target.requests.append(request)
            route = target.routes.get(parts.path, _default_route)
            status, headers, body = route(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    holder["server"] = HttpServer(server, "https" if tls else "http")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class TcpServer:
    host: str
    port: int
    received: list[bytes] = field(default_factory=list)
    accepted: int = 0


@contextmanager
def tcp_server(host: str = "127.0.0.1", reply: bytes | None = None) -> Iterator[TcpServer]:
    """Accepts connections; with `reply`, reads one chunk, answers it and closes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    info = TcpServer(host, listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            info.accepted += 1
            with conn:
                if reply is None:
                    continue
                conn.settimeout(5)
                try:
                    info.received.append(conn.recv(4096))
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class DnsServer:
    host: str
    port: int
    queries: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def dns_server(
    records: dict[tuple[str, str], list[str]], host: str = "127.0.0.53", silent: bool = False
) -> Iterator[DnsServer]:
    """A tiny authoritative UDP DNS server: (name, type) → answers; NXDOMAIN otherwise.

    `silent` drops every query, so clients time out.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.2)
    info = DnsServer(host, sock.getsockname()[1])
    stop = threading.Event()
    known = {(name.lower().rstrip("."), rtype) for name, rtype in records}

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            rtype = dns.rdatatype.to_text(question.rdtype)
            info.queries.append(f"{name} {rtype}")
            if silent:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            answers = records.get((name, rtype))
            if answers:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", rtype, answers)
                )
            elif not any(n == name for n, _ in known):
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        stop.set()
        sock.close()
        thread.join(5)
