"""Maintenance windows: CRUD, RRULE and time zone validation, when they are in effect."""

from __future__ import annotations

from datetime import datetime, timedelta

from picket.db.types import utcnow
from tests.api.conftest import Api

BASE = "/api/v1/maintenance-windows"


def test_crud(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["monitors:read", "monitors:write"])
    body = {
        "name": "Sunday upgrade",
        "monitor_ids": [org.ids["monitor_id"]],
        "starts_at": "2026-12-06T02:00:00Z",
        "duration_seconds": 3600,
        "rrule": "FREQ=WEEKLY;BYDAY=SU",
        "timezone": "Europe/Berlin",
    }
    created = api.request("POST", BASE, key, json=body)
    assert created.status_code == 201, created.text
    window = created.json()
    assert window["rrule"] == "FREQ=WEEKLY;BYDAY=SU" and window["next_start"] is not None
    url = f"{BASE}/{window['id']}"
    assert api.request("GET", url, key).json()["name"] == "Sunday upgrade"
    patched = api.request("PATCH", url, key, json={"duration_seconds": 7200, "rrule": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["duration_seconds"] == 7200 and patched.json()["rrule"] is None
    listed = api.request("GET", BASE, key).json()
    assert window["id"] in {w["id"] for w in listed["data"]}
    assert api.request("DELETE", url, key).status_code == 204
    assert api.request("GET", url, key).status_code == 404


def test_validation(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    base = {
        "name": "w",
        "monitor_ids": [org.ids["monitor_id"]],
        "starts_at": "2026-12-06T02:00:00Z",
        "duration_seconds": 600,
    }

    def detail(**fields: object) -> str:
        response = api.request("POST", BASE, key, json={**base, **fields})
        assert response.status_code == 422, response.text
        return response.json()["detail"]

    assert detail(rrule="FREQ=WEEKLY;BYDAY=XX").startswith("rrule:")
    assert detail(rrule="FREQ=SECONDLY").startswith("rrule: FREQ must be one of")
    assert detail(rrule="DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY").startswith("rrule:")
    assert detail(timezone="Mars/Olympus") == "timezone: unknown time zone 'Mars/Olympus'"
    assert detail(monitor_ids=["nope"]) == "monitor_ids: unknown monitor 'nope'"
    assert detail(starts_at="2026-12-06T02:00:00").startswith("starts_at:")
    assert detail(duration_seconds=10).startswith("duration_seconds:")
    # A window covers the monitors it lists and only those, so it must list one.
    assert detail(monitor_ids=[]).startswith("monitor_ids:")
    window_id = org.ids["window_id"]
    refused = api.request("PATCH", f"{BASE}/{window_id}", key, json={"rrule": "FREQ=NEVER"})
    assert refused.status_code == 422
    nulled = api.request("PATCH", f"{BASE}/{window_id}", key, json={"name": None})
    assert nulled.json()["detail"] == "name: may not be null"


def test_active_and_next_start(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    now = utcnow().replace(microsecond=0)  # RRULE occurrences are whole seconds
    body = {"name": "w", "monitor_ids": [org.ids["monitor_id"]], "duration_seconds": 600}

    def create(**fields: object) -> dict[str, object]:
        response = api.request("POST", BASE, key, json={**body, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    one_off = create(starts_at=(now - timedelta(minutes=1)).isoformat())
    assert (one_off["active"], one_off["next_start"]) == (True, None)
    later = create(starts_at=(now + timedelta(hours=1)).isoformat())
    assert later["active"] is False and later["next_start"] is not None
    # Daily, begun yesterday one minute before now: on again now, next tomorrow.
    daily = create(starts_at=(now - timedelta(days=1, minutes=1)).isoformat(), rrule="FREQ=DAILY")
    assert daily["active"] is True
    next_start = datetime.fromisoformat(str(daily["next_start"]))
    assert next_start - now == timedelta(days=1, minutes=-1)
