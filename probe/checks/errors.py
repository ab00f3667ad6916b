"""Map lower-level exceptions to Picket's error kinds, in one place for every check."""

from __future__ import annotations

import socket
import ssl

import dns.exception
import dns.resolver
import httpx
import icmplib

from picket.errors import ErrorKind
from picket.targets import TargetError


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """The most specific error kind for an exception, and a message for people.

    The most specific cause wins wherever it sits in the chain: an httpx.ConnectError
    caused by a certificate failure is `tls`, not `connect`.
    """
    chain = _chain(exc)
    message = str(exc) or type(exc).__name__
    for item in chain:
        if isinstance(item, TargetError):
            return ErrorKind.CONNECT, f"refused by the target policy: {item}"
        if isinstance(item, socket.gaierror | icmplib.NameLookupError):
            return ErrorKind.DNS, f"name resolution failed: {item}"
        if isinstance(item, dns.exception.Timeout):
            return ErrorKind.TIMEOUT, f"DNS query timed out: {item}"
        if isinstance(item, ssl.SSLError | ssl.CertificateError):
            return ErrorKind.TLS, f"TLS error: {item}"
    for item in chain:
        if isinstance(item, TimeoutError | httpx.TimeoutException):
            return ErrorKind.TIMEOUT, f"timed out: {message}" if str(exc) else "timed out"
    for item in chain:
        if isinstance(item, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer):
            return ErrorKind.DNS, f"DNS: {item}"
        if isinstance(item, dns.exception.DNSException):
            return ErrorKind.DNS, f"DNS error: {item}"
    for item in chain:
        if isinstance(item, httpx.TooManyRedirects):
            return ErrorKind.STATUS, f"too many redirects: {item}"
        if isinstance(
            item,
            httpx.ConnectError
            | httpx.NetworkError
            | httpx.RemoteProtocolError
            | ConnectionError
            | OSError,
        ):
            return ErrorKind.CONNECT, f"connection failed: {message}"
    return ErrorKind.INTERNAL, f"{type(exc).__name__}: {message}"
