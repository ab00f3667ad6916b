"""The consensus rule itself: from each region's latest vote to a monitor's health.

Pure functions over values; the caller passes the time (`now`), so tests drive it with a
fake clock. Every duration here is measured on the results' scheduled times, never on the
time a row was written, so a slow database cannot invent (or hide) downtime.

* A region votes with its latest result for a recent slot; a result scheduled more than
  `2 * interval + timeout` before `now` is stale and the region does not vote.
* down: at least `quorum` regions fail. degraded: some fail, fewer than the quorum.
  up: every voting region succeeds. unknown: nobody votes.
* Leaving down needs positive evidence: enough regions succeed that fewer than `quorum`
  could still be failing (`recovery_quorum`). A down monitor whose probes fall silent stays
  down rather than recovering by default.
* `confirmation_period_s`: the down verdict must hold this long (between the scheduled
  times of the deciding results) before the monitor is down; meanwhile it shows degraded.
  `recovery_period_s`: likewise before a down monitor counts as recovered. A failure inside
  the recovery period restarts it, so flapping keeps the monitor down and its one incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

UP = "up"
DEGRADED = "degraded"
DOWN = "down"
UNKNOWN = "unknown"
PAUSED = "paused"
MAINTENANCE = "maintenance"

# How many intervals a region's latest result stays a vote.
STALE_INTERVALS = 2


@dataclass(frozen=True)
class Vote:
    region: str
    ok: bool
    scheduled_at: datetime
    result_id: int | None = None
    probe_id: str | None = None
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Policy:
    regions: tuple[str, ...]
    quorum: int
    interval_s: float
    timeout_s: float = 0.0
    confirmation_period_s: float = 0.0
    recovery_period_s: float = 0.0

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=STALE_INTERVALS * self.interval_s + self.timeout_s)

    @property
    def recovery_quorum(self) -> int:
        """Successes needed to leave down: enough that fewer than `quorum` can still fail."""
        return max(1, min(self.quorum, len(self.regions) - self.quorum + 1))


@dataclass(frozen=True)
class Memory:
    """What the last decision left behind for the next one."""

    health: str = UNKNOWN
    # The verdict waiting out its confirmation (DOWN) or recovery (UP) period, and since when.
    pending: str | None = None
    pending_since: datetime | None = None


@dataclass(frozen=True)
class Decision:
    health: str
    pending: str | None
    pending_since: datetime | None
    # The votes that counted, by region.
    votes: dict[str, Vote]
    # Every region of the policy: up, down, or unknown (no vote).
    region_status: dict[str, str]
    # Scheduled time of the newest counted vote: the time the decision is about.
    at: datetime | None

    @property
    def failing(self) -> list[str]:
        return sorted(r for r, v in self.votes.items() if not v.ok)

    @property
    def passing(self) -> list[str]:
        return sorted(r for r, v in self.votes.items() if v.ok)

    @property
    def memory(self) -> Memory:
        return Memory(self.health, self.pending, self.pending_since)


def fresh_votes(policy: Policy, latest: Mapping[str, Vote], now: datetime) -> dict[str, Vote]:
    """The votes that count: the policy's regions, with a result for a recent slot."""
    cutoff = now - policy.stale_after
    return {
        region: vote
        for region, vote in latest.items()
        if region in policy.regions and vote.scheduled_at >= cutoff
    }


def verdict(policy: Policy, votes: Mapping[str, Vote], previous: str) -> str:
    """What the votes say right now, before confirmation and recovery periods."""
    failing = sum(1 for v in votes.values() if not v.ok)
    passing = len(votes) - failing
    if not votes:
        return DOWN if previous == DOWN else UNKNOWN
    if failing >= policy.quorum:
        return DOWN
    if previous == DOWN and passing < policy.recovery_quorum:
        return DOWN
    return DEGRADED if failing else UP


def decide(policy: Policy, memory: Memory, latest: Mapping[str, Vote], now: datetime) -> Decision:
    votes = fresh_votes(policy, latest, now)
    at = max((v.scheduled_at for v in votes.values()), default=None)
    target = verdict(policy, votes, memory.health)
    health, pending, since = target, None, None

    if target == DOWN and memory.health != DOWN and policy.confirmation_period_s > 0:
        assert at is not None  # DOWN from a non-down memory needs failing votes
        since = memory.pending_since if memory.pending == DOWN and memory.pending_since else at
        if at - since < timedelta(seconds=policy.confirmation_period_s):
            health, pending = DEGRADED, DOWN
        else:
            since = None
    elif memory.health == DOWN and target != DOWN and policy.recovery_period_s > 0:
        assert at is not None  # leaving DOWN needs passing votes
        since = memory.pending_since if memory.pending == UP and memory.pending_since else at
        if at - since < timedelta(seconds=policy.recovery_period_s):
            health, pending = DOWN, UP
        else:
            since = None

    region_status = {region: UNKNOWN for region in policy.regions}
    region_status.update({r: (UP if v.ok else DOWN) for r, v in votes.items()})
    return Decision(health, pending, since, votes, region_status, at)
