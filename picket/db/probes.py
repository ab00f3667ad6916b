"""Probes and their tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.db.models import Probe
from picket.db.monitors import ensure_region
from picket.db.types import utcnow
from picket.secrets import display_prefix, hash_secret, new_probe_token


def create_probe(
    session: Session, name: str, region: str, organization_id: str | None = None
) -> tuple[Probe, str]:
    """Create a probe (and its region if new); returns the row and the raw token."""
    ensure_region(session, region)
    raw = new_probe_token()
    probe = Probe(
        name=name,
        region=region,
        organization_id=organization_id,
        token_hash=hash_secret(raw),
        token_prefix=display_prefix(raw),
    )
    session.add(probe)
    session.flush()
    return probe, raw


def rotate_probe_token(session: Session, probe: Probe) -> str:
    raw = new_probe_token()
    probe.token_hash = hash_secret(raw)
    probe.token_prefix = display_prefix(raw)
    session.flush()
    return raw


def find_probe_by_token(session: Session, raw_token: str) -> Probe | None:
    return session.scalar(
        select(Probe).where(Probe.token_hash == hash_secret(raw_token), Probe.revoked_at.is_(None))
    )


# A probe silent for about this many ping intervals is offline and its checks move.
MISSED_PINGS_OFFLINE = 3


def liveness_cutoff(ping_interval_s: float, now: datetime | None = None) -> datetime:
    """Probes last seen before this moment are offline."""
    return (now or utcnow()) - timedelta(seconds=MISSED_PINGS_OFFLINE * ping_interval_s)


def is_live(probe: Probe, ping_interval_s: float, now: datetime | None = None) -> bool:
    if probe.revoked_at is not None or probe.last_seen_at is None:
        return False
    return probe.last_seen_at >= liveness_cutoff(ping_interval_s, now)
