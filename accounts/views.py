"""Portal pages: API tokens (list, create, revoke) and the audit log (owner only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.audit import AuditAction, audit_context
from accounts.exports import export_response
from accounts.models import TokenKind
from accounts.scopes import Scope
from workspaces.access import is_admin_anywhere, owner_check, workspaces_readable

AUDIT_PAGE_SIZE = 50
DEFAULT_EXPIRY_DAYS = 90


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@never_cache
@login_required
def token_list(request):
    """List the caller's tokens; POST creates one and shows it this once."""
    created = None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            created = services.token_create(
                creator=request.user,
                kind=request.POST.get("kind", TokenKind.PERSONAL),
                name=request.POST.get("name", ""),
                scopes=request.POST.getlist("scopes"),
                workspace_slugs=request.POST.getlist("workspaces"),
                expires_in_days=_int(request.POST.get("expires_in_days", "")) or 0,
                audit=audit_context(request),
            )
        except ValidationError as exc:
            errors = exc.message_dict
    workspaces = list(workspaces_readable(request.user))
    tokens = selectors.tokens_with_workspaces(selectors.tokens_manageable(user=request.user))
    return render(
        request,
        "accounts/token_list.html",
        {
            "tokens": tokens,
            "created": created,
            "errors": errors,
            "scopes": Scope.choices,
            "workspaces": workspaces,
            "may_create_service": is_admin_anywhere(request.user),
            "max_days": settings.TOKEN_MAX_DAYS,
            "default_days": min(DEFAULT_EXPIRY_DAYS, settings.TOKEN_MAX_DAYS),
            "form": request.POST if errors else {},
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(selectors.tokens_manageable(user=request.user), pk=pk)
    services.token_revoke(token=token, audit=audit_context(request))
    messages.success(request, f"Revoked {token.name}.")
    return redirect("accounts:tokens")


@never_cache
@login_required
def audit_list(request):
    """The audit log with filters; ``?format=jsonl|csv`` downloads every match."""
    owner_check(request.user)
    try:
        filters = selectors.audit_filters_parse(request.GET)
    except ValidationError as exc:
        return render(
            request,
            "accounts/audit_list.html",
            {"errors": exc.message_dict, "actions": AuditAction.choices, "page": None},
            status=400,
        )
    events = selectors.audit_events(filters=filters)
    fmt = request.GET.get("format", "")
    if fmt in ("jsonl", "csv"):
        return export_response(events, fmt=fmt)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "accounts/audit_list.html",
        {
            "page": page,
            "filters": filters,
            "actions": AuditAction.choices,
            "query": query.urlencode(),
            "errors": {},
        },
    )
