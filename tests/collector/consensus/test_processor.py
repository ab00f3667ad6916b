"""The consensus processor on a real database: state, transitions, incidents, events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from picket.collector.consensus.engine import Evaluator
from picket.db.engine import transaction
from picket.db.models import MonitorState, Probe
from picket.db.monitors import ensure_region
from tests.collector.consensus.harness import REGIONS, T0, Harness, everywhere


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url)
    yield harness
    harness.close()


def test_one_failing_region_is_degraded_without_incident(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    assert h.status(m) == "up"
    h.clock.advance(10)
    h.report(m, {"eu-west": False})
    state = h.state(m)
    assert state.status == "degraded"
    assert state.region_status == {"ap-south": "up", "eu-west": "down", "us-east": "up"}
    assert h.incidents(m) == []
    assert h.event_types(m) == ["monitor.degraded"]
    payload = h.events(m)[0].payload
    assert payload["regions"]["eu-west"] == {
        "ok": False,
        "error_kind": "connect",
        "error": "connection refused from eu-west",
    }
    assert payload["incident"] is None
    assert payload["previous_status"] == "up"


def test_down_opens_one_incident_and_up_resolves_it(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    h.clock.advance(10)
    h.report(m, {"eu-west": False, "us-east": False})
    assert h.status(m) == "down"
    [incident] = h.incidents(m)
    assert (incident.title, incident.status, incident.impact) == (
        "Shop is down",
        "investigating",
        "major",
    )
    assert incident.started_at == T0 + timedelta(seconds=10)
    [first] = h.updates(incident.id)
    assert first.automatic
    assert "eu-west (connect: connection refused from eu-west)" in first.message
    assert "us-east (connect: connection refused from us-east)" in first.message
    assert "up from ap-south" in first.message

    # Still down at the next slot: nothing new.
    h.clock.advance(10)
    h.report(m, {"eu-west": False, "us-east": False, "ap-south": True})
    assert len(h.incidents(m)) == 1

    h.clock.advance(10)
    h.report(m, everywhere(True))
    assert h.status(m) == "up"
    [incident] = h.incidents(m)
    assert incident.status == "resolved"
    assert incident.resolved_at == T0 + timedelta(seconds=30)
    last = h.updates(incident.id)[-1]
    assert (last.status, last.automatic) == ("resolved", True)
    assert "after 20s" in last.message
    assert h.event_types(m) == [
        "monitor.down",
        "incident.created",
        "monitor.up",
        "incident.resolved",
    ]
    created, resolved = h.events(m)[1], h.events(m)[3]
    assert created.incident_id == incident.id
    assert created.payload["monitor"] == {
        "id": m,
        "name": "Shop",
        "url": "https://shop.example.com",
        "type": "http",
    }
    assert created.payload["update"]["message"] == first.message
    assert resolved.payload["incident"]["status"] == "resolved"
    assert resolved.payload["timestamp"] == (T0 + timedelta(seconds=30)).isoformat()

    transitions = h.transitions(m)
    assert [(t.from_status, t.to_status) for t in transitions] == [
        ("unknown", "up"),
        ("up", "down"),
        ("down", "up"),
    ]
    down = transitions[1]
    assert down.at == T0 + timedelta(seconds=10)
    assert down.regions["eu-west"]["ok"] is False
    assert down.regions["eu-west"]["error_kind"] == "connect"
    assert isinstance(down.regions["eu-west"]["result_id"], int)


def test_min_failing_regions_three_with_two_failing_is_degraded(h: Harness) -> None:
    m = h.monitor(min_failing_regions=3)
    h.report(m, {"eu-west": False, "us-east": False, "ap-south": True})
    assert h.status(m) == "degraded"
    assert h.incidents(m) == []
    assert "monitor.down" not in h.event_types(m)


def test_degraded_opens_an_incident_when_the_monitor_asks(h: Harness) -> None:
    m = h.monitor(incident_on_degraded=True)
    h.report(m, {"eu-west": False, "us-east": True, "ap-south": True})
    [incident] = h.incidents(m)
    assert (incident.title, incident.impact) == ("Shop is degraded", "minor")
    assert h.event_types(m) == ["monitor.degraded", "incident.created"]


def test_first_failure_of_an_up_monitor_asks_the_other_regions(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    assert h.confirmations == []
    h.clock.advance(10)
    h.report(m, {"eu-west": False})
    assert h.confirmations == [(m, ["ap-south", "us-east"])]
    # Their answers come back as check-now results: they decide, and ask nobody else.
    h.clock.advance(1)
    h.report(m, {"us-east": False, "ap-south": False}, check_now=True)
    assert h.status(m) == "down"
    assert len(h.confirmations) == 1
    # A failure that repeats its region's last vote asks nobody.
    h.clock.advance(9)
    h.report(m, {"eu-west": False})
    assert len(h.confirmations) == 1
    # The first success in a failing region asks the others again, to confirm recovery.
    h.clock.advance(10)
    h.report(m, {"eu-west": True})
    assert h.confirmations[-1] == (m, ["ap-south", "us-east"])


def test_confirmations_are_not_sent_when_the_transaction_rolls_back(h: Harness) -> None:
    m = h.monitor()
    h.report(m, {"eu-west": False}, commit=False)
    assert h.confirmations == []
    assert h.events(m) == []


def test_flapping_inside_recovery_period_keeps_one_incident(h: Harness) -> None:
    m = h.monitor(recovery_period_s=60)
    h.report(m, everywhere(True))
    for _ in range(3):
        h.clock.advance(10)
        h.report(m, everywhere(False))
        assert h.status(m) == "down"
        h.clock.advance(10)
        h.report(m, everywhere(True))
        assert h.status(m) == "down"
    assert len(h.incidents(m)) == 1
    for _ in range(6):
        h.clock.advance(10)
        h.report(m, everywhere(True))
    assert h.status(m) == "up"
    [incident] = h.incidents(m)
    assert incident.status == "resolved"
    assert h.event_types(m).count("monitor.down") == 1


def test_monitor_edited_mid_incident_keeps_its_incident(h: Harness) -> None:
    m = h.monitor()
    h.report(m, {"eu-west": False, "us-east": False, "ap-south": True})
    [incident] = h.incidents(m)
    # Renamed and eu-west dropped while down: the incident keeps its title; us-east alone
    # failing out of two regions is no longer down.
    h.edit(m, name="Storefront", regions=["ap-south", "us-east"])
    h.clock.advance(10)
    h.report(m, {"us-east": False, "ap-south": True})
    assert h.status(m) == "degraded"
    [incident] = h.incidents(m)
    assert (incident.title, incident.status) == ("Shop is down", "investigating")
    assert h.updates(incident.id)[-1].message.startswith("Partially recovered: ")
    assert h.state(m).region_status == {"ap-south": "up", "us-east": "down"}
    h.clock.advance(10)
    h.report(m, {"us-east": True})
    [incident] = h.incidents(m)
    assert incident.status == "resolved"
    assert h.event_types(m)[-2:] == ["monitor.up", "incident.resolved"]
    assert h.events(m)[-1].payload["monitor"]["name"] == "Storefront"


def test_maintenance_suppresses_incidents_until_the_window_ends(h: Harness) -> None:
    m = h.monitor()
    other = h.monitor("Blog")
    h.maintenance(m, duration_seconds=60)
    h.report(m, everywhere(True))
    assert h.status(m) == "maintenance"
    h.clock.advance(10)
    h.report(m, everywhere(False))
    h.report(other, everywhere(False))
    assert h.status(m) == "maintenance"
    assert h.state(m).health == "down"
    assert h.incidents(m) == []
    assert h.events(m) == []
    assert h.status(other) == "down"

    # The window ends with no new result: the loop notices, and the outage opens.
    h.clock.advance(50)
    h.tick()
    assert h.status(m) == "down"
    assert len(h.incidents(m)) == 1
    assert h.event_types(m) == ["monitor.down", "incident.created"]
    assert [(t.from_status, t.to_status) for t in h.transitions(m)] == [
        ("unknown", "maintenance"),
        ("maintenance", "down"),
    ]


def test_two_deciders_at_once_open_one_incident(h: Harness) -> None:
    """The ingest transaction and the loop decide the same monitor at the same moment
    (here: a maintenance window has just ended while results keep failing)."""
    m = h.monitor()
    h.maintenance(m, duration_seconds=15)
    h.report(m, everywhere(True))
    h.clock.advance(10)
    h.report(m, everywhere(False))
    assert h.status(m) == "maintenance"
    h.clock.advance(10)

    # The first decider is half-way through: it has opened the incident, not committed.
    first = h.sessions()
    first.begin()
    Evaluator(first, h.clock.now).evaluate([m])
    second = threading.Thread(target=h.tick)
    second.start()
    # Long enough for the loop to read the monitor's state, had it not to wait for ours.
    second.join(timeout=0.5)
    first.commit()
    first.close()
    second.join(timeout=30)
    assert not second.is_alive()

    assert h.status(m) == "down"
    assert len(h.incidents(m)) == 1
    assert h.event_types(m) == ["monitor.down", "incident.created"]


def test_stale_votes_turn_a_silent_monitor_unknown(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    h.clock.advance(20)
    h.tick()
    assert h.status(m) == "up"
    h.clock.advance(10)
    h.tick()
    state = h.state(m)
    assert state.status == "unknown"
    assert state.region_status == {r: "unknown" for r in REGIONS}
    # Silence does not end an outage.
    down = h.monitor("Blog")
    h.report(down, everywhere(False))
    h.clock.advance(120)
    h.tick()
    assert h.status(down) == "down"
    assert h.incidents(down)[0].status == "investigating"


def test_paused_monitor_shows_paused_without_events(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    h.edit(m, paused=True)
    h.tick()
    assert h.status(m) == "paused"
    h.edit(m, paused=False)
    h.clock.advance(1)
    h.tick()
    assert h.status(m) == "up"
    assert h.events(m) == []


def test_sick_probe_is_set_aside_reported_and_readmitted(h: Harness) -> None:
    monitors = [h.monitor(f"Site{i}") for i in range(4)]
    for m in monitors:
        h.report(m, {"eu-west": False, "us-east": True, "ap-south": True})
        assert h.status(m) == "degraded"
    h.tick()
    with h.session() as session:
        probe = session.get(Probe, h.probes["eu-west"])
        assert probe is not None and probe.unhealthy
        assert probe.unhealthy_since == T0
    [event] = [e for e in h.events() if e.type == "probe.unhealthy"]
    assert event.probe_id == h.probes["eu-west"]
    assert event.payload["probe"]["region"] == "eu-west"
    assert (event.payload["compared"], event.payload["disagreed"]) == (4, 4)
    assert sorted(event.payload["monitor_ids"]) == sorted(monitors)
    for m in monitors:
        state = h.state(m)
        assert state.status == "up"
        assert state.region_status["eu-west"] == "unknown"
        assert h.incidents(m) == []

    # Its next failures still count for nothing; once it agrees again, it votes again.
    h.clock.advance(10)
    for m in monitors:
        h.report(m, {"eu-west": True, "us-east": True, "ap-south": True})
    h.clock.advance(5)
    h.tick()
    with h.session() as session:
        probe = session.get(Probe, h.probes["eu-west"])
        assert probe is not None and not probe.unhealthy
    assert h.state(monitors[0]).region_status["eu-west"] == "up"
    assert [e.type for e in h.events()].count("probe.unhealthy") == 1


def test_failures_shared_by_every_region_do_not_make_probes_sick(h: Harness) -> None:
    monitors = [h.monitor(f"Site{i}") for i in range(4)]
    for m in monitors:
        h.report(m, everywhere(False))
    h.tick()
    with h.session() as session:
        assert not any(session.get(Probe, p).unhealthy for p in h.probes.values())  # type: ignore[union-attr]
    assert all(h.status(m) == "down" for m in monitors)


def test_the_loop_leaves_push_monitors_to_their_own_evaluator(h: Harness) -> None:
    heartbeat = h.monitor("Cron", type="heartbeat")
    with transaction(h.sessions) as session:
        state = session.get(MonitorState, heartbeat)
        assert state is not None
        state.status = "up"
        state.updated_at = T0
    h.clock.advance(600)
    h.tick()
    assert h.status(heartbeat) == "up"


def test_event_payloads_have_the_documented_shape(h: Harness) -> None:
    m = h.monitor()
    h.report(m, everywhere(True))
    h.clock.advance(10)
    h.report(m, {"eu-west": False})
    h.clock.advance(10)
    h.report(m, {"eu-west": False, "us-east": False})
    h.clock.advance(10)
    h.report(m, everywhere(True))
    common = {"type", "timestamp", "monitor", "status", "previous_status", "regions", "incident"}
    seen = set()
    for event in h.events(m):
        seen.add(event.type)
        payload = event.payload
        assert payload["type"] == event.type
        expected = common | ({"update"} if event.type.startswith("incident.") else set())
        assert set(payload) == expected, event.type
        assert set(payload["monitor"]) == {"id", "name", "url", "type"}
        for region in payload["regions"].values():
            assert set(region) == {"ok", "error_kind", "error"}
        if payload["incident"] is not None:
            assert set(payload["incident"]) == {
                "id",
                "title",
                "status",
                "impact",
                "started_at",
                "resolved_at",
            }
            assert event.incident_id == payload["incident"]["id"]
        if "update" in payload:
            assert set(payload["update"]) == {"status", "message", "created_at"}
        assert event.organization_id == h.organization_id
    assert seen == {
        "monitor.degraded",
        "monitor.down",
        "incident.created",
        "monitor.up",
        "incident.resolved",
    }


def test_region_without_a_probe_shows_unknown_and_never_votes(h: Harness) -> None:
    with transaction(h.sessions) as session:
        ensure_region(session, "sa-east")
    # Four regions by default: a majority is three, and sa-east can never be one of them.
    m = h.monitor()
    h.report(m, {"eu-west": False, "us-east": False, "ap-south": True})
    state = h.state(m)
    assert (state.status, state.region_status["sa-east"]) == ("degraded", "unknown")
    h.clock.advance(10)
    h.report(m, everywhere(False))
    assert h.status(m) == "down"
    assert len(h.incidents(m)) == 1
