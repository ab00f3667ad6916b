from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from picket.errors import ErrorKind
from picket.probe.checks import api
from picket.probe.checks.base import CheckContext, CheckSpec
from tests.probe.checks.servers import HttpServer, Request, http_server

TOKEN = "tok-123"


def login(request: Request) -> tuple[int, dict[str, str], bytes]:
    body = request.json()
    if body != {"user": "ann", "password": "secret"}:
        return 401, {}, b'{"error": "bad credentials"}'
    answer = {"data": {"access_token": TOKEN, "expires_in": 3600}}
    return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def me(request: Request) -> tuple[int, dict[str, str], bytes]:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return 401, {}, b'{"error": "no token"}'
    answer = {"name": "Ann", "roles": ["admin", "ops"]}
    headers = {"Content-Type": "application/json", "X-Api-Version": "2"}
    return 200, headers, json.dumps(answer).encode()


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with http_server() as running:
        running.routes.update({"/login": login, "/me": me})
        yield running


def steps(server: HttpServer, profile_assertions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": "log in",
            "method": "POST",
            "url": server.url("/login"),
            "body": {"user": "ann", "password": "secret"},
            "assertions": [{"type": "status", "expected": ["200"]}],
            "extract": {"token": "data.access_token"},
        },
        {
            "name": "profile",
            "url": server.url("/me"),
            "headers": {"Authorization": "Bearer {{token}}"},
            "assertions": profile_assertions,
        },
    ]


def spec(step_list: list[dict[str, Any]]) -> CheckSpec:
    return CheckSpec(
        monitor_id="m1", kind="api", target="", timeout_s=5, settings={"steps": step_list}
    )


async def test_login_extract_and_use_token(ctx: CheckContext, server: HttpServer) -> None:
    assertions = [
        {"type": "status", "expected": ["2xx"]},
        {"type": "json_path", "path": "name", "equals": "Ann"},
        {"type": "json_path", "path": "roles.1", "equals": "ops"},
        {"type": "body_contains", "value": "admin"},
        {"type": "header", "name": "x-api-version", "equals": "2"},
        {"type": "response_time", "max_ms": 5000},
    ]
    outcome = await api.run(spec(steps(server, assertions)), ctx)
    assert outcome.ok, outcome.error
    assert [s["ok"] for s in outcome.detail["steps"]] == [True, True]
    assert server.requests[0].headers["content-type"] == "application/json"
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"
    assert {"step_1", "step_2", "total"} <= outcome.timings.keys()


async def test_wrong_assertion_in_step_two_names_step_and_assertion(
    ctx: CheckContext, server: HttpServer
) -> None:
    assertions = [
        {"type": "status", "expected": ["2xx"]},
        {"type": "json_path", "path": "name", "equals": "Bob"},
    ]
    outcome = await api.run(spec(steps(server, assertions)), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.ASSERTION)
    assert outcome.error == 'step 2 (profile): assertion 2 (name equals "Bob") failed: got "Ann"'
    assert outcome.detail["failed_step"] == 2
    assert outcome.detail["failed_step_name"] == "profile"
    assert outcome.detail["failed_assertion"]["index"] == 2


async def test_fails_fast_at_the_first_failing_step(ctx: CheckContext, server: HttpServer) -> None:
    step_list = steps(server, [])
    step_list[0]["body"] = {"user": "ann", "password": "wrong"}
    outcome = await api.run(spec(step_list), ctx)
    assert (outcome.ok, outcome.error_kind, outcome.status_code) == (
        False,
        ErrorKind.ASSERTION,
        401,
    )
    assert outcome.error.startswith("step 1 (log in): assertion 1 (status in 200)")
    assert [r.path for r in server.requests] == ["/login"]


async def test_missing_extract_path_fails_the_step(ctx: CheckContext, server: HttpServer) -> None:
    step_list = steps(server, [])
    step_list[0]["extract"] = {"token": "data.refresh_token"}
    outcome = await api.run(spec(step_list), ctx)
    assert (
        outcome.error
        == "step 1 (log in): extract token: data.refresh_token not in the response body"
    )


@pytest.mark.parametrize(
    ("assertion", "message"),
    [
        (
            {"type": "body_contains", "value": "root"},
            "body contains 'root') failed: not in the body",
        ),
        ({"type": "header", "name": "x-api-version", "equals": "3"}, "failed: got '2'"),
        ({"type": "response_time", "max_ms": 0.001}, "response time at most 0.001 ms) failed"),
        ({"type": "status", "expected": ["201"]}, "status in 201) failed: got status 200"),
    ],
)
async def test_each_assertion_type_fails(
    ctx: CheckContext, server: HttpServer, assertion: dict[str, Any], message: str
) -> None:
    outcome = await api.run(spec(steps(server, [assertion])), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.ASSERTION)
    assert outcome.error.startswith("step 2 (profile)") and message in outcome.error


async def test_step_transport_error_keeps_its_kind(ctx: CheckContext, server: HttpServer) -> None:
    step_list = steps(server, [])
    step_list[1]["url"] = "http://169.254.169.254/latest/meta-data/"
    outcome = await api.run(spec(step_list), ctx)
    assert (outcome.ok, outcome.error_kind) == (False, ErrorKind.CONNECT)
    assert outcome.error.startswith("step 2 (profile): refused by the target policy")


def test_json_get() -> None:
    doc = {"data": {"items": [{"id": 7}, {"id": 8}]}}
    assert api.json_get(doc, "data.items.1.id") == 8
    assert api.json_get(doc, "$.data.items[0].id") == 7
    assert api.json_get(doc, "data.items.5.id") is api._MISSING
