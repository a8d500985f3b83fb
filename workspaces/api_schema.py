"""OpenAPI (drf-spectacular): a schema that says what the API really answers.

``ApiAutoSchema`` is the schema class of every organization API view (``WorkspaceAPIView``).
On top of the token scopes (``accounts.schema.ScopedAutoSchema``) it

- lists only the methods a view serves (``required_roles``): an inherited handler the view
  does not allow answers 405 and is not an operation;
- adds the error answers every authenticated endpoint can give, unless the view declares
  its own: 401 (no or bad credentials), 403 (role, scope, or a token where tokens are
  refused), 404 (an object or a workspace the caller cannot see: existence is not
  revealed), 400 (a request body or query parameter refused), 415 (a body of a media
  type the operation does not read), 503 (Redis unavailable, with Retry-After);
- describes a paginated list (a view with ``pagination_class``) as the page the API
  sends: ``count``, ``next``, ``previous`` and ``results``.

Views declare what is special to them with ``@extend_schema``: plan limits (402) and the
per-day rate (429) with ``QUOTA_ERROR``, an upload too large (413) with ``ERROR``, the
storage of originals or Redis unavailable (503) with ``UNAVAILABLE``, and ``RETRY_AFTER``
where 429/503 occur.
tests/test_openapi.py validates the schema and fuzzes the API with it.
"""

from __future__ import annotations

import uritemplate
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from accounts.schema import ScopedAutoSchema
from workspaces.access import OWNER


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    code = serializers.CharField(required=False, help_text="A machine-readable reason.")


class QuotaErrorSerializer(ErrorSerializer):
    limit = serializers.CharField(help_text="The plan limit reached, e.g. questions_per_day.")
    usage = serializers.IntegerField()
    allowed = serializers.IntegerField()
    plan = serializers.CharField()


ERROR = OpenApiResponse(ErrorSerializer, description="Refused; ``detail`` says why.")
QUOTA_ERROR = OpenApiResponse(
    QuotaErrorSerializer,
    description=(
        "402: a plan limit is exceeded. 429: the per-day rate is reached, with Retry-After "
        "until midnight UTC."
    ),
)
UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description=(
        "A service this needs (the storage of originals, Redis) is unavailable right now; "
        "nothing was changed. Try again after Retry-After seconds."
    ),
)
# Sent with 429 (the per-day rate) and 503 (storage unavailable).
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)
WORKSPACE = OpenApiParameter(
    "workspace", str, description="A workspace's slug; by default your default workspace."
)

# A refused body or parameter: field names (or ``non_field_errors``/``detail``) mapped to
# messages (nested for nested fields), or a plain list of messages.
VALIDATION_ERROR_SCHEMA = {
    "oneOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"type": "string"}},
    ],
    "description": "Each refused field with its messages, or a list of messages.",
}

_ERROR_DESCRIPTIONS = {
    "400": "The request body or a parameter is refused; each field says why.",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "Your role or the token's scopes do not allow this.",
    "404": "No such object or workspace, or one you may not see.",
    "415": "The request body's media type is not one this operation reads.",
    "503": (
        "Redis (rate limits, plan limits, the work queue) is unavailable right now; "
        "try again after Retry-After seconds."
    ),
}


class ApiAutoSchema(ScopedAutoSchema):
    """The organization API's schema class: see the module docstring."""

    def is_excluded(self) -> bool:
        served = getattr(self.view, "required_roles", None)
        if served is not None and self.method not in served:
            return True
        return super().is_excluded()

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        # A read in a workspace takes it as ``?workspace=`` (WorkspaceAPIView.initial);
        # writes name it in their body's ``workspace`` field.
        named = {getattr(parameter, "name", None) for parameter in parameters}
        if self.method == "GET" and self._in_workspace() and "workspace" not in named:
            parameters = [*parameters, WORKSPACE]
        return parameters

    def _in_workspace(self) -> bool:
        role = getattr(self.view, "required_roles", {}).get(self.method)
        return getattr(self.view, "workspace_from_request", False) and role != OWNER

    def get_request_serializer(self):
        if self.method == "DELETE":
            return None  # unless the view's @extend_schema(request=...) declares one
        return super().get_request_serializer()

    def _get_request_body(self, direction="request"):
        # drf-spectacular documents a body for POST, PUT and PATCH only; a DELETE that
        # reads one (deleting the organization asks for ``confirm``) declares it with
        # ``@extend_schema(request=...)``, and the schema must say so.
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)
        self.method = "PUT"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._error_response(code)
        for code, response in responses.items():
            content = response.get("content", {})
            if code >= "400" and "application/json" in content:
                # Errors are JSON whatever the view renders (WorkspaceAPIView.handle_exception).
                response["content"] = {"application/json": content["application/json"]}
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        # 503: every authenticated request counts against its token's rate in Redis, so
        # any operation answers 503 while Redis is down (infra/unavailable.py).
        codes = ["401", "403", "503"]
        in_workspace = self._in_workspace()
        has_body = self.method in ("POST", "PUT", "PATCH", "DELETE") and bool(
            self._get_request_body()
        )
        if uritemplate.variables(self.path) or in_workspace:
            codes.append("404")
        if has_body or self._has_query_parameters() or in_workspace:
            codes.append("400")
        if has_body:
            codes.append("415")
        return codes

    def _has_query_parameters(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())

    def _error_response(self, code: str) -> dict:
        if code == "400":
            schema = self._component("ValidationError", VALIDATION_ERROR_SCHEMA)
        else:
            schema = self.resolve_serializer(ErrorSerializer, "response").ref
        response = {
            "content": {"application/json": {"schema": schema}},
            "description": _ERROR_DESCRIPTIONS[code],
        }
        if code == "503":
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before trying again.",
                }
            }
        return response

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref
