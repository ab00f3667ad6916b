"""Connection callbacks for NATS clients: one line when the connection drops and one when it
returns, instead of the client's default traceback at every reconnect attempt."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any


def nats_callbacks(log: logging.Logger, label: str) -> dict[str, Callable[..., Awaitable[None]]]:
    async def error_cb(exc: Any) -> None:
        log.debug("%s: %s", label, exc)

    async def disconnected_cb() -> None:
        log.warning("%s: disconnected; reconnecting", label)

    async def reconnected_cb() -> None:
        log.info("%s: reconnected", label)

    return {
        "error_cb": error_cb,
        "disconnected_cb": disconnected_cb,
        "reconnected_cb": reconnected_cb,
    }
