"""Add a source: the portal's form and the API's ``POST /api/v1/sources`` (workspace admins).

Both call ``source_setup.source_setup``; secrets are accepted, stored encrypted, and
never sent back (the form does not even re-fill them after an error).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.audit import AuditAction, audit_source
from accounts.scopes import Scope
from ingestion.models import Source
from ingestion.source_setup import FORMS, source_setup
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import QUOTA_ERROR
from workspaces.models import Role
from workspaces.portal import workspace_view


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@workspace_view(Role.ADMIN)
def source_new(request):
    kind = request.GET.get("kind") or next(iter(FORMS))
    form = FORMS.get(kind)
    if form is None:
        messages.error(
            request, _("Sources of kind %(kind)r cannot be set up here.") % {"kind": kind}
        )
        return redirect(f"/sources/?workspace={request.workspace.slug}")
    errors: dict[str, list[str]] = {}
    values = {"schedule": "0 * * * *"}
    if request.method == "POST":
        post = request.POST
        values = {key: post.get(key, "") for key in post if key not in {"csrfmiddlewaretoken"}}
        for field in form.secrets:
            values.pop(f"secret_{field.name}", None)  # never echoed back
        try:
            source = source_setup(
                workspace=request.workspace,
                kind=kind,
                name=post.get("name", ""),
                config={field.name: post.get(f"config_{field.name}", "") for field in form.config},
                secrets={
                    field.name: post.get(f"secret_{field.name}", "") for field in form.secrets
                },
                paths=_lines(post.get("paths", "")),
                readers=_lines(post.get("readers", "")),
                include_globs=_lines(post.get("include_globs", "")),
                exclude_globs=_lines(post.get("exclude_globs", "")),
                schedule=post.get("schedule", ""),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            audit_source(
                action=AuditAction.SOURCE_CREATED, request=request, source=source, kind=kind
            )
            messages.success(
                request,
                _("Added %(name)s; its first sync runs on schedule.") % {"name": source.name},
            )
            return redirect(f"/sources/?workspace={request.workspace.slug}")
    config_rows = [
        (field, f"config_{field.name}", values.get(f"config_{field.name}", field.default))
        for field in form.config
    ]
    return render(
        request,
        "ingestion/source_new.html",
        {
            "form": form,
            "kinds": FORMS.values(),
            "values": values,
            "config_rows": config_rows,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


class SourceCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(FORMS))
    name = serializers.CharField(max_length=200)
    config = serializers.DictField(required=False, default=dict)
    secrets = serializers.DictField(required=False, default=dict, write_only=True)
    paths = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list, max_length=50
    )
    readers = serializers.ListField(
        child=serializers.CharField(max_length=320), required=False, default=list, max_length=200
    )
    include_globs = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list, max_length=50
    )
    exclude_globs = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list, max_length=50
    )
    schedule = serializers.CharField(required=False, default="0 * * * *", max_length=100)


class SourceOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField(source="connector.kind")
    config = serializers.DictField(source="connector.config")
    paths = serializers.ListField(child=serializers.CharField())
    readers = serializers.ListField(child=serializers.CharField())
    include_globs = serializers.ListField(child=serializers.CharField())
    exclude_globs = serializers.ListField(child=serializers.CharField())
    schedule = serializers.CharField()
    enabled = serializers.BooleanField()
    next_run_at = serializers.DateTimeField()


class SourceCreateView(WorkspaceAPIView):
    """Add a source with its connector to the workspace (workspace admin; token scope
    ``connectors:admin``). Answers 201 with the source (secrets are never returned) or
    400 naming the field that cannot work."""

    required_roles = {"POST": Role.ADMIN}
    required_scopes = {"POST": Scope.CONNECTORS_ADMIN}

    def scoped_queryset(self):
        return Source.objects.all()

    @extend_schema(
        request=SourceCreateSerializer, responses={201: SourceOutSerializer, 402: QUOTA_ERROR}
    )
    def post(self, request):
        body = SourceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source = source_setup(workspace=self.workspace, **body.validated_data)
        audit_source(
            action=AuditAction.SOURCE_CREATED,
            request=request,
            source=source,
            kind=body.validated_data.get("kind", ""),
        )
        return Response(SourceOutSerializer(source).data, status=status.HTTP_201_CREATED)
