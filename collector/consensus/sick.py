"""Telling a sick probe from a regional outage.

A probe is compared with the other regions on every monitor it checked recently: it
*disagrees* on a monitor when its latest result failed while another region's latest
result for that monitor succeeded. A probe that disagrees on nearly everything it checks is
itself broken (its network, its resolver, its clock), so its votes are set aside. It is
re-admitted once it disagrees on at most half, so one shaky minute does not toggle it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Marked unhealthy at this share of disagreements, over at least MIN_COMPARED monitors.
SICK_RATIO = 0.9
# Re-admitted at or below this share.
HEALTHY_RATIO = 0.5
# With fewer comparable monitors a probe's failures look like its targets' own trouble.
MIN_COMPARED = 3


@dataclass(frozen=True)
class Comparison:
    """One monitor seen by the probe and by other regions."""

    monitor_id: str
    probe_ok: bool
    others_ok: bool  # at least one other region's latest result succeeded


@dataclass(frozen=True)
class Assessment:
    unhealthy: bool
    compared: int
    disagreed: int

    @property
    def ratio(self) -> float:
        return self.disagreed / self.compared if self.compared else 0.0


def assess(comparisons: Iterable[Comparison], currently_unhealthy: bool) -> Assessment:
    rows = list(comparisons)
    compared = len(rows)
    disagreed = sum(1 for c in rows if not c.probe_ok and c.others_ok)
    ratio = disagreed / compared if compared else 0.0
    if currently_unhealthy:
        # Too little to judge keeps the verdict; only clear evidence re-admits.
        unhealthy = compared < MIN_COMPARED or ratio > HEALTHY_RATIO
    else:
        unhealthy = compared >= MIN_COMPARED and ratio >= SICK_RATIO
    return Assessment(unhealthy, compared, disagreed)
