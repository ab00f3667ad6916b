"""Which rules an event matches: pure, so the decision is tested without a database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class RuleLike(Protocol):
    events: list[str]
    monitor_ids: list[str] | None
    tags: list[str] | None
    enabled: bool


def rule_matches(
    rule: RuleLike,
    event_type: str,
    monitor_id: str | None,
    monitor_tags: Iterable[str],
    *,
    organization_event: bool = True,
) -> bool:
    """A rule matches its event types, then its monitors: named ids or tags (either), or
    every monitor when it names neither. An event of no organization (a shared probe's
    health) only reaches rules that do not filter by monitor."""
    if not rule.enabled or event_type not in rule.events:
        return False
    if not rule.monitor_ids and not rule.tags:
        return True
    if not organization_event or monitor_id is None:
        return False
    if rule.monitor_ids and monitor_id in rule.monitor_ids:
        return True
    return bool(rule.tags and set(rule.tags) & set(monitor_tags))


def escalation_delays(steps: list[dict[str, Any]]) -> list[int]:
    """Minutes each step waits after the one before; the first fires at once."""
    return [0] + [int(step.get("delay_minutes", 0)) for step in steps[1:]]
