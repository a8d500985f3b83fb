"""Signup at the platform's address, and the owner's "Usage & plan" page."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tenants import metering, quotas, signup
from tenants.forms import SignupForm
from tenants.models import LIMITS, Organization
from workspaces.access import owner_check


def organization_url(request, organization: Organization) -> str:
    """The organization's own address, on the scheme and port the platform is served at."""
    host = request.get_host()
    port = f":{host.rsplit(':', 1)[1]}" if ":" in host else ""
    domain = organization.domains.filter(is_primary=True).values_list("domain", flat=True).first()
    return f"{request.scheme}://{domain}{port}"


def platform_home(request):
    """The platform address's home page (with the way to sign up, where it is open)."""
    return render(request, "public/home.html", {"signup_enabled": settings.SIGNUP_ENABLED})


@require_http_methods(["GET", "POST"])
def signup_view(request):
    if not settings.SIGNUP_ENABLED:
        raise Http404("Signup is not open here.")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        try:
            signup.signup_throttle(ip=request.META.get("REMOTE_ADDR", ""))
        except signup.SignupThrottled:
            response = render(
                request,
                "tenants/signup.html",
                {
                    "form": form,
                    "throttled": True,
                    "rate": settings.SIGNUP_RATE_PER_HOUR,
                },
                status=429,
            )
            response["Retry-After"] = "3600"
            return response
        if form.is_valid():
            verify_url = request.build_absolute_uri(
                reverse("signup-verify", args=["TOKEN"])
            ).replace("TOKEN", "{token}")
            try:
                created = signup.signup_submit(**form.cleaned_data, verify_url=verify_url)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                return render(
                    request,
                    "tenants/signup_sent.html",
                    {"email": created.owner.email, "organization": created.organization},
                    status=201,
                )
        return render(request, "tenants/signup.html", {"form": form}, status=400)
    return render(request, "tenants/signup.html", {"form": form})


def signup_verify_view(request, token: str):
    if not settings.SIGNUP_ENABLED:
        raise Http404("Signup is not open here.")
    try:
        organization = signup.signup_verify(token=token)
    except signup.VerificationInvalid as exc:
        return render(request, "tenants/signup_verified.html", {"error": str(exc)}, status=400)
    return render(
        request,
        "tenants/signup_verified.html",
        {
            "organization": organization,
            "login_url": organization_url(request, organization)
            + reverse("accounts:login", urlconf=settings.ROOT_URLCONF),
        },
    )


def usage_view(request):
    """The organization's plan, its limits against current usage, and recent days."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    owner_check(request.user)
    organization = connection.tenant
    limits = quotas.limits_for(organization)
    levels = quotas.usage_levels(organization)
    rows = [
        {
            "name": limit,
            "label": quotas.LABELS[limit],
            "usage": None if limit == "max_upload_bytes" else levels[limit],
            "allowed": limits[limit],
            "percent": (
                min(100, round(100 * levels[limit] / limits[limit]))
                if limits[limit] and limit != "max_upload_bytes"
                else None
            ),
        }
        for limit in LIMITS
    ]
    return render(
        request,
        "tenants/usage.html",
        {
            "organization": organization,
            "plan": limits.plan,
            "rows": rows,
            "days": metering.usage_recent(organization, days=30),
        },
    )
