"""DNS checks: ask a resolver (the system's, or one the monitor names) for a record."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import dns.asyncresolver
import dns.name
import dns.nameserver
import dns.resolver

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.specs import DnsSettings
from picket.targets import screen_address, split_host_port


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = DnsSettings.model_validate(spec.settings)
    detail: dict[str, Any] = {"record_type": settings.record_type}
    started = time.perf_counter()
    try:
        resolver = _resolver(settings, ctx)
        detail["resolver"] = settings.resolver or "system"
        answer = await resolver.resolve(
            dns.name.from_text(spec.target.strip()),
            settings.record_type,
            lifetime=spec.timeout_s,
            search=False,
            source=ctx.source_address or None,
        )
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        timings = {"total": _ms(started)}
        return Outcome.failure(kind, message, timings=timings, detail=detail)
    timings = {"dns": _ms(started), "total": _ms(started)}
    answers = [normalize(settings.record_type, rdata.to_text()) for rdata in answer]
    detail["answers"] = answers
    detail["ttl"] = answer.rrset.ttl if answer.rrset is not None else None
    missing = [
        value
        for value in settings.expected
        if normalize(settings.record_type, value) not in answers
    ]
    if missing:
        return Outcome.failure(
            ErrorKind.ASSERTION,
            f"expected {settings.record_type} {', '.join(missing)}; "
            f"answers were {', '.join(answers) or 'none'}",
            timings=timings,
            detail=detail,
        )
    return Outcome.success(timings=timings, detail=detail)


def _resolver(settings: DnsSettings, ctx: CheckContext) -> dns.asyncresolver.Resolver:
    if settings.resolver is None:
        # The operator's own resolver configuration: trusted as the operator set it up.
        return dns.asyncresolver.Resolver(configure=True)
    host, port = split_host_port(settings.resolver, 53)
    screen_address(host, allow_private=ctx.allow_private_targets)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
    return resolver


def normalize(record_type: str, value: str) -> str:
    """One spelling per answer, so expected values compare whatever their case or dots."""
    value = value.strip()
    if record_type in {"A", "AAAA"}:
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    if record_type == "TXT":
        # Zone text quotes each string; "a" "b" is the one value ab.
        if value.startswith('"'):
            return "".join(part for part in value[1:-1].split('" "'))
        return value
    if record_type == "MX":
        preference, _, host = value.partition(" ")
        return f"{preference} {host.strip().lower().rstrip('.')}"
    return value.lower().rstrip(".")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
