"""The one set of error kinds every check result uses."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    STATUS = "status"
    KEYWORD = "keyword"
    ASSERTION = "assertion"
    SLOW = "slow"
    INTERNAL = "internal"
