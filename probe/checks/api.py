"""Multi-step API checks: ordered requests, assertions, values carried between steps.

Steps run in order and stop at the first failure; the outcome names the failing step
and assertion. `extract` stores values from a step's JSON body (`data.access_token`,
`items.0.id`) for later steps to use as `{{name}}` in URL, headers and body.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from picket.errors import ErrorKind
from picket.probe.checks.base import CheckContext, CheckSpec, Outcome
from picket.probe.checks.errors import classify
from picket.probe.checks.httpclient import Fetched, HttpSession
from picket.specs import (
    TEMPLATE,
    ApiSettings,
    ApiStep,
    BodyContainsAssertion,
    HeaderAssertion,
    JsonPathAssertion,
    ResponseTimeAssertion,
    StatusAssertion,
)
from picket.status_codes import status_matches

DEFAULT_STATUS = StatusAssertion(type="status", expected=["2xx", "3xx"])
_MISSING = object()


class StepFailed(Exception):
    def __init__(self, kind: ErrorKind, message: str, assertion: dict[str, Any] | None = None):
        super().__init__(message)
        self.kind = kind
        self.assertion = assertion


async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome:
    settings = ApiSettings.model_validate(spec.settings)
    variables: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    status_code: int | None = None
    async with HttpSession(
        ctx,
        timeout_s=spec.timeout_s,
        verify=settings.verify_tls,
        follow_redirects=settings.follow_redirects,
    ) as session:
        for number, step in enumerate(settings.steps, start=1):
            record: dict[str, Any] = {"step": number, "name": step.name, "ok": False}
            steps.append(record)
            try:
                fetched = await session.fetch(
                    step.method,
                    render(step.url, variables),
                    headers=_headers(step, variables),
                    body=_body(step, variables),
                )
                status_code = fetched.status_code
                record.update(status_code=fetched.status_code, elapsed_ms=fetched.elapsed_ms)
                timings[f"step_{number}"] = fetched.elapsed_ms
                check_assertions(step, fetched)
                variables.update(extract(step, fetched))
            except StepFailed as exc:
                return _failed(
                    number,
                    step,
                    exc.kind,
                    str(exc),
                    exc.assertion,
                    steps,
                    timings,
                    status_code,
                    started,
                )
            except Exception as exc:  # every failure becomes an outcome with its error kind
                kind, message = classify(exc)
                return _failed(
                    number, step, kind, message, None, steps, timings, status_code, started
                )
            record["ok"] = True
    timings["total"] = _ms(started)
    return Outcome.success(status_code=status_code, timings=timings, detail={"steps": steps})


def _failed(
    number: int,
    step: ApiStep,
    kind: ErrorKind,
    message: str,
    assertion: dict[str, Any] | None,
    steps: list[dict[str, Any]],
    timings: dict[str, float],
    status_code: int | None,
    started: float,
) -> Outcome:
    timings["total"] = _ms(started)
    detail: dict[str, Any] = {
        "steps": steps,
        "failed_step": number,
        "failed_step_name": step.name,
    }
    if assertion is not None:
        detail["failed_assertion"] = assertion
    return Outcome.failure(
        kind,
        f"step {number} ({step.name}): {message}",
        status_code=status_code,
        timings=timings,
        detail=detail,
    )


def render(text: str, variables: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise StepFailed(ErrorKind.ASSERTION, f"no value for {{{{{name}}}}}")
        found = variables[name]
        return found if isinstance(found, str) else json.dumps(found)

    return TEMPLATE.sub(value, text)


def _render_json(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [_render_json(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _render_json(item, variables) for key, item in value.items()}
    return value


def _headers(step: ApiStep, variables: dict[str, Any]) -> dict[str, str]:
    headers = {name: render(value, variables) for name, value in step.headers.items()}
    is_json = isinstance(step.body, dict | list)
    if is_json and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return headers


def _body(step: ApiStep, variables: dict[str, Any]) -> str | None:
    if step.body is None:
        return None
    if isinstance(step.body, str):
        return render(step.body, variables)
    return json.dumps(_render_json(step.body, variables))


def json_get(document: Any, path: str) -> Any:
    """`data.items.0.id` (or `$.data.items[0].id`) in a decoded JSON document."""
    current = document
    cleaned = path.removeprefix("$").lstrip(".").replace("[", ".").replace("]", "")
    for part in filter(None, cleaned.split(".")):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def _json_body(fetched: Fetched) -> Any:
    try:
        return fetched.json()
    except ValueError:
        return _MISSING


def check_assertions(step: ApiStep, fetched: Fetched) -> None:
    assertions = list(step.assertions)
    if not any(isinstance(a, StatusAssertion) for a in assertions):
        assertions.insert(0, DEFAULT_STATUS)
    for index, assertion in enumerate(assertions, start=1):
        failure = _evaluate(assertion, fetched)
        if failure is not None:
            described = assertion.model_dump()
            described["index"] = index
            raise StepFailed(
                ErrorKind.ASSERTION,
                f"assertion {index} ({describe(assertion)}) failed: {failure}",
                described,
            )


def describe(assertion: Any) -> str:
    match assertion:
        case StatusAssertion(expected=expected):
            return f"status in {', '.join(expected)}"
        case BodyContainsAssertion(value=value):
            return f"body contains {value!r}"
        case JsonPathAssertion(path=path, equals=equals):
            return f"{path} equals {json.dumps(equals)}"
        case HeaderAssertion(name=name, equals=equals):
            return f"header {name} equals {equals!r}"
        case ResponseTimeAssertion(max_ms=max_ms):
            return f"response time at most {max_ms:g} ms"
    return str(assertion)


def _evaluate(assertion: Any, fetched: Fetched) -> str | None:
    """None when the assertion holds, otherwise what was seen instead."""
    match assertion:
        case StatusAssertion(expected=expected):
            if not status_matches(fetched.status_code, expected):
                return f"got status {fetched.status_code}"
        case BodyContainsAssertion(value=value):
            if value not in fetched.text:
                return "not in the body"
        case JsonPathAssertion(path=path, equals=equals):
            document = _json_body(fetched)
            if document is _MISSING:
                return "the body is not JSON"
            found = json_get(document, path)
            if found is _MISSING:
                return f"{path} not in the body"
            if found != equals:
                return f"got {json.dumps(found)}"
        case HeaderAssertion(name=name, equals=equals):
            seen = fetched.headers.get(name)
            if seen != equals:
                return "header missing" if seen is None else f"got {seen!r}"
        case ResponseTimeAssertion(max_ms=max_ms):
            if fetched.elapsed_ms > max_ms:
                return f"took {fetched.elapsed_ms:.0f} ms"
    return None


def extract(step: ApiStep, fetched: Fetched) -> dict[str, Any]:
    if not step.extract:
        return {}
    document = _json_body(fetched)
    values: dict[str, Any] = {}
    for name, path in step.extract.items():
        found = _MISSING if document is _MISSING else json_get(document, path)
        if found is _MISSING:
            raise StepFailed(
                ErrorKind.ASSERTION,
                f"extract {name}: {path} not in the response body",
                {"type": "extract", "name": name, "path": path},
            )
        values[name] = found
    return values


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
