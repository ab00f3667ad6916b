"""A small HTTP server for the collector and the probe: /healthz, /readyz, /metrics.

The API serves the same paths from FastAPI (picket.api.routes.health); the collector and
the probe have no web framework, so this answers those three GETs and nothing else.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import Engine, text

from picket.metrics import CONTENT_TYPE_LATEST, render

log = logging.getLogger("picket.health")

# A check answers True when the dependency it names is usable.
Check = Callable[[], bool | Awaitable[bool]]

CHECK_TIMEOUT_S = 2.0


def database_check(engine: Engine) -> Check:
    def ping() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    async def check() -> bool:
        return await asyncio.to_thread(ping)

    return check


async def _run_check(check: Check) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            result = check()
            if inspect.isawaitable(result):
                result = await result
            return bool(result)
    except Exception:
        return False


class HealthServer:
    def __init__(self, host: str, port: int, checks: Mapping[str, Check]) -> None:
        self.host = host
        self.port = port
        self.checks = dict(checks)
        self._server: asyncio.Server | None = None

    async def readiness(self) -> dict[str, bool]:
        names = list(self.checks)
        results = await asyncio.gather(*(_run_check(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _respond(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            return 200, "application/json", b'{"status": "ok"}'
        if path == "/readyz":
            results = await self.readiness()
            ready = all(results.values())
            body = {
                "status": "ready" if ready else "not ready",
                "checks": {n: "ok" if ok else "unreachable" for n, ok in results.items()},
            }
            return (200 if ready else 503), "application/json", json.dumps(body).encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, render()
        return 404, "application/json", b'{"detail": "not found"}'

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readuntil(b"\r\n\r\n")
                method, _, rest = request.decode("latin-1").partition(" ")
                path = rest.partition(" ")[0].partition("?")[0]
                if method not in ("GET", "HEAD"):
                    status, kind, body = 405, "application/json", b'{"detail": "GET only"}'
                else:
                    status, kind, body = await self._respond(path)
                reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(
                    status, "Service Unavailable"
                )
                head = (
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                )
                writer.write(head.encode() + (b"" if method == "HEAD" else body))
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()


def health_server(host: str, port: int, checks: Mapping[str, Check]) -> HealthServer | None:
    """The server PICKET_HEALTH_PORT asks for, or None when it is 0 (off)."""
    return HealthServer(host, port, checks) if port else None
