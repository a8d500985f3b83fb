"""The organization's status at its own address, and plan limits shown to people.

``OrganizationStatusMiddleware`` runs right after django-tenants picked the
organization: a suspended one answers every request with 403 (a page, or JSON under
``/api/``), one awaiting email verification with a "check your email" page; the
health probes are answered before this middleware. It also renders ``QuotaExceeded``
raised by a portal view (the API renders its own, as JSON).
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

from tenants.models import Organization, OrganizationStatus
from tenants.quotas import QuotaExceeded


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
            message = "This organization is suspended. Contact the OPAA team to resume it."
            if organization.suspension_reason:
                message += f" Reason: {organization.suspension_reason}"
        else:
            code = "organization_not_verified"
            message = (
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

    def process_exception(self, request, exception):
        if not isinstance(exception, QuotaExceeded):
            return None
        # A page the browser navigates to asks for HTML; the portal's scripts (fetch,
        # e.g. the streamed answer) do not, and read ``detail`` from JSON.
        if _wants_json(request) or "text/html" not in request.headers.get("Accept", ""):
            response = JsonResponse(exception.payload, status=exception.status_code)
        else:
            response = render(
                request,
                "tenants/quota_exceeded.html",
                {"quota": exception.payload, "status": exception.status_code},
                status=exception.status_code,
            )
        if exception.retry_after:
            response["Retry-After"] = str(exception.retry_after)
        return response
