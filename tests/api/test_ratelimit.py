"""Per-key and per-IP request limits, with the headers every response carries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from picket.api.ratelimit import RateLimiter
from tests.api.conftest import Api, make_api


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[Api, FakeClock]]:
    clock = FakeClock()
    for api in make_api(database_url, rate_limit_per_minute=100):
        limiter: RateLimiter = api.app.state.rate_limiter
        # The limit counts real requests; only the passing of the minute is simulated.
        limiter.clock = clock
        yield api, clock


def test_101st_request_in_a_minute_is_429_and_other_keys_are_unaffected(
    limited: tuple[Api, FakeClock],
) -> None:
    api, clock = limited
    org = api.organization("A")
    key, other = api.key(org, ["read_only"]), api.key(org, ["read_only"])
    for n in range(100):
        response = api.request("GET", "/api/v1/monitors", key)
        assert response.status_code == 200, response.text
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert response.headers["X-RateLimit-Remaining"] == str(99 - n)
    clock.now += 30
    refused = api.request("GET", "/api/v1/monitors", key)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit" in refused.json()["detail"]

    fine = api.request("GET", "/api/v1/monitors", other)
    assert fine.status_code == 200
    assert fine.headers["X-RateLimit-Remaining"] == "99"

    clock.now += 30
    assert api.request("GET", "/api/v1/monitors", key).status_code == 200


def test_requests_without_a_key_are_limited_per_client_ip(
    limited: tuple[Api, FakeClock],
) -> None:
    api, _ = limited
    for _ in range(100):
        assert api.client.get("/api/v1/monitors").status_code == 401
    response = api.client.get("/api/v1/monitors")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 60
    org = api.organization("A")
    assert api.request("GET", "/api/v1/monitors", api.key(org, ["full"])).status_code == 200


def test_every_response_carries_the_headers(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    responses = [
        api.client.get("/openapi.json"),
        api.request("GET", "/api/v1/monitors", key),
        api.request("GET", "/api/v1/monitors/nope", key),
        api.request("GET", "/api/v1/monitors?limit=0", key),
        api.request("GET", "/api/v1/monitors"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 422, 401]
    for response in responses:
        assert int(response.headers["X-RateLimit-Limit"]) == 1_000_000
        assert int(response.headers["X-RateLimit-Remaining"]) > 0


def test_idle_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock)
    for n in range(2000):
        limiter.hit(f"ip:{n}")
    clock.now += 61
    for _ in range(1000):
        limiter.hit("ip:steady")
    assert len(limiter) < 10


def test_guessing_keys_is_limited_per_client_ip(limited: tuple[Api, FakeClock]) -> None:
    api, clock = limited
    for n in range(100):
        guess = api.request("GET", "/api/v1/monitors", f"pk_guess{n:029d}")
        assert guess.status_code == 401
    refused = api.request("GET", "/api/v1/monitors", "pk_" + "z" * 32)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    clock.now += 60
    org = api.organization("A")
    assert api.request("GET", "/api/v1/monitors", api.key(org, ["full"])).status_code == 200
