"""The one interface every check kind implements.

A check is `async def run(spec: CheckSpec, ctx: CheckContext) -> Outcome`. The scheduler,
not the check, owns the deadline (asyncio.timeout) and the total latency; a check only
reports what it saw, with phase timings when it has them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from picket.errors import ErrorKind


@dataclass(frozen=True)
class CheckSpec:
    monitor_id: str
    kind: str
    target: str
    timeout_s: float
    # The kind's own settings (the object under the kind's name in the API).
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckContext:
    """What the probe hands every check: its environment, never global state."""

    source_address: str | None = None
    allow_private_targets: bool = False
    # Extra CA certificates (PEM file) trusted besides the public roots: private CAs.
    ca_file: str | None = None


@dataclass
class Outcome:
    ok: bool
    error_kind: ErrorKind | None = None
    error: str = ""
    status_code: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    # The check's own latency where wall time is not it (a ping's average round trip,
    # not count x interval); None: the scheduler's measured time.
    latency_ms: float | None = None

    @classmethod
    def success(cls, **kwargs: Any) -> Outcome:
        return cls(ok=True, **kwargs)

    @classmethod
    def failure(cls, kind: ErrorKind, error: str, **kwargs: Any) -> Outcome:
        return cls(ok=False, error_kind=kind, error=error, **kwargs)


CheckFn = Callable[[CheckSpec, CheckContext], Awaitable[Outcome]]
