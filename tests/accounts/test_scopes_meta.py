"""Every API view declares, per method it serves, the role and the token scope it needs;
the OpenAPI schema documents the bearer scheme and each operation's scope."""

from __future__ import annotations

from django.urls import URLPattern
from drf_spectacular.views import SpectacularAPIView

from accounts.scopes import SIGNED_IN_ONLY, Scope
from workspaces.api_base import WorkspaceAPIView


def _api_views():
    from opaa.urls import api_v1

    for pattern in api_v1:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class
        if issubclass(view, SpectacularAPIView):
            continue
        yield pattern.name, view


def test_every_api_view_declares_a_scope_and_role_for_each_method():
    missing = []
    for name, view in _api_views():
        assert issubclass(view, WorkspaceAPIView), f"{name} must extend WorkspaceAPIView"
        for method in view.http_method_names:
            if method in ("head", "options") or not hasattr(view, method):
                continue
            verb = method.upper()
            if verb not in view.required_roles:
                continue  # not served: the base view answers 405
            scope = view.required_scopes.get(verb)
            if scope not in [*Scope.values, SIGNED_IN_ONLY]:
                missing.append(f"{name} {verb}")
        assert view.required_roles, f"{name} serves no method"
    assert missing == [], "declare these in required_scopes"


def test_schema_documents_bearer_scheme_and_scopes(world, alice_api):
    response = alice_api.get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    documents = schema["paths"]["/api/v1/documents"]
    assert documents["get"]["x-required-scope"] == "documents:read"
    assert {"apiToken": ["documents:read"]} in documents["get"]["security"]
    assert {"apiToken": ["documents:write"]} in documents["post"]["security"]
    batch = schema["paths"]["/api/v1/documents/batch"]["post"]
    assert batch["x-required-scope"] == "documents:write"
    assert "207" in batch["responses"]
    assert schema["paths"]["/api/v1/ask"]["post"]["x-required-scope"] == "ask"
    assert schema["paths"]["/api/v1/audit"]["get"]["x-required-scope"] == "audit:read"
    tokens = schema["paths"]["/api/v1/tokens"]["post"]
    assert "x-required-scope" not in tokens
    assert all("apiToken" not in requirement for requirement in tokens["security"])
