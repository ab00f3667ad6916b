"""Incidents: manual creation, timeline, acknowledge, resolve, updates, bulk actions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from picket.db.models import Event, StateTransition
from picket.db.types import utcnow
from tests.api.conftest import Api

BASE = "/api/v1/incidents"


def test_manual_incident_lifecycle(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["incidents:read", "incidents:write"])
    monitor_id = org.ids["monitor_id"]
    created = api.request(
        "POST",
        BASE,
        key,
        json={
            "title": "Payments failing",
            "description": "Card payments time out.",
            "status": "identified",
            "impact": "critical",
            "monitor_ids": [monitor_id],
        },
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["automatic"] is False and incident["monitor_id"] == monitor_id
    assert incident["impact"] == "critical" and incident["resolved_at"] is None
    assert [u["status"] for u in incident["updates"]] == ["identified"]
    url = f"{BASE}/{incident['id']}"

    acked = api.request("POST", f"{url}/acknowledge", key).json()
    assert acked["acknowledged_at"] is not None and acked["acknowledged_by"]
    again = api.request("POST", f"{url}/acknowledge", key).json()
    assert again["acknowledged_at"] == acked["acknowledged_at"]

    update = api.request(
        "POST", f"{url}/updates", key, json={"status": "monitoring", "message": "Fix deployed."}
    )
    assert update.status_code == 201 and update.json()["status"] == "monitoring"
    resolved = api.request("POST", f"{url}/resolve", key, json={"message": "All good."}).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert [(u["status"], u["message"]) for u in resolved["updates"]] == [
        ("identified", "Card payments time out."),
        ("monitoring", "Fix deployed."),
        ("resolved", "All good."),
    ]
    assert api.request("POST", f"{url}/resolve", key).status_code == 409
    assert api.request("POST", f"{url}/acknowledge", key).status_code == 409

    # An update that is not "resolved" reopens it.
    reopened = api.request(
        "POST", f"{url}/updates", key, json={"status": "investigating", "message": "Back."}
    ).json()
    assert reopened["resolved_at"] is None and reopened["status"] == "investigating"

    with api.session() as session:
        events = session.scalars(
            select(Event).where(Event.incident_id == incident["id"]).order_by(Event.id)
        ).all()
        assert [e.type for e in events] == [
            "incident.created",
            "incident.updated",
            "incident.resolved",
            "incident.updated",
        ]
        # The payload shape of collector/consensus/events.py, so notifications treat
        # manual and automatic incidents alike.
        payload = events[2].payload
        assert payload["monitor"]["id"] == monitor_id and payload["regions"] == {}
        assert payload["incident"]["status"] == "resolved"
        assert payload["incident"]["resolved_at"] is not None
        assert payload["update"]["message"] == "All good."
        assert set(payload) == {
            "type",
            "timestamp",
            "monitor",
            "status",
            "previous_status",
            "regions",
            "incident",
            "update",
        }


def test_timeline_includes_state_transitions(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor_id = org.ids["monitor_id"]
    started = utcnow() - timedelta(minutes=10)
    incident = api.request(
        "POST",
        BASE,
        key,
        json={"title": "Down", "monitor_ids": [monitor_id], "started_at": started.isoformat()},
    ).json()
    with api.session() as session:
        for minutes, (old, new) in ((30, ("unknown", "up")), (5, ("up", "down"))):
            session.add(
                StateTransition(
                    monitor_id=monitor_id,
                    from_status=old,
                    to_status=new,
                    at=utcnow() - timedelta(minutes=minutes),
                    regions={"eu-west": {"ok": False, "error_kind": "connect"}},
                )
            )
        session.commit()
    detail = api.request("GET", f"{BASE}/{incident['id']}", key).json()
    assert [(t["from_status"], t["to_status"]) for t in detail["transitions"]] == [("up", "down")]
    assert detail["transitions"][0]["regions"]["eu-west"]["error_kind"] == "connect"


def test_list_filters(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    monitor_id = org.ids["monitor_id"]
    old = (utcnow() - timedelta(days=3)).isoformat()
    a = api.request("POST", BASE, key, json={"title": "a", "monitor_ids": [monitor_id]}).json()
    b = api.request("POST", BASE, key, json={"title": "b", "started_at": old}).json()
    api.request("POST", f"{BASE}/{b['id']}/resolve", key)

    def titles(query: str) -> list[str]:
        response = api.request("GET", f"{BASE}?{query}", key)
        assert response.status_code == 200, response.text
        return sorted(i["title"] for i in response.json()["data"])

    assert titles("") == ["Checkout errors", "a", "b"]
    assert titles(f"monitor_id={monitor_id}") == ["a"]
    assert titles("active=true") == ["Checkout errors", "a"]
    assert titles("active=false") == ["b"]
    assert titles("status=resolved") == ["b"]
    assert titles(f"to={(utcnow() - timedelta(days=1)).isoformat().replace('+', '%2B')}") == ["b"]
    assert a["id"] not in titles("from=2030-01-01T00:00:00Z")


def test_bulk_acknowledge_and_resolve(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    first = api.request("POST", BASE, key, json={"title": "one"}).json()["id"]
    second = api.request("POST", BASE, key, json={"title": "two"}).json()["id"]
    api.request("POST", f"{BASE}/{second}/acknowledge", key)
    acked = api.request(
        "POST", f"{BASE}/bulk-acknowledge", key, json={"ids": [first, second, "nope"]}
    ).json()
    assert acked["updated"] == [first]
    assert acked["skipped"] == [
        {"id": second, "reason": "already acknowledged"},
        {"id": "nope", "reason": "not found"},
    ]
    resolved = api.request(
        "POST", f"{BASE}/bulk-resolve", key, json={"ids": [first, second], "message": "done"}
    ).json()
    assert resolved == {"updated": [first, second], "skipped": []}
    again = api.request("POST", f"{BASE}/bulk-resolve", key, json={"ids": [first]}).json()
    assert again["skipped"] == [{"id": first, "reason": "already resolved"}]
    assert api.request("POST", f"{BASE}/bulk-resolve", key, json={"ids": []}).status_code == 422


def test_validation(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    bad_status = api.request("POST", BASE, key, json={"title": "x", "status": "panicking"})
    assert bad_status.status_code == 422 and bad_status.json()["detail"].startswith("status:")
    no_title = api.request("POST", BASE, key, json={"impact": "minor"})
    assert no_title.json()["detail"].startswith("title:")
    update = api.request(
        "POST", f"{BASE}/{org.ids['incident_id']}/updates", key, json={"status": "resolved"}
    )
    assert update.status_code == 422 and update.json()["detail"].startswith("message:")
