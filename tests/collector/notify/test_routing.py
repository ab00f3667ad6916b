"""Which rules an event matches, decided without a database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from picket.collector.notify.routing import escalation_delays, rule_matches


@dataclass
class Rule:
    events: list[str]
    monitor_ids: list[str] | None = None
    tags: list[str] | None = None
    enabled: bool = True


@pytest.mark.parametrize(
    ("rule", "event", "monitor", "tags", "expected"),
    [
        (Rule(["monitor.down"]), "monitor.down", "m1", [], True),
        (Rule(["monitor.down"]), "monitor.up", "m1", [], False),
        (Rule(["monitor.down"], enabled=False), "monitor.down", "m1", [], False),
        (Rule(["monitor.down"], monitor_ids=["m1"]), "monitor.down", "m1", [], True),
        (Rule(["monitor.down"], monitor_ids=["m2"]), "monitor.down", "m1", [], False),
        (Rule(["monitor.down"], tags=["prod"]), "monitor.down", "m1", ["prod", "eu"], True),
        (Rule(["monitor.down"], tags=["prod"]), "monitor.down", "m1", ["dev"], False),
        (Rule(["monitor.down"], ["m2"], ["prod"]), "monitor.down", "m1", ["prod"], True),
        (Rule(["probe.unhealthy"], tags=["prod"]), "probe.unhealthy", None, [], False),
    ],
)
def test_rule_matches(rule: Rule, event: str, monitor: str | None, tags: list[str], expected: bool):
    assert rule_matches(rule, event, monitor, tags) is expected


def test_shared_events_only_reach_unfiltered_rules() -> None:
    assert rule_matches(
        Rule(["probe.unhealthy"]), "probe.unhealthy", None, [], organization_event=False
    )
    assert not rule_matches(
        Rule(["probe.unhealthy"], monitor_ids=["m1"]),
        "probe.unhealthy",
        "m1",
        [],
        organization_event=False,
    )


def test_first_step_fires_at_once_whatever_its_delay() -> None:
    assert escalation_delays([{"delay_minutes": 9}, {"delay_minutes": 5}, {}]) == [0, 5, 0]
