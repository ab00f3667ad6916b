"""`picket probe`."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from picket.logs import setup_logging
from picket.probe.agent import ProbeAgent, ProbeRefused
from picket.process import run_until_signalled
from picket.settings import Settings, SettingsError

log = logging.getLogger("picket.probe")
T = TypeVar("T")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (every platform but Windows), else asyncio's own loop.

    A probe's event loop does a connection, a few reads and writes and a publish per check;
    uvloop does that work in C, for about a sixth less CPU per HTTP check (bench/probe.py).
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_in_probe_loop(main: Coroutine[Any, Any, T]) -> T:
    """Runs `main` on the probe's event loop, with what was loaded so far out of the way of
    the garbage collector.

    The modules and objects loaded at start (about 120,000) live as long as the process;
    every full collection scanned them all, 40-100 ms during which no check starts or
    finishes. Frozen, a full collection scans only what the checks made since.
    """
    gc.freeze()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)


def run_probe(settings: Settings) -> int:
    setup_logging(settings.log_level)
    if not settings.probe_token:
        raise SettingsError(
            "invalid setting PICKET_PROBE_TOKEN: required (the token that "
            "POST /api/v1/probes returned)"
        )
    try:
        run_in_probe_loop(run_until_signalled(ProbeAgent(settings).run))
    except ProbeRefused as exc:
        log.error(
            "the collector at %s refused this probe's token (UNAUTHENTICATED: %s); "
            "check PICKET_PROBE_TOKEN",
            settings.collector_addr,
            exc,
        )
        return 3
    return 0
