"""Database refusals become client errors with a detail, never a 500."""

from __future__ import annotations

from sqlalchemy import text

from picket.api.deps import SessionDep
from picket.db.accounts import create_organization
from tests.api.conftest import Api


def test_a_duplicate_is_409(api: Api) -> None:
    @api.app.get("/_test/duplicate-region")
    def duplicate(session: SessionDep) -> None:
        session.execute(
            text("INSERT INTO regions (name, created_at) VALUES ('eu-west', '2026-01-01')")
        )

    api.organization("A")  # makes region eu-west
    response = api.client.get("/_test/duplicate-region")
    assert response.status_code == 409
    assert response.json() == {"detail": "conflicts with an existing resource; retry"}


def test_a_value_the_database_refuses_is_422(api: Api) -> None:
    @api.app.get("/_test/nul-byte")
    def nul_byte(session: SessionDep) -> None:
        create_organization(session, "a\x00b")

    response = api.client.get("/_test/nul-byte")
    with api.session() as session:
        dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        assert response.status_code == 422
        assert response.json()["detail"].startswith("a value cannot be stored")
    else:
        # SQLite stores NUL bytes; nothing to refuse.
        assert response.status_code == 200
