"""OpenAPI (drf-spectacular): the bearer-token security scheme and each method's scope."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from accounts.scopes import SIGNED_IN_ONLY

SCHEME = "apiToken"


def _declared_scope(auto_schema: AutoSchema) -> str | None:
    scopes = getattr(auto_schema.view, "required_scopes", {})
    method = auto_schema.method.upper()
    return scopes.get("GET" if method == "HEAD" else method)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "opaa_pat_... (personal) or opaa_sat_... (service account)",
            "description": (
                "A scoped API token. Each operation names the scope it needs; the token's "
                "rights are its scopes intersected with its owner's current roles."
            ),
        }

    def get_security_requirement(self, auto_schema):
        scope = _declared_scope(auto_schema)
        if scope is None or scope == SIGNED_IN_ONLY:
            return None  # tokens are refused here
        # Scopes in a bearer requirement are allowed from OpenAPI 3.1 on ("role names").
        return {SCHEME: [scope]}


class ScopedAutoSchema(AutoSchema):
    """Adds ``x-required-scope`` and a sentence about it to every operation."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        scope = _declared_scope(self)
        if scope == SIGNED_IN_ONLY or scope is None:
            note = "API tokens cannot call this operation; sign in (basic or session)."
        else:
            note = f"Token scope: `{scope}`."
            operation["x-required-scope"] = scope
        operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()
        return operation
