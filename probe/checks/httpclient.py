"""The HTTP client the http and api checks share: screened connections, phase timings.

Every TCP connection httpx opens goes through `ScreeningBackend.connect_tcp`, which
resolves the host itself, screens every address (picket.targets) and connects to a
screened address, so redirects and DNS rebinding cannot reach a refused address.

Timings (milliseconds): `dns`, `connect` and `tls` are the durations of those phases
(added up over redirect hops); `first_byte` is from the start of the request until the
response headers arrived; `total` until the body was read.
"""

from __future__ import annotations

import asyncio
import functools
import json
import select
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpcore
import httpx

from picket.probe.checks.base import CheckContext
from picket.targets import resolve_screened

# A keyword or an assertion looks at most this much of a body; more is read and dropped.
MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 10


class PhaseTimer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}
        self._marks: dict[str, float] = {}

    def now_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def add(self, phase: str, duration_s: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + duration_s * 1000

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self.phases.items()}

    async def trace(self, event: str, _info: Mapping[str, Any]) -> None:
        """httpcore's trace extension: called with e.g. "connection.start_tls.started"."""
        if event == "connection.start_tls.started":
            self._marks["tls"] = time.perf_counter()
        elif event == "connection.start_tls.complete" and "tls" in self._marks:
            self.add("tls", time.perf_counter() - self._marks.pop("tls"))
        elif event.endswith("receive_response_headers.complete"):
            self.phases["first_byte"] = self.now_ms()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection on asyncio's own streams, for httpcore.

    httpcore's default (anyio) backend costs a task group and cancel scopes per connect
    and per read and write: a fifth of the CPU of an HTTP check (profiled, 630 → 500 µs).
    HTTP itself stays httpcore's and h11's; this only moves bytes, with the exceptions
    mapped as httpcore's own backends map them.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:
            # RuntimeError: uvloop refuses a write to a transport it has already closed.
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info in {"ssl_object", "socket"}:
            return self._writer.get_extra_info(info)
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "is_readable":
            # An idle kept-alive connection the server closed or wrote to is not reused.
            if self._reader.at_eof() or self._writer.transport.is_closing():
                return True
            sock = self._writer.get_extra_info("socket")
            return sock is None or bool(select.select([sock.fileno()], [], [], 0)[0])
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock: socket.socket = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not check targets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ScreeningBackend(AsyncioBackend):
    def __init__(self, ctx: CheckContext) -> None:
        self._ctx = ctx
        self.timer = PhaseTimer()
        self.addresses: list[str] = []

    # The signatures are httpcore's (AsyncNetworkBackend), timeout parameter included.
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        started = time.perf_counter()
        addresses = await resolve_screened(
            host, port, allow_private=self._ctx.allow_private_targets
        )
        self.timer.add("dns", time.perf_counter() - started)
        error: Exception | None = None
        for address in addresses:
            started = time.perf_counter()
            try:
                stream = await super().connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            self.timer.add("connect", time.perf_counter() - started)
            self.addresses.append(address)
            return stream
        assert error is not None  # resolve_screened never returns an empty list
        raise error


def ssl_context(ctx: CheckContext, verify: bool) -> ssl.SSLContext:
    return _ssl_context(ctx.ca_file, verify)


# Loading the CA bundle costs milliseconds of CPU; one context serves every check.
@functools.lru_cache(maxsize=8)
def _ssl_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ScreenedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, ctx: CheckContext, *, verify: bool) -> None:
        context = ssl_context(ctx, verify)
        super().__init__(verify=context, trust_env=False, retries=0)
        self.backend = ScreeningBackend(ctx)
        # httpx has no public hook for the network backend; keep its request and error
        # mapping and swap only the connection pool underneath.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            local_address=ctx.source_address or None,
            retries=0,
            network_backend=self.backend,
        )


@dataclass
class Fetched:
    status_code: int
    headers: httpx.Headers
    body: bytes
    text: str
    url: str
    redirects: int
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.text)


# Stands in for a closed response's stream: a response read and closed reads nothing more.
_READ = httpx.ByteStream(b"")


def _unbind(response: httpx.Response) -> None:
    """httpx binds each response and its stream to each other, a reference cycle holding a
    check's whole connection (pool, stream, request, timer) until the cycle collector
    runs; at a thousand checks a second that made full collections of 40-100 ms, stalling
    every check in flight. Unbound once closed, it all goes as soon as the check is done."""
    for hop in (*response.history, response):
        hop.stream = _READ


class HttpSession:
    """One check's HTTP client: its connections, cookies and screening policy."""

    def __init__(
        self, ctx: CheckContext, *, timeout_s: float, verify: bool, follow_redirects: bool
    ) -> None:
        self._transport = ScreenedTransport(ctx, verify=verify)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=timeout_s,
            follow_redirects=follow_redirects,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
            headers={"user-agent": "picket-probe/1"},
        )

    async def __aenter__(self) -> HttpSession:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.__aexit__(*exc)

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> Fetched:
        """One request (redirects as the session says); the body read up to a limit."""
        timer = self._transport.backend.timer = PhaseTimer()
        backend = self._transport.backend
        backend.addresses = []
        request = self._client.build_request(
            method,
            url,
            headers=dict(headers or {}),
            content=body,
            extensions={"trace": timer.trace},
        )
        response = await self._client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                if size < MAX_BODY_BYTES:
                    chunks.append(chunk[: MAX_BODY_BYTES - size])
                size += len(chunk)
        finally:
            await response.aclose()
            _unbind(response)
        raw = b"".join(chunks)
        timings = timer.as_dict()
        timings["total"] = round(timer.now_ms(), 3)
        return Fetched(
            status_code=response.status_code,
            headers=response.headers,
            body=raw,
            text=raw.decode(response.charset_encoding or "utf-8", errors="replace"),
            url=str(response.url),
            redirects=len(response.history),
            elapsed_ms=timings["total"],
            timings=timings,
            addresses=list(backend.addresses),
        )
