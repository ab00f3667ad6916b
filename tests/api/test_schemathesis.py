"""Property-based run of the whole API against its own OpenAPI schema (SQLite).

Bounded: a few examples per operation, no shrinking, so it stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from picket.testing import DatabaseFactory
from tests.api.conftest import Api, Org, make_api

EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def seeded(database_factory: DatabaseFactory) -> Iterator[tuple[Api, Org, str]]:
    for api in make_api(database_factory.sqlite()):
        org = api.organization("A")
        api.organization("B")
        yield api, org, api.key(org, ["full", "admin"])


def _cases(operation: Any) -> Any:
    # Valid inputs, and inputs that break the schema (which must be 4xx, never 5xx).
    return st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )


def test_api_conforms_to_its_schema(seeded: tuple[Api, Org, str]) -> None:
    api, org, key = seeded
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=_cases(operation))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            # Real ids reach the handlers behind the 404; deletions keep random ids so
            # the resources stay for the other operations.
            if case.path_parameters and case.method.upper() != "DELETE":
                for name in case.path_parameters:
                    if name in org.ids:
                        case.path_parameters[name] = org.ids[name]
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
