"""The OpenAPI states every rule the API enforces (issue 11): a body its schema accepts is
never refused with 422, one it refuses always is, and every route documents its errors."""

import re
import sys

import pytest
from jsonschema import Draft202012Validator

from services.common.inputs import BLANKS
from services.common.registry import REGISTRY
from tests.unit.fakes import with_key

VOTERS = ["voter-strict", "voter-lenient", "voter-balanced"]
REQUEST = {"/create-content": "ContentRequest", "/research-parallel": "ResearchRequest",
           "/consensus": "ConsensusRequest", "/delegate": "DelegateRequest", "/collect": "CollectRequest"}


@pytest.fixture
def api(make_orchestrator):
    return make_orchestrator(allow_fault_injection="true")


@pytest.fixture
def openapi(api):
    return api.client.get("/openapi.json").json()


def body_schema(openapi: dict, path: str) -> Draft202012Validator:
    """The request body's schema, with the components its references point into."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{REQUEST[path]}", **openapi})


@pytest.mark.parametrize("path, body", [
    ("/consensus", {"content": "c", "task": "review", "labels": ["ok", "ok"]}),
    ("/consensus", {"content": "c", "task": "review", "labels": ["ok", " ok"]}),
    ("/consensus", {"content": "c", "task": "review", "labels": ["ok", "no"]}),
    ("/consensus", {"content": "c", "task": "review", "voters": ["voter-x"]}),
    ("/consensus", {"content": "c", "task": "review", "voters": ["voter-strict", "voter-strict"]}),
    ("/consensus", {"content": "c", "task": "review", "voters": ["voter-strict"], "quorum": 2}),
    ("/consensus", {"content": "c", "task": "review", "voters": VOTERS[:2], "quorum": 2}),
    ("/consensus", {"content": "c", "task": "review", "quorum": 4}),
    ("/consensus", {"content": "c", "task": "review", "quorum": 3.0}),
    ("/consensus", {"content": "c", "task": "review", "quorum": "3"}),
    ("/consensus", {"content": "c", "task": "review", "quorum": True}),
    ("/research-parallel", {"query": "q", "deadline_seconds": "30"}),
    ("/research-parallel", {"query": "q", "deadline_seconds": True}),
    ("/research-parallel", {"query": "q", "deadline_seconds": 30}),
    ("/research-parallel", {"query": "q", "faults": {"web-researcher": {"fail": "yes"}}}),
    ("/research-parallel", {"query": "q", "faults": {"writer-agent": {"fail": True}}}),
    ("/research-parallel", {"query": "q", "faults": {"web-researcher": {"delay_seconds": 2}}}),
    ("/create-content", {"topic": "\u3000\x1c\t"}),
    ("/create-content", {"topic": "x" * 500 + " "}),
    ("/create-content", {"topic": " " + "x" * 499}),
    ("/delegate", {"goal": "\ufeff"}),
    ("/collect", {"source": "s", "payload": {}, "faults": {"archiver": {"fail": True}}}),
    ("/collect", {"source": "s", "payload": {}, "faults": {"archiver": {"delay_seconds": -1}}}),
    ("/collect", {"source": "s", "payload": {}, "faults": {"writer-agent": {}}}),
])
def test_a_body_is_refused_with_422_exactly_when_the_openapi_refuses_it(api, openapi, path, body):
    valid = body_schema(openapi, path).is_valid(body)
    resp = api.client.post(path, json=body, headers=with_key("write"))
    assert (resp.status_code != 422) == valid, (valid, resp.status_code, resp.text)


def test_faults_name_the_agents_of_their_pattern_and_collect_names_the_subscribers(openapi):
    schemas = openapi["components"]["schemas"]
    for name, pattern in [("ContentRequest", "sequential"), ("ResearchRequest", "parallel"),
                          ("ConsensusRequest", "consensus"), ("DelegateRequest", "hierarchical")]:
        faults = schemas[name]["properties"]["faults"]["anyOf"][0]
        assert faults["propertyNames"]["enum"] == [m.app_id for m in REGISTRY.members(pattern)], name
    collect = schemas["CollectRequest"]["properties"]["faults"]["anyOf"][0]
    assert collect["propertyNames"]["enum"] == ["analyser", "notifier", "archiver"]


def test_the_blanks_the_schema_names_are_those_python_strips():
    blank = re.compile(f"[{BLANKS}]")
    assert {c for c in map(chr, range(sys.maxunicode + 1)) if blank.fullmatch(c)} == {
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


GUARDED = {"401", "403", "413", "429", "503"}


def test_every_operation_documents_its_errors_with_one_error_body(openapi):
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {code for code in responses if code[0] in "45"}
            if path != "/health":
                assert errors >= GUARDED, (method, path)
            for code in errors - ({"503"} if path == "/health" else set()):
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    assert {"404", "409"} <= set(openapi["paths"]["/dead-letters/{dead_letter_id}/replay"]["post"]["responses"])
    assert "400" in openapi["paths"]["/create-content"]["post"]["responses"]
