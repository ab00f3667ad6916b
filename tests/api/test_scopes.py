"""Every endpoint × every scope: the key gets in exactly when it holds the route's scope."""

from __future__ import annotations

from picket.api.auth import ADMIN, SCOPES, SHORTHANDS
from tests.api.conftest import Api
from tests.api.routing import PUBLIC_ROUTES, endpoints, example_body

# Each key holds one of these scope lists.
KEYS: dict[str, list[str]] = {
    **{scope: [scope] for scope in SCOPES},
    "read_only": ["read_only"],
    "full": ["full"],
    ADMIN: [ADMIN],
    "nothing": [],
}


def _allowed(key_name: str, needed: str) -> bool:
    held = set(KEYS[key_name])
    for shorthand, scopes in SHORTHANDS.items():
        if shorthand in held:
            held |= scopes
    return needed in held


def test_every_route_declares_a_scope_or_is_public(api: Api) -> None:
    for endpoint in endpoints(api.app):
        if endpoint.public:
            assert not endpoint.needs_key, f"{endpoint} is listed public but asks for a key"
            continue
        assert len(endpoint.scopes) == 1, (
            f"{endpoint}: declare exactly one scope with Depends(require(...)), or list it "
            f"in PUBLIC_ROUTES (has {sorted(endpoint.scopes)})"
        )


def test_scope_matrix(api: Api) -> None:
    org = api.organization("A")
    raw_keys = {name: api.key(org, scopes) for name, scopes in KEYS.items()}
    openapi = api.client.get("/openapi.json").json()
    checked = 0
    for endpoint in endpoints(api.app):
        if endpoint.public:
            continue
        (needed,) = endpoint.scopes
        body = example_body(openapi, endpoint, org.ids)
        url = endpoint.url(org.ids)
        anonymous = api.request(endpoint.method, url, json=body)
        assert anonymous.status_code == 401, f"{endpoint} without a key: {anonymous.text}"
        refusal = {"detail": f"this API key lacks the '{needed}' scope"}
        for key_name, raw in raw_keys.items():
            response = api.request(endpoint.method, url, raw, json=body)
            if _allowed(key_name, needed):
                # Allowed in: any answer but 401 or the scope refusal (a handler may still
                # say 403 for its own reason, e.g. a key granting scopes it lacks).
                assert response.status_code != 401 and (
                    response.status_code != 403 or response.json() != refusal
                ), f"{endpoint} with a {key_name} key: {response.status_code} {response.text}"
                assert response.status_code < 500, f"{endpoint}: {response.text}"
            else:
                assert (response.status_code, response.json()) == (403, refusal), (
                    f"{endpoint} with a {key_name} key should be refused, got "
                    f"{response.status_code} {response.text}"
                )
            checked += 1
    assert checked >= 30 * len(KEYS)


def test_every_operation_documents_its_scope(api: Api) -> None:
    openapi = api.client.get("/openapi.json").json()
    for endpoint in endpoints(api.app):
        if endpoint.public:
            continue
        assert endpoint.path in openapi["paths"], f"{endpoint} is missing from /openapi.json"
        operation = openapi["paths"][endpoint.path][endpoint.method.lower()]
        (needed,) = endpoint.scopes
        assert needed in operation["summary"], f"{endpoint}: name {needed} in its summary"
        assert f"`{needed}`" in operation["description"]
        assert {"401", "403", "422", "429"} <= operation["responses"].keys()
    assert {(e.method, e.path) for e in endpoints(api.app)} - PUBLIC_ROUTES


def test_read_only_key_cannot_write(api: Api) -> None:
    org = api.organization("A")
    key = api.key(org, ["read_only"])
    response = api.request(
        "POST", "/api/v1/monitors", key, json={"name": "x", "type": "http", "url": "https://a.b"}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "this API key lacks the 'monitors:write' scope"}


def test_swagger_ui_and_redoc_are_served(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        response = api.client.get(path)
        assert response.status_code == 200 and "/openapi.json" in response.text
    security = api.client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert security["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key, `pk_` followed by 32 characters",
    }
