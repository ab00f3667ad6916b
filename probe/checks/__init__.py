"""The registry of check kinds: one module per kind, one `run` signature.

Push kinds (heartbeat) have no entry: nothing runs on a probe for them.
"""

from __future__ import annotations

from picket.probe.checks import api, dns, http, icmp, tcp, tls
from picket.probe.checks.base import CheckContext, CheckFn, CheckSpec, Outcome

CHECKS: dict[str, CheckFn] = {
    "http": http.run,
    "tcp": tcp.run,
    "dns": dns.run,
    "icmp": icmp.run,
    "tls": tls.run,
    "api": api.run,
}

__all__ = ["CHECKS", "CheckContext", "CheckFn", "CheckSpec", "Outcome"]
