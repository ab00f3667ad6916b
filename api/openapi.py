"""What every route's OpenAPI entry says beyond its own: auth, scope, errors, rate-limit headers.

Added once here from each route's dependencies, so routers written later are documented
the same way without repeating it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from picket.api.deps import authenticate

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "each bad field and why: `field: reason`"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["detail"],
}
_RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "requests allowed per minute for this key (or client IP)",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "requests left in the current minute",
        "schema": {"type": "integer"},
    },
}


@dataclass(frozen=True)
class Operation:
    """One method of one API route, as mounted (full path, all its dependencies)."""

    method: str
    path: str
    dependant: Dependant

    @property
    def scopes(self) -> set[str]:
        """The scopes its `require(...)` dependencies ask for."""
        return {c.required_scope for c in _calls(self.dependant) if hasattr(c, "required_scope")}

    @property
    def needs_key(self) -> bool:
        return any(call is authenticate for call in _calls(self.dependant))


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def operations(app: FastAPI) -> list[Operation]:
    # Newer FastAPI mounts included routers lazily; iter_route_contexts flattens them.
    contexts: Any = (
        routing.iter_route_contexts(app.routes)
        if hasattr(routing, "iter_route_contexts")
        else app.routes
    )
    found = []
    for context in contexts:
        original = getattr(context, "original_route", context)
        if isinstance(original, APIRoute):
            for method in sorted(context.methods):
                found.append(Operation(method, context.path_format, context.dependant))
    return sorted(found, key=lambda op: (op.path, op.method))


def _error(description: str, schema_ref: str = "#/components/schemas/Error") -> dict[str, Any]:
    return {
        "description": description,
        "headers": _RATE_HEADERS,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def _document(schema: dict[str, Any], app: FastAPI) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = _ERROR
    components["schemas"]["ValidationError422"] = _VALIDATION_ERROR
    components.setdefault("securitySchemes", {})["ApiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key, `pk_` followed by 32 characters",
    }
    routes = {(op.method.lower(), op.path): op for op in operations(app)}
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            route = routes.get((method, path))
            if route is None:
                continue
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                response.setdefault("headers", {}).update(_RATE_HEADERS)
            responses["422"] = _error(
                "a parameter or body field is invalid", "#/components/schemas/ValidationError422"
            )
            responses["429"] = _error("rate limit exceeded; see Retry-After")
            responses["429"]["headers"] = {
                **_RATE_HEADERS,
                "Retry-After": {
                    "description": "seconds to wait before retrying",
                    "schema": {"type": "integer"},
                },
            }
            responses["503"] = _error("the database is unavailable; retry shortly")
            if "requestBody" in operation:
                responses["400"] = _error("the body is not valid JSON")
            if "{" in path:
                responses.setdefault("404", _error("no such resource in this organization"))
            if method in {"post", "put", "patch", "delete"}:
                responses.setdefault("409", _error("conflicts with the resource's state"))
            if route.needs_key:
                operation["security"] = [{"ApiKey": []}]
                responses["401"] = _error("missing, invalid or revoked API key")
            scopes = sorted(route.scopes)
            if scopes:
                responses["403"] = _error("the API key lacks the required scope")
                note = "Requires scope " + ", ".join(f"`{s}`" for s in scopes) + "."
                description = operation.get("description", "")
                if note not in description:
                    operation["description"] = f"{description}\n\n{note}".strip()


def document_errors(app: FastAPI) -> None:
    """Make app.openapi() add the shared parts each time FastAPI builds the schema afresh."""
    build = app.openapi
    documented: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if id(schema) not in documented:
            _document(schema, app)
            documented[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
