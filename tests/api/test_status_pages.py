"""Status page API and the public pages, feeds and badges it publishes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from picket.db.accounts import create_api_key
from tests.api.reports_support import Tenant, add_monitor, make_tenant, seed_status_page

ATOM = "{http://www.w3.org/2005/Atom}"


def test_status_page_crud_conflicts_and_scopes(database_url: str, tmp_path: Path) -> None:
    tenant = make_tenant(database_url, tmp_path)
    with tenant.sessions() as session, session.begin():
        monitor_id = add_monitor(session, tenant.organization_id, name="Shop").id
    body = {
        "name": "Shop status",
        "slug": "shop",
        "custom_domain": "Status.Shop.Example.",
        "components": [{"monitor_id": monitor_id, "section": "Store"}],
    }
    created = tenant.client.post("/api/v1/status-pages", json=body, headers=tenant.auth)
    assert created.status_code == 201, created.text
    page = created.json()
    assert page["custom_domain"] == "status.shop.example"
    assert page["components"] == [{"monitor_id": monitor_id, "name": "Shop", "section": "Store"}]
    assert page["public_url"].endswith("/status/shop")

    again = tenant.client.post("/api/v1/status-pages", json=body, headers=tenant.auth)
    assert again.status_code == 409 and "slug" in again.json()["detail"]
    other_org, other_key = tenant.add_organization("Other")
    other = {"Authorization": f"Bearer {other_key}"}
    # Slugs and domains are unique across organizations, so none can claim another's.
    stolen = tenant.client.post(
        "/api/v1/status-pages",
        json={"name": "Mine", "slug": "mine", "custom_domain": "status.shop.example"},
        headers=other,
    )
    assert stolen.status_code == 409 and "custom_domain" in stolen.json()["detail"]
    assert tenant.client.get(f"/api/v1/status-pages/{page['id']}", headers=other).status_code == 404
    assert (
        tenant.client.delete(f"/api/v1/status-pages/{page['id']}", headers=other).status_code == 404
    )
    foreign = tenant.client.post(
        "/api/v1/status-pages",
        json={"name": "Mine", "slug": "mine", "components": [{"monitor_id": monitor_id}]},
        headers=other,
    )
    assert foreign.status_code == 422 and "components.monitor_id" in foreign.json()["detail"]

    for bad, field in (
        ({"name": "x", "slug": "Not A Slug"}, "slug"),
        ({"name": "x", "slug": "ok", "custom_domain": "not a domain"}, "custom_domain"),
        ({"slug": "ok"}, "name"),
    ):
        response = tenant.client.post("/api/v1/status-pages", json=bad, headers=tenant.auth)
        assert response.status_code == 422 and field in response.json()["detail"], bad

    patched = tenant.client.patch(
        f"/api/v1/status-pages/{page['id']}",
        json={"name": "Shop", "show_uptime": False, "components": []},
        headers=tenant.auth,
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["show_uptime"]) == ("Shop", False)
    assert patched.json()["components"] == []
    second = tenant.client.post(
        "/api/v1/status-pages", json={"name": "Two", "slug": "two"}, headers=tenant.auth
    ).json()
    clash = tenant.client.patch(
        f"/api/v1/status-pages/{second['id']}", json={"slug": "shop"}, headers=tenant.auth
    )
    assert clash.status_code == 409

    listed = tenant.client.get("/api/v1/status-pages", headers=tenant.auth).json()
    assert [p["slug"] for p in listed["data"]] == ["shop", "two"]

    reader = make_reader(tenant)
    assert tenant.client.get("/api/v1/status-pages", headers=reader).status_code == 200
    denied = tenant.client.post("/api/v1/status-pages", json=body, headers=reader)
    assert denied.status_code == 403 and "status-pages:write" in denied.json()["detail"]

    deleted = tenant.client.delete(f"/api/v1/status-pages/{page['id']}", headers=tenant.auth)
    assert deleted.status_code == 204
    assert tenant.client.get("/status/shop").status_code == 404
    del other_org


def make_reader(tenant: Tenant) -> dict[str, str]:
    with tenant.sessions() as session, session.begin():
        _, raw = create_api_key(session, tenant.organization_id, "ro", ["status-pages:read"])
    return {"Authorization": f"Bearer {raw}"}


def test_public_page_feeds_and_badges(database_url: str, tmp_path: Path) -> None:
    tenant = make_tenant(database_url, tmp_path)
    seeded = seed_status_page(tenant)
    client = tenant.client

    html = client.get("/status/acme")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    text = html.text
    assert "Partial outage" in text
    for name in ("Public API", "Checkout", "Marketing site", "Core", "Web"):
        assert name in text
    assert "A bad deploy of the payment service; rolling back." in text
    assert "Database upgrade" in text and "Checkout unavailable" in text
    assert len(re.findall(r'<li class="bar bar-', text)) == 270
    assert "<script" not in text

    summary = client.get("/status/acme/summary.json").json()
    assert summary["status"]["indicator"] == "partial"
    states = {c["name"]: c["status"] for c in summary["components"]}
    assert states == {"Public API": "up", "Checkout": "down", "Marketing site": "degraded"}
    checkout = next(c for c in summary["components"] if c["name"] == "Checkout")
    assert len(checkout["days"]) == 90
    assert checkout["days"][-11]["state"] == "down"  # the 3-hour outage ten days ago
    assert checkout["days"][-11]["uptime"] == round(100 * (1 - 3 / 24), 4)
    assert checkout["days"][0]["state"] == "up"
    assert [i["title"] for i in summary["incidents"]] == ["Checkout is failing"]
    assert summary["scheduled_maintenances"][0]["name"] == "Database upgrade"

    feed = client.get("/status/acme/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert titles == ["Checkout is failing (identified)", "Checkout unavailable (resolved)"]

    badge = client.get(f"/status/acme/badge/{seeded['monitors']['API']}.svg")
    assert badge.headers["content-type"] == "image/svg+xml"
    svg = ET.fromstring(badge.content)
    assert "uptime: 100.00%" in (svg.get("aria-label") or "")
    with tenant.sessions() as session, session.begin():
        stranger = add_monitor(session, tenant.organization_id, name="Not on the page").id
    assert client.get(f"/status/acme/badge/{stranger}.svg").status_code == 404


def test_custom_domains_and_unknown_slugs(database_url: str, tmp_path: Path) -> None:
    """Acceptance 5: another organization's page never shows through a custom domain."""
    tenant = make_tenant(database_url, tmp_path)
    seeded = seed_status_page(tenant, slug="acme", custom_domain="status.acme.test")
    _, other_key = tenant.add_organization("Globex")
    other = {"Authorization": f"Bearer {other_key}"}
    globex = tenant.client.post(
        "/api/v1/status-pages",
        json={"name": "Globex status", "slug": "globex", "custom_domain": "status.globex.test"},
        headers=other,
    )
    assert globex.status_code == 201
    client = tenant.client

    on_domain = client.get("/", headers={"Host": "status.acme.test:8443"})
    assert on_domain.status_code == 200 and "Acme status" in on_domain.text
    assert 'href="/feed.atom"' in on_domain.text
    assert (
        client.get("/summary.json", headers={"Host": "status.acme.test"}).json()["page"]["slug"]
        == "acme"
    )
    assert "Globex status" in client.get("/", headers={"Host": "status.globex.test"}).text
    api_id = seeded["monitors"]["API"]
    acme_host = {"Host": "status.acme.test"}
    assert client.get(f"/badge/{api_id}.svg", headers=acme_host).status_code == 200
    assert client.get("/feed.atom", headers=acme_host).status_code == 200
    # Acme's monitor is not a component of Globex's page, so Globex's domain has no badge.
    globex_host = {"Host": "status.globex.test"}
    assert client.get(f"/badge/{api_id}.svg", headers=globex_host).status_code == 404

    # Through Acme's domain, Globex's page (and any other organization's) is a 404 page.
    for path in ("/status/globex", "/status/globex/summary.json", "/status/globex/feed.atom"):
        response = client.get(path, headers={"Host": "status.acme.test"})
        assert response.status_code == 404, path
        assert "Globex" not in response.text
    crossed = client.get("/status/acme", headers={"Host": "status.globex.test"})
    assert crossed.status_code == 404 and "Acme" not in crossed.text
    # Its own slug works on its own domain, and both work on the plain host.
    assert client.get("/status/acme", headers={"Host": "status.acme.test"}).status_code == 200
    assert client.get("/status/globex").status_code == 200

    missing = client.get("/status/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "does not exist" in missing.text
    assert client.get("/", headers={"Host": "unknown.test"}).status_code == 404
    assert client.get("/status/no-such-page/summary.json").json() == {
        "detail": "status page not found"
    }
