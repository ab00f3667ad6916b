"""HTTP(S) checks: status, keyword, response time, with phase timings."""

from __future__ import annotations

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.probe.checks.httpclient import HttpSession
from picket.specs import HttpSettings
from picket.status_codes import status_matches


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = HttpSettings.model_validate(spec.settings)
    try:
        async with HttpSession(
            ctx,
            timeout_s=spec.timeout_s,
            verify=settings.verify_tls,
            follow_redirects=settings.follow_redirects,
        ) as session:
            fetched = await session.fetch(
                settings.method, spec.target, headers=settings.headers, body=settings.body
            )
    except Exception as exc:  # every failure becomes an outcome with its error kind
        kind, message = classify(exc)
        return Outcome.failure(kind, message)

    common = {
        "status_code": fetched.status_code,
        "timings": fetched.timings,
        "detail": {
            "url": fetched.url,
            "redirects": fetched.redirects,
            "addresses": fetched.addresses,
        },
    }
    if not status_matches(fetched.status_code, settings.expected_status):
        return Outcome.failure(
            ErrorKind.STATUS,
            f"status {fetched.status_code} not in {', '.join(settings.expected_status)}",
            **common,
        )
    if settings.keyword is not None:
        found = settings.keyword in fetched.text
        if found and settings.keyword_negate:
            return Outcome.failure(
                ErrorKind.KEYWORD, f"forbidden keyword {settings.keyword!r} found", **common
            )
        if not found and not settings.keyword_negate:
            return Outcome.failure(
                ErrorKind.KEYWORD, f"keyword {settings.keyword!r} not found", **common
            )
    threshold = settings.response_time_threshold_ms
    if threshold is not None and fetched.elapsed_ms > threshold:
        return Outcome.failure(
            ErrorKind.SLOW,
            f"response took {fetched.elapsed_ms:.0f} ms, threshold {threshold} ms",
            **common,
        )
    return Outcome.success(**common)
