"""Property-based tests of the JSON API against its own OpenAPI document (schemathesis).

The schema is loaded from the running app (``/openapi.json``); every documented operation gets
generated requests, valid and invalid, and each response must be no server error, have a
documented status code and content type, and match the documented schema.

schemathesis' pytest loader (``schemathesis.pytest.from_fixture``) fails under pytest 9 (it reads
``request.node._nodeid``), so each operation runs its cases through ``operation.as_strategy()``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webmap.openapi import DOCUMENT

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
FEW = {"/api/v1/areas.geojson": 10}  # one enum parameter; a ward or LSOA answer is 1-2 MB
OPERATIONS = [(path, method.upper()) for path, item in DOCUMENT["paths"].items() for method in item]


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_operation_keeps_its_contract(api_schema, path, method):
    operation = api_schema[path][method]

    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    @settings(max_examples=FEW.get(path, 50), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        # the WSGI transport does not decode compressed bodies (webmap/compression.py): ask for none
        case.call_and_validate(checks=CHECKS, headers={"Accept-Encoding": "identity"})

    check()


def test_every_operation_documents_the_400_for_control_characters():
    # any path or query with a control character is refused before the view (webmap/security.py)
    assert [(p, m) for p, m in OPERATIONS
            if "400" not in DOCUMENT["paths"][p][m.lower()]["responses"]] == []
