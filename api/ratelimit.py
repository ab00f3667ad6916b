"""Request rate limits: per API key, per client IP for requests without a key (heartbeats,
status pages), and per client IP for keys that fail authentication.

The counters live in this process's memory. That is exact for the single API process
Picket runs (`picket api`, `picket up`); several API replicas would each allow the limit,
so a deployment that scales the API out must put a shared limiter in front of it.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from picket.secrets import hash_secret

WINDOW_S = 60.0
# How many hits between sweeps of idle buckets, so memory follows the active clients only.
_SWEEP_EVERY = 1000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int


class RateLimiter:
    """A sliding one-minute log per bucket: at most `limit` requests in any 60 seconds."""

    def __init__(
        self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._since_sweep = 0

    def __len__(self) -> int:
        """How many buckets are held in memory."""
        return len(self._hits)

    def hit(self, bucket: str) -> Decision:
        """Count one request in `bucket` if the limit allows it."""
        return self._decide(bucket, record=True)

    def peek(self, bucket: str) -> Decision:
        """Would `bucket` allow one more request? Counts nothing."""
        return self._decide(bucket, record=False)

    def _decide(self, bucket: str, record: bool) -> Decision:
        now = self.clock()
        hits = self._hits.setdefault(bucket, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        self._maybe_sweep(now)
        if len(hits) >= self.limit:
            retry = max(1, math.ceil(hits[0] + self.window_s - now))
            return Decision(False, self.limit, 0, retry)
        if record:
            hits.append(now)
        return Decision(True, self.limit, self.limit - len(hits), 0)

    def _maybe_sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < _SWEEP_EVERY:
            return
        self._since_sweep = 0
        cutoff = now - self.window_s
        for bucket in [b for b, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[bucket]


def key_hash(scope: Scope) -> str | None:
    """The hash of the bearer key sent, if any: the raw key is not kept past the request."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return hash_secret(raw.strip())
    return None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware:
    """Answers 429 with Retry-After over the limit; adds X-RateLimit-* to every response."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope)
        key = key_hash(scope)
        # Keys that fail authentication count against their IP as well, so trying many
        # made-up keys from one address is throttled like any unauthenticated traffic.
        failures = f"auth-failures:{ip}"
        if key is None:
            decision = self.limiter.hit(f"ip:{ip}")
        else:
            decision = self.limiter.peek(failures)
            if decision.allowed:
                decision = self.limiter.hit(f"key:{key}")
        headers = [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]
        if not decision.allowed:
            body = json.dumps(
                {
                    "detail": f"rate limit of {decision.limit} requests per minute exceeded; "
                    f"retry in {decision.retry_after_s} s"
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(decision.retry_after_s).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if key is not None and message["status"] == 401:
                    self.limiter.hit(failures)
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
