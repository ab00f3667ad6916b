"""The consensus rule, driven by a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from picket.collector.consensus.decision import (
    DEGRADED,
    DOWN,
    UNKNOWN,
    UP,
    Decision,
    Memory,
    Policy,
    Vote,
    decide,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
REGIONS = ("ap-south", "eu-west", "us-east")


@dataclass
class World:
    """A fake clock and each region's latest result, fed to decide() step by step."""

    policy: Policy
    now: datetime = T0
    latest: dict[str, Vote] = field(default_factory=dict)
    memory: Memory = field(default_factory=Memory)
    history: list[str] = field(default_factory=list)

    def result(self, region: str, ok: bool, at: datetime | None = None) -> None:
        self.latest[region] = Vote(region, ok, at or self.now, error_kind=None if ok else "connect")

    def results(self, outcome: Mapping[str, bool]) -> Decision:
        for region, ok in outcome.items():
            self.result(region, ok)
        return self.step()

    def step(self) -> Decision:
        decision = decide(self.policy, self.memory, self.latest, self.now)
        self.memory = decision.memory
        if not self.history or self.history[-1] != decision.health:
            self.history.append(decision.health)
        return decision

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def world(**policy: object) -> World:
    base = Policy(regions=REGIONS, quorum=2, interval_s=10, timeout_s=5)
    return World(replace(base, **policy))  # type: ignore[arg-type]


def all_regions(ok: bool) -> dict[str, bool]:
    return {r: ok for r in REGIONS}


def test_no_votes_is_unknown_then_up() -> None:
    w = world()
    assert w.step().health == UNKNOWN
    decision = w.results(all_regions(True))
    assert decision.health == UP
    assert decision.region_status == {r: UP for r in REGIONS}
    assert decision.at == T0


def test_one_failing_region_of_three_is_degraded() -> None:
    w = world()
    w.results(all_regions(True))
    decision = w.results({"eu-west": False})
    assert decision.health == DEGRADED
    assert decision.failing == ["eu-west"]
    assert decision.region_status["eu-west"] == DOWN


def test_quorum_of_failures_is_down_and_the_same_quorum_brings_it_up() -> None:
    w = world()
    w.results(all_regions(True))
    assert w.results({"eu-west": False, "us-east": False}).health == DOWN
    # One region back is not enough: two could still be failing.
    assert w.results({"eu-west": True}).health == DEGRADED
    assert w.results({"us-east": True}).health == UP
    assert w.history == [UP, DOWN, DEGRADED, UP]


def test_min_failing_regions_three_with_two_failing_is_degraded() -> None:
    w = world(quorum=3)
    w.results(all_regions(True))
    assert w.results({"eu-west": False, "us-east": False}).health == DEGRADED
    assert w.results({"ap-south": False}).health == DOWN


def test_single_region_monitor_goes_down_on_its_one_failure() -> None:
    w = world(regions=("eu-west",), quorum=1)
    assert w.results({"eu-west": False}).health == DOWN
    assert w.results({"eu-west": True}).health == UP


def test_stale_votes_do_not_count() -> None:
    w = world()
    w.results(all_regions(True))
    w.advance(20)
    w.result("eu-west", False)
    w.result("us-east", False)
    # ap-south's vote is 20 s old: still within 2 intervals + timeout (25 s).
    assert w.step().health == DOWN
    w.advance(6)
    decision = w.step()
    assert decision.region_status["ap-south"] == UNKNOWN
    assert sorted(decision.votes) == ["eu-west", "us-east"]
    # Every vote stale: a down monitor stays down, it does not recover by silence.
    w.advance(60)
    decision = w.step()
    assert decision.votes == {}
    assert decision.health == DOWN


def test_stale_failures_cannot_make_a_monitor_down() -> None:
    w = world()
    w.result("eu-west", False, at=T0 - timedelta(seconds=40))
    w.result("us-east", False)
    w.result("ap-south", True)
    assert w.step().health == DEGRADED


def test_all_votes_stale_on_a_healthy_monitor_is_unknown() -> None:
    w = world()
    w.results(all_regions(True))
    w.advance(26)
    assert w.step().health == UNKNOWN


