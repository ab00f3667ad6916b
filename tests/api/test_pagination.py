"""Every list answers with the same envelope, and refuses a limit over 100."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.routing import endpoints


def _is_page(openapi: dict[str, Any], schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return {"data", "pagination"} <= schema.get("properties", {}).keys()


def test_every_list_is_paginated_and_limit_is_capped(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full", "admin"])
    openapi = api.client.get("/openapi.json").json()
    lists = []
    for endpoint in endpoints(api.app):
        if endpoint.method != "GET" or endpoint.public or endpoint.path not in openapi["paths"]:
            continue
        ok = openapi["paths"][endpoint.path]["get"]["responses"]["200"]
        if "application/json" not in ok.get("content", {}):
            continue  # not a JSON resource (Prometheus text at /api/v1/metrics)
        schema = ok["content"]["application/json"]["schema"]
        assert schema.get("type") != "array", f"{endpoint} answers a bare list; use Page[...]"
        if not _is_page(openapi, schema):
            continue
        url = endpoint.url(org.ids)
        body = api.request("GET", f"{url}?limit=2&page=1", key).json()
        assert set(body) == {"data", "pagination"}, endpoint
        assert set(body["pagination"]) == {"page", "limit", "total", "pages"}
        assert body["pagination"]["page"] == 1 and body["pagination"]["limit"] == 2
        assert len(body["data"]) <= 2
        too_many = api.request("GET", f"{url}?limit=101", key)
        assert too_many.status_code == 422, endpoint
        assert too_many.json()["detail"].startswith("limit:")
        lists.append(str(endpoint))
    assert len(lists) >= 8, lists


def test_pages_split_the_total(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["full"])
    for n in range(4):
        api.request("POST", "/api/v1/incidents", key, json={"title": f"incident {n}"})
    first = api.request("GET", "/api/v1/incidents?limit=2", key).json()
    last = api.request("GET", "/api/v1/incidents?limit=2&page=3", key).json()
    # 4 created here plus the one the organization fixture made.
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5, "pages": 3}
    assert len(first["data"]) == 2 and len(last["data"]) == 1
    beyond = api.request("GET", "/api/v1/incidents?limit=2&page=9", key).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 5
