"""SSRF screening of check targets, in the API at creation and in the probe at resolution.

The API refuses targets whose literal address is never allowed. A name can point anywhere
and can change between creation and check (DNS rebinding), so the probe resolves every
name itself, screens every address the name has, and connects only to a screened address:
`resolve_screened` is the one way a probe check turns a host into addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

# Cloud metadata services and link-local ranges: never a legitimate uptime target.
ALWAYS_REFUSED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::/128"),
]
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "metadata.goog"})
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)*{_LABEL}\.?$")
_TEMPLATE = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


class TargetError(ValueError):
    """A target the operator's policy refuses; `field` names where the API got it."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__(message)
        self.field = field


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unwrap(ip: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 and 64:ff9b::a9fe:a9fe reach the same IPv4 host.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def screen_address(address: str, *, allow_private: bool) -> None:
    """Raise TargetError when the policy refuses this IP address (ValueError if not one)."""
    ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    if any(ip in net for net in ALWAYS_REFUSED) or ip.is_link_local or ip.is_multicast:
        raise TargetError(f"{ip} is a link-local or metadata address and is never checked")
    if not allow_private and (
        ip.is_loopback or ip.is_private or ip.is_reserved or ip.is_unspecified
    ):
        raise TargetError(
            f"{ip} is a loopback or private address; the operator has not allowed those "
            "(PICKET_ALLOW_PRIVATE_TARGETS)"
        )


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def is_host(value: str) -> bool:
    """A host name or an IP address literal, as tcp, icmp, tls and dns monitors take them."""
    value = value.strip()
    return is_ip_literal(value.strip("[]")) or bool(_HOSTNAME.match(value))


def screen_host(host: str, *, allow_private: bool) -> None:
    """Screen a host as written: an address literal fully, a name only against known
    metadata names (its addresses are screened when the probe resolves it)."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        raise TargetError("a target host is required")
    if is_ip_literal(host):
        screen_address(host, allow_private=allow_private)
    elif host in METADATA_NAMES:
        raise TargetError(f"{host} is a cloud metadata service and is never checked")


def url_host(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TargetError("expected an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise TargetError(f"bad port in URL: {exc}") from None
    return parts.hostname


def target_host(kind: str, target: str) -> str:
    """The host part of a monitor's target, as each kind writes it."""
    if kind in {"http", "api"}:
        return url_host(target)
    return target.strip().strip("[]")


def screen_url(url: str, *, allow_private: bool) -> None:
    """Screen an http(s) URL; a host still holding a {{variable}} is screened at run time."""
    if _TEMPLATE.search(urlsplit(url).netloc):
        if not url.lower().startswith(("http://", "https://")):
            raise TargetError("expected an http:// or https:// URL with a host")
        return
    screen_host(url_host(url), allow_private=allow_private)


def screen_monitor_target(
    kind: str,
    target: str,
    *,
    allow_private: bool,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a monitor whose target, step URLs or resolver the policy never allows."""
    if kind == "heartbeat":
        return
    settings = settings or {}
    if kind == "api":
        if target:
            screen_url(target, allow_private=allow_private)
        for index, step in enumerate(settings.get("steps") or [], start=1):
            try:
                screen_url(str(step.get("url", "")), allow_private=allow_private)
            except TargetError as exc:
                raise TargetError(str(exc), f"api.steps.{index - 1}.url") from None
        return
    if kind == "http":
        screen_url(target, allow_private=allow_private)
        return
    if kind == "dns":
        # The name is only asked about; the resolver is what the probe connects to.
        resolver = settings.get("resolver")
        if resolver:
            try:
                screen_host(split_host_port(str(resolver), 53)[0], allow_private=allow_private)
            except TargetError as exc:
                raise TargetError(str(exc), "dns.resolver") from None
        if not target.strip():
            raise TargetError("a name to look up is required")
        return
    screen_host(target_host(kind, target), allow_private=allow_private)


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """ "1.1.1.1", "1.1.1.1:5353", "[::1]:5353" or "::1" → (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port else default_port
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, default_port


async def resolve_screened(host: str, port: int | None = None, *, allow_private: bool) -> list[str]:
    """Every address of `host`, each screened; refuses the host if any address is refused.

    Refusing the whole name (rather than skipping bad answers) keeps a rebinding name
    from being checked half the time; callers connect only to the addresses returned.
    """
    host = host.strip().strip("[]")
    if is_ip_literal(host):
        screen_address(host, allow_private=allow_private)
        return [host]
    if host.rstrip(".").lower() in METADATA_NAMES:
        raise TargetError(f"{host} is a cloud metadata service and is never checked")
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = _unique(str(info[4][0]) for info in infos)
    for address in addresses:
        try:
            screen_address(address, allow_private=allow_private)
        except TargetError as exc:
            raise TargetError(f"{host} resolves to a refused address: {exc}") from None
    return addresses


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
