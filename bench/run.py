"""`make bench`: every benchmark in turn, printing figures and ratios (about 6 minutes on
an idle 2-core machine)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import detection, ingest, memory, probe, report  # noqa: E402

BENCHMARKS = [
    (
        "ingest",
        lambda: ingest.main(
            ["--count", "50000", "--batches", "1,100,500", "--naive-count", "1000"]
        ),
    ),
    ("probe", lambda: probe.main(["--rates", "1000"])),
    ("memory", lambda: memory.main(["--count", "20000"])),
    ("detection", lambda: detection.main([])),
    # The 10,000-monitor seed takes about 10 minutes alone: `make bench` uses a
    # tenth of it; bench/RESULTS.md gives the full figure and its command.
    ("report", lambda: report.main(["--monitors", "1000"])),
]


def main() -> None:
    for name, run in BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        run()
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
