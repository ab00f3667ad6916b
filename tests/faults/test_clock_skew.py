"""Fault 7: probes whose clocks are 30 s off. The collector measures the skew at
registration and at each ping and places their results at the collector's time, so
regions' votes line up; a result still in the future is rejected with a clear line."""

from __future__ import annotations

from picket.db.engine import transaction
from picket.db.models import Probe
from picket.testing import Stack, wait_for
from tests.faults.support import add_monitors, rows
from tests.http_targets import http_target

OFFSETS = {"us-east": 0, "eu-west": 30, "ap-south": -30}


def test_skewed_probes_are_placed_in_time(stack: Stack) -> None:
    collector = stack.start_collector()
    probe_ids = {}
    for region, offset in OFFSETS.items():
        _, probe_ids[region] = stack.start_probe(region, PICKET_CLOCK_OFFSET_S=str(offset))
    with http_target() as target:
        (monitor,) = add_monitors(stack, target.url, regions=list(OFFSETS))

        def every_region_reported() -> bool:
            stored = rows(stack, monitor)
            return all(sum(r.region == region for r in stored) >= 3 for region in OFFSETS)

        wait_for(every_region_reported, timeout=30, message="three results from every region")
    with transaction(stack.sessions) as session:
        skews = {r: session.get(Probe, pid).clock_skew_ms for r, pid in probe_ids.items()}
    assert abs(skews["us-east"]) < 5_000
    assert 25_000 < skews["eu-west"] < 35_000
    assert -35_000 < skews["ap-south"] < -25_000
    for row in rows(stack, monitor):
        # A check's slot lies shortly before the collector received its result, whatever
        # the probe's clock says (an uncorrected one would be 30 s before or after).
        lag = (row.received_at - row.scheduled_at).total_seconds()
        assert -1 < lag < 10, (row, skews)
    log = collector.log_text()
    for region in ("eu-west", "ap-south"):
        assert f"probe {probe_ids[region]} ({region}) clock is off by" in log
        assert f"probe {probe_ids[region]} clock is off by" in log
        assert "correcting its results' times" in log
