"""TCP checks: connect (to a screened address), optionally send bytes and expect a reply."""

from __future__ import annotations

import asyncio
import time

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.specs import TcpSettings
from picket.targets import resolve_screened

MAX_REPLY_BYTES = 64 * 1024


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = TcpSettings.model_validate(spec.settings)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        addresses = await resolve_screened(
            spec.target, settings.port, allow_private=ctx.allow_private_targets
        )
        timings["dns"] = _ms(started)
        connect_started = time.perf_counter()
        reader, writer, address = await _connect(addresses, settings.port, ctx)
        timings["connect"] = _ms(connect_started)
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        return Outcome.failure(kind, message, timings=timings)

    detail: dict[str, object] = {"address": address, "port": settings.port}
    try:
        if settings.send is not None:
            writer.write(settings.send.encode())
            await writer.drain()
        if settings.expect is not None:
            reply = await _read_until(reader, settings.expect.encode())
            timings["first_byte"] = _ms(started)
            detail["reply"] = reply[:200].decode(errors="replace")
            if settings.expect.encode() not in reply:
                timings["total"] = _ms(started)
                return Outcome.failure(
                    ErrorKind.KEYWORD,
                    f"expected {settings.expect!r} in the reply, got {detail['reply']!r}",
                    timings=timings,
                    detail=detail,
                )
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        return Outcome.failure(kind, message, timings=timings, detail=detail)
    finally:
        writer.close()
    timings["total"] = _ms(started)
    return Outcome.success(timings=timings, detail=detail)


async def _connect(
    addresses: list[str], port: int, ctx: CheckContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    error: OSError | None = None
    local = (ctx.source_address, 0) if ctx.source_address else None
    for address in addresses:
        try:
            reader, writer = await asyncio.open_connection(address, port, local_addr=local)
        except OSError as exc:
            error = exc
            continue
        return reader, writer, address
    assert error is not None  # resolve_screened never returns an empty list
    raise error


async def _read_until(reader: asyncio.StreamReader, expected: bytes) -> bytes:
    """Read until `expected` shows up, the peer closes, or the scheduler's deadline."""
    reply = b""
    while expected not in reply and len(reply) < MAX_REPLY_BYTES:
        chunk = await reader.read(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
