"""Consensus end to end: a real collector, API and three region probes, each probe bound to
its own loopback address (PICKET_SOURCE_ADDRESS), checking local HTTP targets that answer
503 to the addresses a test chooses — so a target fails from some regions only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from picket.db.engine import transaction
from picket.db.models import (
    CheckResult,
    Event,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Monitor,
    Probe,
    StateTransition,
)
from picket.db.types import utcnow
from picket.testing import Stack, wait_for
from tests.http_targets import Target, http_target

SOURCES = {"us-east": "127.0.0.11", "eu-west": "127.0.0.12", "ap-south": "127.0.0.13"}
DEADLINE = 30.0


@pytest.fixture
def regions(stack: Stack) -> dict[str, str]:
    """Collector, API, and one probe per region with its own source address."""
    stack.start_collector()
    stack.start_api()
    probes = {}
    for region, address in SOURCES.items():
        _, probes[region] = stack.start_probe(region, PICKET_SOURCE_ADDRESS=address)
    return probes


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.api() as api:
        yield api


def refuse(target: Target, *regions: str) -> None:
    target.refuse_from = {SOURCES[r] for r in regions}


def create_monitor(client: httpx.Client, target: Target, name: str, **fields: Any) -> str:
    response = client.post(
        "/monitors",
        json={"name": name, "type": "http", "url": target.url, "interval_seconds": 2, **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def monitor(client: httpx.Client, monitor_id: str) -> dict[str, Any]:
    response = client.get(f"/monitors/{monitor_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_status(
    stack: Stack,
    client: httpx.Client,
    monitor_id: str,
    status: str,
    timeout: float = DEADLINE,
    **region_status: str,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = monitor(client, monitor_id)
        wanted = {r.replace("_", "-"): s for r, s in region_status.items()}
        if body["status"] == status and all(
            body["region_status"].get(r) == s for r, s in wanted.items()
        ):
            return body
        return None

    try:
        return wait_for(reached, timeout=timeout, message=f"{monitor_id} to be {status}")
    except TimeoutError:
        print(stack.logs())
        raise


def incidents(stack: Stack, monitor_id: str) -> list[Incident]:
    with stack.sessions() as session:
        query = select(Incident).where(Incident.monitor_id == monitor_id)
        return list(session.scalars(query.order_by(Incident.started_at)))


def event_types(stack: Stack, monitor_id: str) -> list[str]:
    with stack.sessions() as session:
        query = select(Event.type).where(Event.monitor_id == monitor_id).order_by(Event.id)
        return list(session.scalars(query))


def first_result(
    stack: Stack, monitor_id: str, ok: bool, since: datetime, regions: tuple[str, ...]
) -> CheckResult | None:
    with stack.sessions() as session:
        return session.scalar(
            select(CheckResult)
            .where(
                CheckResult.monitor_id == monitor_id,
                CheckResult.region.in_(regions),
                CheckResult.ok.is_(ok),
                # A check that started before `since` may end (after a retry) after it.
                CheckResult.received_at >= since,
            )
            .order_by(CheckResult.received_at)
            .limit(1)
        )


def failing_results(stack: Stack, monitor_id: str, region: str) -> int:
    with stack.sessions() as session:
        return session.scalar(
            select(func.count(CheckResult.id)).where(
                CheckResult.monitor_id == monitor_id,
                CheckResult.region == region,
                CheckResult.ok.is_(False),
            )
        )


def test_quorum_confirmation_incident_and_recovery(
    stack: Stack, regions: dict[str, str], client: httpx.Client
) -> None:
    """Acceptance 1, 2, 3 and 6, with the figures for 2 and 3 measured at a 10 s interval."""
    with http_target() as shop_target, http_target() as strict_target:
        shop = create_monitor(client, shop_target, "Shop", interval_seconds=10)
        # 6: three regions must fail for down; two failing is degraded.
        refuse(strict_target, "eu-west", "us-east")
        strict = create_monitor(client, strict_target, "Strict", min_failing_regions=3)
        # Probes starting up, then each region's first slot of a 10 s interval.
        everywhere = {"us_east": "up", "eu_west": "up", "ap_south": "up"}
        wait_status(stack, client, shop, "up", timeout=2 * DEADLINE, **everywhere)

        # 2: two of three regions fail. Whichever region's slot comes first reports, the
        # collector asks the other two to check now, and their answers decide.
        switched = utcnow()
        refuse(shop_target, "eu-west", "us-east")
        wait_status(stack, client, shop, "down")
        [incident] = incidents(stack, shop)
        first_fail = first_result(stack, shop, False, switched, ("eu-west", "us-east"))
        assert first_fail is not None
        with stack.sessions() as session:
            first_update = session.scalar(
                select(IncidentUpdate).where(IncidentUpdate.incident_id == incident.id)
            )
            down = session.scalar(
                select(StateTransition).where(
                    StateTransition.monitor_id == shop, StateTransition.to_status == "down"
                )
            )
            assert down is not None
            behind = [v["result_id"] for v in down.regions.values() if not v["ok"]]
            decided_by = session.scalar(
                select(func.count(CheckResult.id)).where(
                    CheckResult.id.in_(behind), CheckResult.check_now_id.is_not(None)
                )
            )

        def confirmations() -> int:
            with stack.sessions() as session:
                return session.scalar(
                    select(func.count(CheckResult.id)).where(
                        CheckResult.monitor_id == shop,
                        CheckResult.check_now_id.is_not(None),
                        CheckResult.received_at >= switched,
                    )
                )

        # The first failure asked the other regions at once. (When the second failing
        # region's own slot happens to come first, its answer may land after the decision.)
        wait_for(confirmations, timeout=DEADLINE, message="check-now answers")
        assert incident.title == "Shop is down"
        assert first_update is not None and "failing from" in first_update.message.lower()
        assert "status" in first_update.message  # the error kind of a 503
        open_after_result = (incident.created_at - first_fail.received_at).total_seconds()
        open_after_slot = (incident.created_at - first_fail.scheduled_at).total_seconds()
        print(
            f"\nincident opened {open_after_result:.2f}s after the first failing result was "
            f"stored ({open_after_slot:.2f}s after its scheduled start); interval 10s; "
            f"{decided_by} of the failing votes behind it were check-now answers"
        )

        # 3: the target recovers everywhere: the incident resolves with an automatic update.
        fixed = utcnow()
        refuse(shop_target)
        wait_status(stack, client, shop, "up")
        [incident] = incidents(stack, shop)
        assert incident.status == "resolved" and incident.resolved_at is not None
        with stack.sessions() as session:
            last = session.scalar(
                select(IncidentUpdate)
                .where(IncidentUpdate.incident_id == incident.id)
                .order_by(IncidentUpdate.id.desc())
                .limit(1)
            )
        assert last is not None and last.automatic and last.status == "resolved"
        assert event_types(stack, shop)[-2:] == ["monitor.up", "incident.resolved"]
        first_ok = first_result(stack, shop, True, fixed, ("eu-west", "us-east"))
        assert first_ok is not None
        resolved_after_fix = (last.created_at - fixed).total_seconds()
        resolved_after_result = (last.created_at - first_ok.received_at).total_seconds()
        print(
            f"incident resolved {resolved_after_fix:.2f}s after the target recovered, "
            f"{resolved_after_result:.2f}s after the first success from a failing region was stored"
        )

        # 1: one region failing is degraded: no incident, no monitor.down.
        events_before = len(event_types(stack, shop))
        refuse(shop_target, "eu-west")
        wait_status(stack, client, shop, "degraded", eu_west="down", us_east="up", ap_south="up")
        assert len(incidents(stack, shop)) == 1
        assert "monitor.down" not in event_types(stack, shop)[events_before:]
        assert "monitor.degraded" in event_types(stack, shop)[events_before:]

        # 6: by now both failing regions of the strict monitor have reported many times.
        body = wait_status(stack, client, strict, "degraded", eu_west="down", us_east="down")
        assert body["region_status"]["ap-south"] == "up"
        assert failing_results(stack, strict, "eu-west") >= 3
        assert incidents(stack, strict) == []
        assert "monitor.down" not in event_types(stack, strict)
        with stack.sessions() as session:
            to_down = session.scalar(
                select(func.count(StateTransition.id)).where(
                    StateTransition.monitor_id == strict, StateTransition.to_status == "down"
                )
            )
        assert to_down == 0


def test_sick_probe_is_set_aside_and_readmitted(
    stack: Stack, regions: dict[str, str], client: httpx.Client
) -> None:
    """Acceptance 4: every check of one probe fails while the other regions succeed."""
    with http_target() as target:
        refuse(target, "ap-south")
        monitors = [create_monitor(client, target, f"Site {i}") for i in range(3)]
        sick = regions["ap-south"]

        def unhealthy() -> bool:
            with stack.sessions() as session:
                probe = session.get(Probe, sick)
                return probe is not None and probe.unhealthy

        # Includes the probes starting up.
        wait_for(unhealthy, timeout=2 * DEADLINE, message="the ap-south probe to be set aside")
        with stack.sessions() as session:
            [event] = session.scalars(select(Event).where(Event.type == "probe.unhealthy"))
        assert event.probe_id == sick
        assert event.payload["probe"]["region"] == "ap-south"
        for monitor_id in monitors:
            wait_status(stack, client, monitor_id, "up", ap_south="unknown", us_east="up")
        # The probe keeps checking, and its failures keep counting for nothing.
        counted = failing_results(stack, monitors[0], "ap-south")
        wait_for(
            lambda: failing_results(stack, monitors[0], "ap-south") > counted + 1,
            timeout=DEADLINE,
            message="more failures from the sick probe",
        )
        assert monitor(client, monitors[0])["status"] == "up"
        for monitor_id in monitors:
            assert incidents(stack, monitor_id) == []
            assert "monitor.down" not in event_types(stack, monitor_id)

        refuse(target)
        wait_for(lambda: not unhealthy(), timeout=DEADLINE, message="the probe re-admitted")
        wait_status(stack, client, monitors[0], "up", ap_south="up")


def test_maintenance_window_holds_back_the_incident_until_it_ends(
    stack: Stack, regions: dict[str, str], client: httpx.Client
) -> None:
    """Acceptance 5."""
    with http_target() as target:
        monitor_id = create_monitor(client, target, "Billing")
        wait_status(stack, client, monitor_id, "up", timeout=2 * DEADLINE)
        with transaction(stack.sessions) as session:
            org = session.get(Monitor, monitor_id).organization_id  # type: ignore[union-attr]
            window = MaintenanceWindow(
                organization_id=org,
                name="database upgrade",
                monitor_ids=[monitor_id],
                starts_at=utcnow(),
                duration_seconds=3600,
            )
            session.add(window)
            session.flush()
            window_id = window.id
        wait_status(stack, client, monitor_id, "maintenance")
        events_before = event_types(stack, monitor_id)

        refuse(target, "eu-west", "us-east")
        wait_status(stack, client, monitor_id, "maintenance", eu_west="down", us_east="down")
        counted = failing_results(stack, monitor_id, "eu-west")
        wait_for(
            lambda: failing_results(stack, monitor_id, "eu-west") > counted + 1,
            timeout=DEADLINE,
            message="more failing results inside the window",
        )
        assert monitor(client, monitor_id)["status"] == "maintenance"
        assert incidents(stack, monitor_id) == []
        assert event_types(stack, monitor_id) == events_before

        # The window ends (cut short) while the target is still down.
        with transaction(stack.sessions) as session:
            window = session.get(MaintenanceWindow, window_id)
            assert window is not None
            window.duration_seconds = int((utcnow() - window.starts_at).total_seconds())
        wait_status(stack, client, monitor_id, "down")
        wait_for(lambda: incidents(stack, monitor_id), timeout=DEADLINE, message="the incident")
        assert event_types(stack, monitor_id)[len(events_before) :] == [
            "monitor.down",
            "incident.created",
        ]
