"""The owner deletes their organization: a confirmation page, and the same over the API.

Both ask the owner to type the organization's slug, then call
``tenants.services.organization_delete``. The API refuses every API token (deleting an
organization needs a signed-in person), as a method without a declared scope does.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.audit import audit_context
from accounts.scopes import SIGNED_IN_ONLY
from tenants.services import organization_delete
from workspaces.access import OWNER, owner_check
from workspaces.api_base import WorkspaceAPIView

CONFIRM_HELP = "Type the organization's short name ({slug}) to confirm."


class DeleteInput(serializers.Serializer):
    confirm = serializers.CharField(help_text="The organization's slug, typed to confirm.")


class OrganizationView(WorkspaceAPIView):
    """DELETE: erase this organization and everything in it (its owner only; no tokens).

    Answers 204; 400 unless ``confirm`` is the organization's slug.
    """

    required_roles = {"DELETE": OWNER}
    required_scopes = {"DELETE": SIGNED_IN_ONLY}

    @extend_schema(request=DeleteInput, responses={204: None})
    def delete(self, request):
        organization = request.tenant
        data = DeleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["confirm"].strip() != organization.slug:
            raise serializers.ValidationError(
                {"confirm": [CONFIRM_HELP.format(slug=organization.slug)]}
            )
        organization_delete(organization=organization, audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@login_required
@require_http_methods(["GET", "POST"])
def organization_delete_view(request):
    """The owner's "delete this organization" page: type the slug, then it is gone."""
    owner_check(request.user)
    organization = request.tenant
    context = {"organization": organization, "error": ""}
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() == organization.slug:
            organization_delete(organization=organization, audit=audit_context(request))
            # The schema (sessions included) is gone: a page that needs nothing of it.
            return render(request, "tenants/organization_deleted.html", context)
        context["error"] = CONFIRM_HELP.format(slug=organization.slug)
        return render(request, "tenants/organization_delete.html", context, status=400)
    return render(request, "tenants/organization_delete.html", context)
