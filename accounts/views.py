"""Portal pages: API tokens, workspace members (admins), access settings and the audit log
(the owner)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import members, selectors, services
from accounts.audit import AuditAction, audit_context
from accounts.exports import export_response
from accounts.models import AccessSettings, TokenKind
from accounts.scopes import Scope
from workspaces.access import is_admin_anywhere, object_for, owner_check, workspaces_readable
from workspaces.models import Membership, Role
from workspaces.portal import workspace_view

AUDIT_PAGE_SIZE = 50
DEFAULT_EXPIRY_DAYS = 90


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The session key holding a created token until the next page view shows it.
_CREATED_TOKEN = "token_just_created"  # noqa: S105 - a session key, not a secret


def _token_just_created(request) -> dict | None:
    """The token created by the POST before this page view, with its secret, once."""
    shown = request.session.pop(_CREATED_TOKEN, None)
    if not shown:
        return None
    token = selectors.tokens_manageable(user=request.user).filter(pk=shown["id"]).first()
    return {"token": token, "secret": shown["secret"]} if token else None


@never_cache
@login_required
def token_list(request):
    """List the caller's tokens; POST creates one and shows it this once.

    POST/redirect/GET: a created token's secret waits in the session for the next page
    view, which takes it out; reloading that page creates nothing and shows it no more.
    """
    created = _token_just_created(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            new = services.token_create(
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
        else:
            request.session[_CREATED_TOKEN] = {"id": new.token.pk, "secret": new.secret}
            return redirect("accounts:tokens")
    workspaces = list(workspaces_readable(request.user))
    max_days = services.token_max_days()
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
            "max_days": max_days,
            "default_days": min(DEFAULT_EXPIRY_DAYS, max_days),
            "form": request.POST if errors else {},
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(selectors.tokens_manageable(user=request.user), pk=pk)
    services.token_revoke(token=token, audit=audit_context(request))
    messages.success(request, _("Revoked %(name)s.") % {"name": token.name})
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


def _error_text(exc: ValidationError) -> str:
    return " ".join(m for messages_ in exc.message_dict.values() for m in messages_)


@never_cache
@workspace_view(Role.ADMIN)
def member_list(request):
    """The workspace's members; POST adds one (inviting someone new to the organization)."""
    if request.method == "POST":
        try:
            added = members.member_add(
                workspace=request.workspace,
                email=request.POST.get("email", ""),
                role=request.POST.get("role", Role.VIEWER),
                actor=request.user,
                base_url=request.build_absolute_uri("/"),
                audit=audit_context(request),
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            email = added.membership.user.email
            messages.success(
                request,
                (_("Invited %(email)s.") if added.invited else _("Added %(email)s."))
                % {"email": email},
            )
        return redirect(f"{request.path}?workspace={request.workspace.slug}")
    return _member_page(request)


def _member_page(request, *, workspace=None, error: str = "", status: int = 200):
    """The members page of ``workspace`` (default: the request's), with ``error`` shown."""
    workspace = workspace or request.workspace
    request.workspace = workspace
    rows = [
        (membership, members.invitation_pending(membership))
        for membership in members.members_of(workspace=workspace)
    ]
    return render(
        request,
        "accounts/member_list.html",
        {
            "members": rows,
            "pending_count": sum(pending for _, pending in rows),
            "roles": Role.choices,
            "error": error,
        },
        status=status,
    )


def _admin_membership(request, pk: int) -> Membership:
    """The membership if the user is an admin of its workspace; 404 for non-members."""
    return object_for(
        request.user, Membership.objects.select_related("user", "workspace"), pk=pk, role=Role.ADMIN
    )


@login_required
@require_POST
def member_role(request, pk: int):
    membership = _admin_membership(request, pk)
    try:
        members.member_role_change(
            membership=membership,
            role=request.POST.get("role", ""),
            actor=request.user,
            audit=audit_context(request),
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": membership.user.email, "role": membership.get_role_display()},
        )
    return redirect(f"/accounts/members/?workspace={membership.workspace.slug}")


@login_required
@require_POST
def member_remove(request, pk: int):
    membership = _admin_membership(request, pk)
    try:
        members.member_remove(
            membership=membership, actor=request.user, audit=audit_context(request)
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Removed %(email)s.") % {"email": membership.user.email})
    return redirect(f"/accounts/members/?workspace={membership.workspace.slug}")


@login_required
@require_POST
def invitation_resend(request, pk: int):
    """Send a pending invitation again (workspace admins)."""
    membership = _admin_membership(request, pk)
    try:
        members.invitation_resend(
            membership=membership,
            actor=request.user,
            base_url=request.build_absolute_uri("/"),
            audit=audit_context(request),
        )
    except ValidationError as exc:
        return _member_page(
            request, workspace=membership.workspace, error=_error_text(exc), status=400
        )
    messages.success(
        request, _("Sent the invitation to %(email)s again.") % {"email": membership.user.email}
    )
    return redirect(f"/accounts/members/?workspace={membership.workspace.slug}")


@login_required
@require_POST
def invitation_withdraw(request, pk: int):
    """Withdraw a pending invitation (workspace admins)."""
    membership = _admin_membership(request, pk)
    workspace, email = membership.workspace, membership.user.email
    try:
        members.invitation_withdraw(membership=membership, audit=audit_context(request))
    except ValidationError as exc:
        return _member_page(request, workspace=workspace, error=_error_text(exc), status=400)
    messages.success(request, _("Withdrew the invitation of %(email)s.") % {"email": email})
    return redirect(f"/accounts/members/?workspace={workspace.slug}")


@never_cache
@login_required
def access_settings(request):
    """The owner's access settings: the organization's maximum token lifetime."""
    owner_check(request.user)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        raw = request.POST.get("token_max_days", "").strip()
        value = _int(raw)
        try:
            if raw and value is None:
                raise ValidationError({"token_max_days": _("Enter a whole number of days.")})
            services.access_settings_update(token_max_days=value, audit=audit_context(request))
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, _("Access settings saved."))
            return redirect("accounts:settings")
    return render(
        request,
        "accounts/access_settings.html",
        {
            "current": AccessSettings.current(),
            "default_days": settings.TOKEN_MAX_DAYS,
            "effective_days": services.token_max_days(),
            "errors": errors,
            "form": request.POST if errors else None,
        },
        status=400 if errors else 200,
    )
