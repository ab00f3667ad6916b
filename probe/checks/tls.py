"""TLS certificate checks: validity of chain and hostname, days until expiry, who issued it.

A certificate close to expiry is a warning, not an outage: the outcome stays ok with
detail `expiring: true`, the crossed threshold and days_left; the collector turns the
first result at each threshold into one `ssl.expiring` event (collector/tls_expiry.py).
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.probe.checks.httpclient import ssl_context
from picket.specs import TlsSettings
from picket.targets import resolve_screened

# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = {62, 64}
_DER = 2  # ssl's private ENCODING_DER, for the chain on Python < 3.13


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = TlsSettings.model_validate(spec.settings)
    host = spec.target.strip().strip("[]")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    verify_error: ssl.SSLCertVerificationError | None = None
    try:
        addresses = await resolve_screened(
            host, settings.port, allow_private=ctx.allow_private_targets
        )
        timings["dns"] = _ms(started)
        try:
            chain, protocol = await _handshake(
                addresses[0], settings.port, host, ctx, True, timings
            )
        except ssl.SSLCertVerificationError as exc:
            # Look again without verifying, to report what the certificate says.
            verify_error = exc
            chain, protocol = await _handshake(addresses[0], settings.port, host, ctx, False, {})
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        return Outcome.failure(kind, message, timings=timings)
    timings["total"] = _ms(started)

    detail = certificate_facts(chain, datetime.now(UTC))
    detail.update(address=addresses[0], port=settings.port, protocol=protocol)
    name_mismatch = verify_error is not None and verify_error.verify_code in _NAME_MISMATCH
    detail["hostname_valid"] = not name_mismatch
    detail["chain_valid"] = verify_error is None or name_mismatch
    if verify_error is not None:
        reason = verify_error.verify_message or str(verify_error)
        return Outcome.failure(
            ErrorKind.TLS,
            f"certificate not valid for {host}: {reason}",
            timings=timings,
            detail=detail,
        )
    threshold = crossed_threshold(detail["days_left"], settings.expiry_thresholds_days)
    if threshold is not None:
        detail.update(expiring=True, threshold=threshold)
    else:
        detail["expiring"] = False
    return Outcome.success(timings=timings, detail=detail)


def crossed_threshold(days_left: int, thresholds: list[int]) -> int | None:
    """The smallest threshold days_left is within: 10 days with [30, 14, 7, 1] → 14."""
    crossed = [t for t in thresholds if days_left <= t]
    return min(crossed) if crossed else None


async def _handshake(
    address: str,
    port: int,
    host: str,
    ctx: CheckContext,
    verify: bool,
    timings: dict[str, float],
) -> tuple[list[bytes], str | None]:
    local = (ctx.source_address, 0) if ctx.source_address else None
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    sock_transport, _ = await loop.create_connection(
        asyncio.Protocol, address, port, local_addr=local
    )
    timings["connect"] = _ms(started)
    started = time.perf_counter()
    try:
        tls_transport = await loop.start_tls(
            sock_transport, asyncio.Protocol(), ssl_context(ctx, verify), server_hostname=host
        )
    except BaseException:
        sock_transport.close()
        raise
    timings["tls"] = _ms(started)
    try:
        obj = tls_transport.get_extra_info("ssl_object")
        return _peer_chain(obj), obj.version()
    finally:
        tls_transport.close()


def _peer_chain(obj: Any) -> list[bytes]:
    # Python 3.13 has SSLObject.get_unverified_chain(); 3.11 keeps it on the private object.
    getter = getattr(obj, "get_unverified_chain", None) or getattr(
        getattr(obj, "_sslobj", None), "get_unverified_chain", None
    )
    chain = getter() if getter else None
    if not chain:
        return [obj.getpeercert(binary_form=True)]
    return [item if isinstance(item, bytes) else item.public_bytes(_DER) for item in chain]


def certificate_facts(chain: list[bytes], now: datetime) -> dict[str, Any]:
    certs = [x509.load_der_x509_certificate(der) for der in chain]
    leaf = certs[0]
    not_after = leaf.not_valid_after_utc
    try:
        san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        names = [str(v) for v in san.value.get_values_for_type(x509.DNSName)] + [
            str(v) for v in san.value.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        names = []
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": format(leaf.serial_number, "x"),
        "names": names,
        "not_before": leaf.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": math.floor((not_after - now).total_seconds() / 86400),
        "chain": [cert.subject.rfc4514_string() for cert in certs],
    }


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
