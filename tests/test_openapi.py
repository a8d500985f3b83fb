"""The OpenAPI schema is valid and true: what it declares is what the API answers.

Three layers: the generated schema validates as OpenAPI (and drf-spectacular has nothing to
warn about); its operations are exactly the methods each path serves; and schemathesis
fuzzes every operation in-process (Django's WSGI handler, inside the test's transaction)
with an owner token and a read-only token. The fuzzing asserts no 5xx, responses that
conform to the schema (status code declared, content type, body), and that the read-only
token never gets a write (POST/PUT/PATCH/DELETE) accepted. docs/security.md ("API schema
and fuzzing") says what runs.
"""

from __future__ import annotations

import json

import pytest
from django.test.client import ClientHandler
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from accounts.scopes import Scope
from tests.conftest import filesystem_source, named_file

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
METHODS = {"GET", *WRITES}

# Examples per operation and generation mode. Small on purpose: the whole fuzz of ~37
# operations with two tokens stays near a minute on two busy cores; derandomized, so a
# run is reproducible and CI does not flake on a newly drawn example.
POSITIVE_EXAMPLES = 6
NEGATIVE_EXAMPLES = 3

READ_ONLY_SCOPES = [Scope.DOCUMENTS_READ, Scope.SEARCH_READ, Scope.AUDIT_READ]


def _schema(client) -> dict:
    response = client.get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method.upper() in METHODS:
                yield path, method.upper(), operation


# --- the schema itself -------------------------------------------------------------------


def test_schema_is_valid_openapi_and_generates_without_warnings(world):
    GENERATOR_STATS.reset()
    generated = SchemaGenerator(urlconf="opaa.urls").get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned or failed while generating the schema"
    validate(json.loads(json.dumps(generated, default=str)))


def test_schema_declares_the_errors_every_operation_can_answer(alice_api):
    schema = _schema(alice_api)
    missing = [
        f"{method} {path} {code}"
        for path, method, operation in _operations(schema)
        for code in ("401", "403")
        if code not in operation["responses"]
    ]
    assert missing == []
    document = schema["paths"]["/api/v1/documents/{id}"]
    for method in ("get", "patch", "delete"):
        assert {"403", "404"} <= set(document[method]["responses"])
    assert "400" in document["patch"]["responses"]
    ask = schema["paths"]["/api/v1/ask"]["post"]["responses"]
    assert {"400", "402", "429"} <= set(ask)
    upload = schema["paths"]["/api/v1/documents"]["post"]["responses"]
    assert {"413", "503"} <= set(upload)
    assert "Retry-After" in upload["503"]["headers"]
    not_json = [
        f"{method} {path} {code}"
        for path, method, operation in _operations(schema)
        for code, response in operation["responses"].items()
        if code >= "400" and set(response.get("content", {})) != {"application/json"}
    ]
    assert not_json == [], "errors are JSON (WorkspaceAPIView.handle_exception)"


def test_schema_describes_paginated_lists_as_pages(alice_api):
    schema = _schema(alice_api)
    components = schema["components"]["schemas"]
    for path in ("documents", "conversations", "feedback", "tokens", "audit", "members"):
        get = schema["paths"][f"/api/v1/{path}"]["get"]
        body = get["responses"]["200"]["content"]["application/json"]["schema"]
        page = components[body["$ref"].rsplit("/", 1)[-1]]
        assert set(page["properties"]) == {"count", "next", "previous", "results"}, path
        assert {"limit", "offset"} <= {p["name"] for p in get["parameters"]}, path
        if path not in ("tokens", "audit"):  # the others read in one workspace
            assert "workspace" in {p["name"] for p in get["parameters"]}, path
    response = alice_api.get("/api/v1/documents")
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_schema_lists_exactly_the_methods_each_path_serves(alice_api):
    schema = _schema(alice_api)
    assert set(schema["paths"]["/api/v1/conversations/{id}/export"]) == {"get"}
    wrong = []
    for path, item in schema["paths"].items():
        url = path.replace("{id}", "1").replace("{slug}", "x").replace("{workspace}", "x")
        url = url.replace("{token}", "x")
        for method in METHODS - {m.upper() for m in item}:
            response = alice_api.generic(method, url)
            if response.status_code != 405:
                wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == [], "the schema omits these methods, or the API serves undeclared ones"


def test_api_errors_are_json_as_the_schema_declares(alice_api):
    unrouted = alice_api.get("/api/v1/documents/not-a-number")
    assert unrouted.status_code == 404
    assert unrouted["Content-Type"] == "application/json"
    assert unrouted.json() == {"detail": "Not found."}
    refused = alice_api.get("/api/v1/audit", {"format": "csv", "since": "yesterday"})
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert "since" in refused.json()
    # Outside the API a missing page is still a page.
    assert "text/html" in alice_api.get("/no-such-page/")["Content-Type"]


# --- fuzzing with schemathesis -------------------------------------------------------------


