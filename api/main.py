"""`picket api`."""

from __future__ import annotations

import uvicorn

from picket.api.app import create_app
from picket.logs import setup_logging
from picket.settings import Settings


def run_api(settings: Settings) -> int:
    setup_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0
