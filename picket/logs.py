"""Structured logging for every Picket process.

JSON lines when stderr is not a terminal (what log shippers read), a readable line when it
is (what people read). Context ids travel as ``extra=``::

    log.warning("check failed", extra={"monitor_id": m.id, "region": "eu-west"})

and appear as fields of the JSON object, or as ``key=value`` after the readable message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# The context fields operators filter on, printed first in the readable form.
CONTEXT_FIELDS = ("monitor_id", "region", "probe_id")


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in vars(record).items() if k not in _RESERVED}
    ordered = {k: fields.pop(k) for k in CONTEXT_FIELDS if k in fields}
    ordered.update(sorted(fields.items()))
    return ordered


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extra(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01.123 WARNING picket.probe  check failed  monitor_id=… region=eu-west``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        line = f"{when} {record.levelname:<7} {record.name}  {record.getMessage()}"
        fields = _extra(record)
        if fields:
            line += "  " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger to `stream` (stderr) in the form that suits it; returns the handler.

    Called once at process start with the PICKET_LOG_LEVEL setting. Calling it again
    replaces the handler it installed before, so tests and `picket up` can reconfigure.
    """
    stream = stream or sys.stderr
    is_tty = getattr(stream, "isatty", lambda: False)()
    handler = logging.StreamHandler(stream)
    handler.set_name("picket")
    handler.setFormatter(ConsoleFormatter() if is_tty else JsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "picket"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Per-request access lines and library chatter drown the checks' own logs at INFO.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
