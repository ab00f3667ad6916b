"""Conformance: every kind the API accepts runs somewhere, every check has settings."""

from __future__ import annotations

import inspect

import pytest

from picket.probe.checks import CHECKS
from picket.specs import KIND_SETTINGS, MONITOR_TYPES, PUSH_TYPES


def test_every_pulled_kind_has_a_check_and_every_check_a_kind() -> None:
    assert set(KIND_SETTINGS) == set(MONITOR_TYPES)
    assert set(CHECKS) == set(KIND_SETTINGS) - set(PUSH_TYPES)


def test_push_kinds_have_no_probe_check() -> None:
    assert not set(PUSH_TYPES) & set(CHECKS)


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_every_check_has_the_shared_signature(kind: str) -> None:
    check = CHECKS[kind]
    assert inspect.iscoroutinefunction(check)
    assert list(inspect.signature(check).parameters) == ["spec", "ctx"]
