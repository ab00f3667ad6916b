"""ICMP echo (ping) checks with icmplib: packet loss and round-trip times.

Unprivileged ICMP sockets are used where the kernel allows them
(net.ipv4.ping_group_range); otherwise raw sockets where the probe holds CAP_NET_RAW;
otherwise the check fails saying exactly what to change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import icmplib

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.specs import IcmpSettings
from picket.targets import resolve_screened

PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = IcmpSettings.model_validate(spec.settings)
    interval = settings.interval_ms / 1000
    # Leave the last reply the rest of the check's deadline, so the scheduler's timeout
    # does not cut off the statistics.
    reply_timeout = max(0.2, spec.timeout_s - settings.count * interval - 0.1)
    try:
        addresses = await resolve_screened(spec.target, allow_private=ctx.allow_private_targets)
        options: dict[str, Any] = {
            "count": settings.count,
            "interval": interval,
            "timeout": reply_timeout,
            "source": ctx.source_address or None,
        }
        try:
            host = await icmplib.async_ping(addresses[0], privileged=False, **options)
        except icmplib.SocketPermissionError:
            try:
                host = await icmplib.async_ping(addresses[0], privileged=True, **options)
            except icmplib.SocketPermissionError:
                return Outcome.failure(ErrorKind.INTERNAL, permission_message())
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        return Outcome.failure(kind, message)

    loss = round(host.packet_loss * 100, 2)
    detail = {
        "address": host.address,
        "sent": host.packets_sent,
        "received": host.packets_received,
        "packet_loss_percent": loss,
        "rtt_min_ms": host.min_rtt,
        "rtt_avg_ms": host.avg_rtt,
        "rtt_max_ms": host.max_rtt,
    }
    timings = {"rtt_avg": host.avg_rtt} if host.packets_received else {}
    if not host.packets_received:
        return Outcome.failure(
            ErrorKind.TIMEOUT,
            f"no reply to {host.packets_sent} echo requests to {host.address}",
            detail=detail,
        )
    limit = settings.max_packet_loss_percent
    if limit is not None and loss > limit:
        return Outcome.failure(
            ErrorKind.TIMEOUT,
            f"{loss}% packet loss, more than {limit}%",
            timings=timings,
            detail=detail,
        )
    if settings.max_rtt_ms is not None and host.avg_rtt > settings.max_rtt_ms:
        return Outcome.failure(
            ErrorKind.SLOW,
            f"average round trip {host.avg_rtt} ms, more than {settings.max_rtt_ms} ms",
            timings=timings,
            detail=detail,
        )
    return Outcome.success(timings=timings, detail=detail, latency_ms=host.avg_rtt)


def permission_message(range_text: str | None = None, groups: list[int] | None = None) -> str:
    """Why this process cannot ping, and what the operator can change."""
    if range_text is None:
        try:
            range_text = PING_GROUP_RANGE.read_text()
        except OSError:
            range_text = ""
    groups = groups if groups is not None else sorted({os.getgid(), *os.getgroups()})
    where = "net.ipv4.ping_group_range"
    try:
        low, high = (int(part) for part in range_text.split())
        current = f"{where} is '{low} {high}'"
        if low > high:
            current += ", which allows no group"
        else:
            current += f", which does not include this process's groups {groups}"
    except ValueError:
        current = f"{where} could not be read"
    return (
        "ICMP is not permitted for this probe: the kernel forbids unprivileged ping "
        f"({current}) and the probe lacks CAP_NET_RAW for raw sockets. Allow it with "
        f"`sysctl -w {where}='0 2147483647'` or grant the probe CAP_NET_RAW."
    )
