from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from picket.logs import setup_logging


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_when_not_a_tty_carries_context_ids() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream)
    logging.getLogger("picket.probe").warning(
        "check %s failed",
        "shop",
        extra={"monitor_id": "m1", "region": "eu-west", "probe_id": "p9", "attempt": 2},
    )
    entry = json.loads(stream.getvalue().strip())
    assert entry["msg"] == "check shop failed"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "picket.probe"
    assert (entry["monitor_id"], entry["region"], entry["probe_id"]) == ("m1", "eu-west", "p9")
    assert entry["attempt"] == 2
    assert entry["ts"].endswith("+00:00")


def test_json_keeps_the_traceback_on_one_line() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("picket").exception("ingest failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "ValueError: boom" in json.loads(lines[0])["exc"]


def test_readable_on_a_tty() -> None:
    stream = TtyStream()
    setup_logging("INFO", stream)
    logging.getLogger("picket.collector").info(
        "probe registered", extra={"region": "us-east", "probe_id": "p1"}
    )
    line = stream.getvalue().strip()
    assert not line.startswith("{")
    assert "INFO" in line and "probe registered" in line
    assert line.endswith("region=us-east probe_id=p1")


def test_level_filters_and_reconfiguring_replaces_the_handler() -> None:
    first = io.StringIO()
    setup_logging("INFO", first)
    second = io.StringIO()
    setup_logging("WARNING", second)
    log = logging.getLogger("picket.api")
    log.info("quiet")
    log.warning("loud")
    assert first.getvalue() == ""
    assert [json.loads(x)["msg"] for x in second.getvalue().splitlines()] == ["loud"]


def test_picket_log_level_reaches_a_process() -> None:
    code = (
        "import logging; from picket.settings import load_settings; "
        "from picket.logs import setup_logging; "
        "setup_logging(load_settings().log_level); "
        "logging.getLogger('x').info('hidden'); logging.getLogger('x').error('shown')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PICKET_LOG_LEVEL": "error", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert [json.loads(x)["msg"] for x in out.stderr.splitlines()] == ["shown"]
