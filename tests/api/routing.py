"""Walk the app's routes so tests cover routers added later without being edited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from picket.api.openapi import Operation, operations

# Routes that take no API key at all. Anything else must declare its scope with
# Depends(require(...)); the scope matrix test fails for a route that does neither.
PUBLIC_ROUTES = {
    ("GET", "/api/v1/heartbeat/{token}"),
    ("POST", "/api/v1/heartbeat/{token}"),
    ("GET", "/api/v1/heartbeat/{token}/fail"),
    ("POST", "/api/v1/heartbeat/{token}/fail"),
    # Public status pages: by slug, and at the root of a page's custom domain.
    ("GET", "/status/{slug}"),
    ("GET", "/status/{slug}/summary.json"),
    ("GET", "/status/{slug}/feed.atom"),
    ("GET", "/status/{slug}/badge/{monitor_id}.svg"),
    ("GET", "/"),
    ("GET", "/summary.json"),
    ("GET", "/feed.atom"),
    ("GET", "/badge/{monitor_id}.svg"),
}

_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Endpoint(Operation):
    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def public(self) -> bool:
        return (self.method, self.path) in PUBLIC_ROUTES

    def url(self, ids: dict[str, str]) -> str:
        missing = [p for p in self.params if p not in ids]
        assert not missing, (
            f"{self}: no test factory for path parameter(s) {missing}; "
            "add one to FACTORIES in tests/api/conftest.py"
        )
        return _PARAM.sub(lambda m: ids[m.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every API operation; deletions last, so the others still find their resource."""
    found = [Endpoint(op.method, op.path, op.dependant) for op in operations(app)]
    return sorted(found, key=lambda e: (e.method == "DELETE", e.path, e.method))


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi["components"]["schemas"][name]
    for variant in schema.get("anyOf", []):
        if variant.get("type") != "null":
            return _resolve(openapi, variant)
    return schema


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return ids.get(value[1:-1], value)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def example_body(
    openapi: dict[str, Any], endpoint: Endpoint, ids: dict[str, str] | None = None
) -> Any:
    """The documented example of the endpoint's JSON body, None when it takes none.

    Examples name resources by placeholders such as "<monitor_id>"; `ids` fills them in.
    """
    operation = openapi["paths"].get(endpoint.path, {}).get(endpoint.method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    if "example" in content:
        example = content["example"]
    elif content.get("examples"):
        example = next(iter(content["examples"].values()))["value"]
    else:
        schema = _resolve(openapi, content["schema"])
        assert schema.get("examples"), f"{endpoint}: document an example body"
        example = schema["examples"][0]
    return _fill(example, ids or {})