class _InProcessApp:
    """Django as a WSGI app for schemathesis, inside the test's transaction.

    Django's own WSGIHandler closes the database connection after each request (the
    test's transaction with it); the test client's handler does not, so every fuzzed
    request sees the fixtures' rows and everything is rolled back at the end.
    """

    def __init__(self):
        self.handler = ClientHandler(enforce_csrf_checks=True)

    def __call__(self, environ, start_response):
        response = self.handler(environ)
        headers = [*response.items()]
        headers += [("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values()]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        # The handler already closed the response (as a WSGI server would); returning it
        # would let the server close it again, and that closes the database connection.
        return response.streaming_content if response.streaming else [response.content]


@pytest.fixture
def fuzz_world(acme, alice_api, upload_indexed, tmp_path, make_token):
    """Objects for the path parameters, so fuzzing reaches real ones as well as 404s."""
    document = upload_indexed(alice_api, "handbook.txt", b"Travel: the per diem is 40 EUR.")
    conversation = alice_api.post("/api/v1/conversations", {}, format="json").json()["id"]
    asked = alice_api.post(
        "/api/v1/ask",
        {"question": "What is the per diem?", "conversation": conversation},
        format="json",
    )
    assert asked.status_code == 200, asked.content
    shared = alice_api.patch(
        f"/api/v1/conversations/{conversation}", {"shared": True}, format="json"
    )
    group = alice_api.post(
        "/api/v1/groups", {"name": "Finance", "members": ["bob@acme.example"]}, format="json"
    )
    assert group.status_code == 201, group.content
    members = alice_api.get("/api/v1/members", {"workspace": "sales"}).json()["results"]
    source = filesystem_source(tmp_path)
    known = {
        "/api/v1/documents/{id}": {"id": document["id"]},
        "/api/v1/documents/{id}/shares": {"id": document["id"]},
        "/api/v1/documents/{id}/shares/{workspace}": {"id": document["id"], "workspace": "sales"},
        "/api/v1/conversations/{id}": {"id": conversation},
        "/api/v1/conversations/{id}/export": {"id": conversation},
        "/api/v1/conversations/shared/{token}": {"token": shared.json()["share_token"]},
        "/api/v1/groups/{slug}": {"slug": "finance"},
        "/api/v1/groups/{slug}/roles/{workspace}": {"slug": "finance", "workspace": "sales"},
        "/api/v1/members/{id}": {"id": members[0]["id"]},
        "/api/v1/sources/{id}": {"id": source.pk},
        "/api/v1/sources/{id}/sync": {"id": source.pk},
    }
    tokens = {
        "owner": make_token(acme, "alice@acme.example"),
        "read-only": make_token(acme, "alice@acme.example", scopes=READ_ONLY_SCOPES),
    }
    return _schema(alice_api), known, tokens


def _fuzz(raw_schema: dict, known: dict, token: str, *, read_only: bool):
    """Fuzz every operation; return the problems found and each operation's statuses."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_dict(raw_schema)
    app = _InProcessApp()
    headers = {"Authorization": f"Bearer {token}"}
    problems: list[str] = []
    statuses: dict[str, set[int]] = {}

    def exercise(case) -> None:
        response = case.call(base_url="http://acme.localhost", headers=headers, app=app)
        label = f"{case.method} {case.formatted_path} -> {response.status_code}"
        statuses.setdefault(case.operation.label, set()).add(response.status_code)
        if read_only and case.method.upper() in WRITES and 200 <= response.status_code < 300:
            problems.append(f"write accepted with the read-only token: {label}")
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as failures:
            problems.extend(f"{label}: {failure.title}" for failure in failures.exceptions)

    operations = [result.ok() for result in schema.get_all_operations()]
    # Reads first, deletions last, so operations still find the fixtures' objects as made.
    order = {"get": 0, "delete": 2}
    for operation in sorted(operations, key=lambda operation: order.get(operation.method, 1)):
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):
            strategy = operation.as_strategy(generation_mode=mode)
            if operation.path in known:
                fixed = operation.as_strategy(
                    generation_mode=mode, path_parameters=known[operation.path]
                )
                strategy = st.one_of(fixed, strategy)

            @settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case):
                exercise(case)

            run()
    return sorted(set(problems)), statuses


@pytest.mark.parametrize("who", ["owner", "read-only"])
def test_fuzzing_the_api_with_its_schema(fuzz_world, who):
    raw_schema, known, tokens = fuzz_world
    problems, statuses = _fuzz(raw_schema, known, tokens[who], read_only=who == "read-only")
    assert problems == [], "\n".join(problems)
    # Not vacuous: the token got through to real answers, not only to refusals.
    reads = ["GET /api/v1/documents", "GET /api/v1/search", "GET /api/v1/audit"]
    if who == "owner":  # every read a token may make (tokens are refused on /tokens)
        reads = [
            f"GET {path}"
            for path, method, operation in _operations(raw_schema)
            if method == "GET" and "x-required-scope" in operation
        ]
    unanswered = [label for label in reads if not any(200 <= s < 300 for s in statuses[label])]
    assert unanswered == [], statuses


def test_a_read_only_token_gets_no_write(fuzz_world, world):
    """The fuzzer's write check is not vacuous: the same request with the owner's token
    is accepted."""
    from tests.conftest import token_client

    _, known, tokens = fuzz_world
    conversation = known["/api/v1/conversations/{id}"]["id"]
    for who, expected in (("read-only", 403), ("owner", 204)):
        client = token_client(world.acme, tokens[who])
        assert client.delete(f"/api/v1/conversations/{conversation}").status_code == expected
    upload = {"file": named_file("a.txt", b"text")}
    client = token_client(world.acme, tokens["read-only"])
    assert client.post("/api/v1/documents", upload, format="multipart").status_code == 403
