"""`picket collector`."""

from __future__ import annotations

import asyncio

from picket.collector.ingest import tune_gc
from picket.collector.service import Collector
from picket.logs import setup_logging
from picket.process import run_until_signalled
from picket.settings import Settings


def run_collector(settings: Settings) -> int:
    setup_logging(settings.log_level)
    tune_gc()
    asyncio.run(run_until_signalled(Collector(settings).run))
    return 0
