"""Public status pages, served without a key: at /status/{slug}, and at the root of a page's
custom domain (matched on the Host header).

A request that arrives on a custom domain only ever sees pages of the organization that
owns that domain: /status/{another-org's-slug} there is a 404, like an unknown slug.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from picket.api.deps import SessionDep
from picket.api.public.view import PageView, build_view, feed_incidents
from picket.db.models_reports import StatusPage, StatusPageComponent
from picket.db.types import utcnow

router = APIRouter(include_in_schema=False)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "xml", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


TEMPLATES.filters["iso"] = _iso
TEMPLATES.filters["when"] = lambda v: f"{v:%b %-d, %Y %H:%M} UTC" if v else ""


def request_host(request: Request) -> str:
    host = request.headers.get("host", "").strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".")


def find_page(session: Session, request: Request, slug: str | None) -> StatusPage | None:
    host = request_host(request)
    domain_page = (
        session.scalar(select(StatusPage).where(StatusPage.custom_domain == host)) if host else None
    )
    if slug is None:
        return domain_page
    page = session.scalar(select(StatusPage).where(StatusPage.slug == slug))
    if page is None:
        return None
    if domain_page is not None and domain_page.organization_id != page.organization_id:
        return None
    return page


def base_path(request: Request, page: StatusPage) -> str:
    """Where the page's own links start: the domain root, or /status/{slug}."""
    if page.custom_domain and request_host(request) == page.custom_domain:
        return ""
    return f"/status/{page.slug}"


def not_found(what: str = "status page") -> HTMLResponse:
    html = TEMPLATES.get_template("not_found.html").render(what=what)
    return HTMLResponse(html, status_code=404)


def render_page(request: Request, session: Session, page: StatusPage) -> HTMLResponse:
    view = build_view(session, page, utcnow())
    html = TEMPLATES.get_template("page.html").render(view=view, base=base_path(request, page))
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=30"})


def summary(view: PageView, url: str) -> dict[str, Any]:
    return {
        "page": {
            "name": view.page.name,
            "slug": view.page.slug,
            "description": view.page.description,
            "url": url,
            "updated_at": _iso(view.generated_at),
        },
        "status": {"indicator": view.status, "description": view.headline},
        "components": [
            {
                "monitor_id": c.monitor_id,
                "name": c.name,
                "section": c.section,
                "status": c.status,
                "uptime_90d": None if c.uptime is None else round(c.uptime, 4),
                "days": [
                    {
                        "date": b.day.isoformat(),
                        "state": b.state,
                        "uptime": None
                        if b.uptime is None or not view.page.show_uptime
                        else round(b.uptime, 4),
                    }
                    for b in c.bars
                ],
            }
            for c in view.components
        ],
        "incidents": [_plain(i) for i in view.active_incidents],
        "scheduled_maintenances": [_plain(m) for m in view.maintenance],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    return value


def render_summary(request: Request, session: Session, page: StatusPage) -> JSONResponse:
    view = build_view(session, page, utcnow())
    url = str(request.base_url).rstrip("/") + (base_path(request, page) or "/")
    return JSONResponse(summary(view, url), headers={"Cache-Control": "public, max-age=30"})


def render_feed(request: Request, session: Session, page: StatusPage) -> Response:
    now = utcnow()
    incidents = feed_incidents(session, page, now)
    root = str(request.base_url).rstrip("/") + base_path(request, page)
    xml = TEMPLATES.get_template("feed.xml").render(
        page=page,
        incidents=incidents,
        updated=max([i["updated_at"] for i in incidents], default=page.updated_at),
        root=root,
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


BADGE_COLORS = (
    (99.9, "#1a7f37"),
    (99.0, "#9a6700"),
    (0.0, "#b42318"),
)


def render_badge(session: Session, page: StatusPage, monitor_id: str) -> Response:
    on_page = session.scalar(
        select(StatusPageComponent.id).where(
            StatusPageComponent.page_id == page.id, StatusPageComponent.monitor_id == monitor_id
        )
    )
    if on_page is None:
        return not_found("badge")
    view = build_view(session, page, utcnow())
    component = next(c for c in view.components if c.monitor_id == monitor_id)
    if page.show_uptime and component.uptime is not None:
        value = f"{component.uptime:.2f}%"
        color = next(c for floor, c in BADGE_COLORS if component.uptime >= floor)
    else:
        value = component.label.lower()
        color = {"up": "#1a7f37", "degraded": "#9a6700", "down": "#b42318"}.get(
            component.status, "#57606a"
        )
    label = "uptime"
    # Verdana 11px averages about 6.5 px per character, as shields-style badges assume.
    label_w, value_w = 10 + int(6.5 * len(label)), 10 + int(6.5 * len(value))
    svg = TEMPLATES.get_template("badge.svg").render(
        label=label, value=value, color=color, label_w=label_w, value_w=value_w
    )
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("/status/{slug}", name="public_status_page", response_class=HTMLResponse)
def status_page(slug: str, request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, slug)
    return render_page(request, session, page) if page else not_found()


@router.get("/status/{slug}/summary.json")
def status_summary(slug: str, request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, slug)
    if page is None:
        return JSONResponse({"detail": "status page not found"}, status_code=404)
    return render_summary(request, session, page)


@router.get("/status/{slug}/feed.atom")
def status_feed(slug: str, request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, slug)
    return render_feed(request, session, page) if page else not_found()


@router.get("/status/{slug}/badge/{monitor_id}.svg")
def status_badge(slug: str, monitor_id: str, request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, slug)
    return render_badge(session, page, monitor_id) if page else not_found("badge")


@router.get("/", response_class=HTMLResponse)
def domain_page(request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, None)
    return render_page(request, session, page) if page else not_found()


@router.get("/summary.json")
def domain_summary(request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, None)
    if page is None:
        return JSONResponse({"detail": "status page not found"}, status_code=404)
    return render_summary(request, session, page)


@router.get("/feed.atom")
def domain_feed(request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, None)
    return render_feed(request, session, page) if page else not_found()


@router.get("/badge/{monitor_id}.svg")
def domain_badge(monitor_id: str, request: Request, session: SessionDep) -> Response:
    page = find_page(session, request, None)
    return render_badge(session, page, monitor_id) if page else not_found("badge")