def test_region_with_no_live_probe_never_votes() -> None:
    # ap-south has no probe: no result ever comes from it.
    w = world()
    decision = w.results({"eu-west": True, "us-east": True})
    assert decision.health == UP
    assert decision.region_status["ap-south"] == UNKNOWN
    assert w.results({"eu-west": False}).health == DEGRADED
    assert w.results({"us-east": False}).health == DOWN
    # To leave down, both regions that can vote must succeed.
    assert w.results({"eu-west": True}).health == DOWN
    assert w.results({"us-east": True}).health == UP


def test_votes_from_regions_outside_the_policy_are_ignored() -> None:
    w = world(regions=("eu-west", "us-east"), quorum=1)
    decision = w.results({"ap-south": False, "eu-west": True, "us-east": True})
    assert decision.health == UP
    assert "ap-south" not in decision.region_status


def test_confirmation_period_holds_down_back_until_failures_last() -> None:
    w = world(confirmation_period_s=30)
    w.results(all_regions(True))
    decision = w.results({"eu-west": False, "us-east": False})
    assert (decision.health, decision.pending) == (DEGRADED, DOWN)
    w.advance(20)
    assert w.results({"eu-west": False, "us-east": False}).health == DEGRADED
    w.advance(10)
    decision = w.results({"eu-west": False, "us-east": False})
    assert (decision.health, decision.pending) == (DOWN, None)


def test_confirmation_period_restarts_when_failures_stop() -> None:
    w = world(confirmation_period_s=30)
    w.results(all_regions(True))
    w.results({"eu-west": False, "us-east": False})
    w.advance(20)
    assert w.results({"eu-west": True}).pending is None
    w.advance(10)
    decision = w.results({"eu-west": False, "us-east": False})
    # The period counts again from this decision, not from the first failures.
    assert (decision.health, decision.pending_since) == (DEGRADED, w.now)
    assert DOWN not in w.history


def test_confirmation_uses_scheduled_times_not_the_clock() -> None:
    # Results arriving late (the clock far ahead of their slots) do not shorten the period.
    w = world(confirmation_period_s=30, interval_s=60)
    w.results(all_regions(True))
    w.result("eu-west", False, at=T0 + timedelta(seconds=1))
    w.result("us-east", False, at=T0 + timedelta(seconds=2))
    w.advance(100)
    assert w.step().health == DEGRADED


def test_flapping_inside_recovery_period_stays_down() -> None:
    w = world(recovery_period_s=60)
    w.results(all_regions(True))
    assert w.results({"eu-west": False, "us-east": False}).health == DOWN
    w.advance(10)
    decision = w.results(all_regions(True))
    assert (decision.health, decision.pending) == (DOWN, UP)
    w.advance(10)
    assert w.results({"eu-west": False, "us-east": False}).health == DOWN
    w.advance(10)
    w.results(all_regions(True))
    w.advance(50)
    assert w.results(all_regions(True)).health == DOWN
    w.advance(10)
    assert w.results(all_regions(True)).health == UP
    # down/up/down inside the recovery period never left down: one outage, one incident.
    assert w.history == [UP, DOWN, UP]


def test_monitor_edited_mid_outage_uses_the_new_policy() -> None:
    w = world()
    w.results(all_regions(True))
    assert w.results({"eu-west": False, "us-east": False}).health == DOWN
    # The operator drops eu-west from the monitor's regions: us-east alone fails, 1 of 2.
    w.policy = replace(w.policy, regions=("ap-south", "us-east"), quorum=2)
    decision = w.step()
    assert (decision.health, decision.failing) == (DEGRADED, ["us-east"])
    assert w.results({"us-east": True}).health == UP
    # Raising the quorum mid-outage turns down into degraded at the next decision.
    w.policy = replace(w.policy, regions=REGIONS, quorum=3)
    w.results({"eu-west": False, "us-east": False})
    assert w.memory.health == DEGRADED


def test_recovery_quorum_follows_min_failing_regions() -> None:
    assert Policy(REGIONS, quorum=2, interval_s=10).recovery_quorum == 2
    assert Policy(REGIONS, quorum=1, interval_s=10).recovery_quorum == 1
    assert Policy(REGIONS, quorum=3, interval_s=10).recovery_quorum == 1
    assert Policy(("a",), quorum=1, interval_s=10).recovery_quorum == 1
