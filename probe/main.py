"""`picket probe`."""

from __future__ import annotations

import asyncio
import logging

from picket.logs import setup_logging
from picket.probe.agent import ProbeAgent, ProbeRefused
from picket.process import run_until_signalled
from picket.settings import Settings, SettingsError

log = logging.getLogger("picket.probe")


def run_probe(settings: Settings) -> int:
    setup_logging(settings.log_level)
    if not settings.probe_token:
        raise SettingsError(
            "invalid setting PICKET_PROBE_TOKEN: required (the token that "
            "POST /api/v1/probes returned)"
        )
    try:
        asyncio.run(run_until_signalled(ProbeAgent(settings).run))
    except ProbeRefused as exc:
        log.error(
            "the collector at %s refused this probe's token (UNAUTHENTICATED: %s); "
            "check PICKET_PROBE_TOKEN",
            settings.collector_addr,
            exc,
        )
        return 3
    return 0
