"""The organization's status at its own address, and plan limits shown to people.

``OrganizationStatusMiddleware`` runs right after django-tenants picked the
organization: a suspended one answers every request with 403 (a page, or JSON under
``/api/``), one awaiting email verification with a "check your email" page; the
health probes are answered before this middleware. (A plan limit a portal view hits,
``QuotaExceeded``, is answered by ``infra.errors.ApplicationErrorMiddleware``.)
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tenants.models import Organization, OrganizationStatus


def _wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


class OrganizationStatusMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        organization = getattr(request, "tenant", None)
        if isinstance(organization, Organization) and organization.status != (
            OrganizationStatus.ACTIVE
        ):
            return self._blocked(request, organization)
        return self.get_response(request)

    def _blocked(self, request, organization: Organization):
        if organization.status == OrganizationStatus.SUSPENDED:
            code = "organization_suspended"
            message = _("This organization is suspended. Contact the OPAA team to resume it.")
            if organization.suspension_reason:
                message += " " + _("Reason: %(reason)s") % {
                    "reason": organization.suspension_reason
                }
        else:
            code = "organization_not_verified"
            message = _(
                "This organization is not yet confirmed: follow the link in the email sent "
                "to its owner at signup."
            )
        if _wants_json(request):
            return JsonResponse({"detail": message, "code": code}, status=403)
        return render(
            request,
            "tenants/blocked.html",
            {"organization": organization, "message": message, "code": code},
            status=403,
        )
