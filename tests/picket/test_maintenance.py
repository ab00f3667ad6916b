"""Maintenance windows: one-off and recurring, in the window's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from picket.db.accounts import create_organization
from picket.db.engine import make_engine
from picket.db.models import MaintenanceWindow
from picket.maintenance import (
    InvalidRule,
    in_maintenance,
    load_windows,
    monitors_in_maintenance,
    occurrence_at,
)

START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # a Sunday, 02:00 in Paris (CET)


def test_one_off_window_covers_start_but_not_end() -> None:
    def active(at: datetime) -> bool:
        return occurrence_at(START, 3600, None, "UTC", at) is not None

    assert not active(START - timedelta(seconds=1))
    assert active(START)
    assert active(START + timedelta(minutes=59))
    assert not active(START + timedelta(hours=1))


def test_weekly_rule_repeats_and_keeps_local_time_across_dst() -> None:
    rule = "FREQ=WEEKLY;BYDAY=SU"
    # 29 March 2026: Paris moves to CEST; 02:00 local is now 00:00 UTC.
    after_dst = datetime(2026, 4, 5, 0, 30, tzinfo=UTC)
    assert occurrence_at(START, 3600, rule, "Europe/Paris", after_dst) == (
        datetime(2026, 4, 5, 0, 0, tzinfo=UTC),
        datetime(2026, 4, 5, 1, 0, tzinfo=UTC),
    )
    assert occurrence_at(START, 3600, rule, "Europe/Paris", after_dst + timedelta(hours=1)) is None
    # A Saturday is never inside.
    assert occurrence_at(START, 3600, rule, "Europe/Paris", START + timedelta(days=6)) is None
    # Before the first occurrence nothing is active.
    assert occurrence_at(START, 3600, rule, "Europe/Paris", START - timedelta(days=7)) is None


def test_rule_with_count_ends() -> None:
    rule = "FREQ=DAILY;COUNT=2"
    assert occurrence_at(START, 600, rule, "UTC", START + timedelta(days=1, minutes=5))
    assert occurrence_at(START, 600, rule, "UTC", START + timedelta(days=2, minutes=5)) is None


def test_bad_rule_or_timezone_is_refused() -> None:
    with pytest.raises(InvalidRule):
        occurrence_at(START, 600, "FREQ=SOMETIMES", "UTC", START)
    with pytest.raises(InvalidRule):
        occurrence_at(START, 600, "FREQ=DAILY", "Mars/Olympus", START)


def test_windows_cover_only_their_monitors(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            org = create_organization(session, "acme")
            windows = [
                MaintenanceWindow(
                    organization_id=org.id,
                    name="db upgrade",
                    monitor_ids=["m1", "m2"],
                    starts_at=START,
                    duration_seconds=1800,
                ),
                MaintenanceWindow(
                    organization_id=org.id,
                    name="nightly",
                    monitor_ids=["m3"],
                    starts_at=START - timedelta(days=10),
                    duration_seconds=600,
                    rrule="FREQ=DAILY",
                ),
                # Broken rules are skipped, never fatal.
                MaintenanceWindow(
                    organization_id=org.id,
                    name="broken",
                    monitor_ids=["m4"],
                    starts_at=START,
                    duration_seconds=600,
                    rrule="FREQ=SOMETIMES",
                ),
            ]
            session.add_all(windows)
        with Session(engine) as session:
            windows = load_windows(session)
            at = START + timedelta(minutes=5)
            assert monitors_in_maintenance(windows, at) == {"m1", "m2", "m3"}
            assert monitors_in_maintenance(windows, START + timedelta(minutes=20)) == {"m1", "m2"}
            assert in_maintenance(session, "m3", at)
            assert not in_maintenance(session, "m4", at)
    finally:
        engine.dispose()
