"""Which probe runs which check, and when inside its interval.

Rendezvous (highest-random-weight) hashing: each monitor goes to the live probe of the
region with the highest hash(monitor, probe), so a probe joining or leaving moves only the
monitors it wins or held.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _hash64(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_winner(monitor_id: str, probe_ids: Iterable[str]) -> str | None:
    best: tuple[int, str] | None = None
    for probe_id in probe_ids:
        score = (_hash64(monitor_id, probe_id), probe_id)
        if best is None or score > best:
            best = score
    return best[1] if best else None


def check_offset_ms(monitor_id: str, region: str, interval_s: int) -> int:
    """A stable offset inside the interval, different per region so schedules stagger."""
    return _hash64("offset", monitor_id, region) % max(1, interval_s * 1000)
