"""API key scopes and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = (
    "monitors:read",
    "monitors:write",
    "incidents:read",
    "incidents:write",
    "notifications:read",
    "notifications:write",
    "status-pages:read",
    "status-pages:write",
    "reports:read",
    "probes:read",
    "probes:write",
    "keys:write",
)
SHORTHANDS = {
    "full": frozenset(SCOPES),
    "read_only": frozenset(scope for scope in SCOPES if scope.endswith(":read")),
}
ADMIN = "admin"


def expand_scopes(scopes: list[str]) -> frozenset[str]:
    expanded: set[str] = set()
    for scope in scopes:
        expanded |= SHORTHANDS.get(scope, {scope})
    return frozenset(expanded)


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in SCOPES and s not in SHORTHANDS and s != ADMIN]


@dataclass(frozen=True)
class Principal:
    key_id: str
    organization_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes
