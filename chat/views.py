"""The portal's chat pages: the platforms' settings (owner), channels mapped to
workspaces (workspace admins), the test message, and the one-time account link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import audit_context
from chat import services
from chat.forms import PlatformForm
from chat.models import ChannelMapping, PlatformKind
from workspaces.access import (
    is_admin_anywhere,
    object_for,
    owner_check,
    workspace_for,
)
from workspaces.models import Role
from workspaces.selectors import workspaces_administered

ENDPOINTS = {
    PlatformKind.SLACK: [
        ("Event Subscriptions: Request URL", "chat:slack-events"),
        ("Slash command /opaa: Request URL", "chat:slack-commands"),
        ("Interactivity: Request URL", "chat:slack-interactivity"),
    ],
    PlatformKind.MATTERMOST: [
        ("Slash command /opaa: Request URL", "chat:mattermost-command"),
        ("Outgoing webhook: Callback URL", "chat:mattermost-webhook"),
    ],
    PlatformKind.TEAMS: [("Azure Bot: Messaging endpoint", "chat:teams-messages")],
    PlatformKind.MATRIX: [],  # the bot pulls (/sync): nothing to paste
}


def _admin_workspaces(user):
    return list(workspaces_administered(user))


def _page(request, *, forms: dict | None = None, status: int = 200):
    user = request.user
    administered = _admin_workspaces(user)
    mappings = ChannelMapping.objects.filter(workspace__in=administered).select_related(
        "platform", "workspace"
    )
    platforms = []
    for kind, label in PlatformKind.choices:
        platform = services.platform_get(kind)
        stored = services.secrets_stored(platform) if platform else set()
        form = (forms or {}).get(kind) or PlatformForm(
            kind=kind, stored=stored, initial=PlatformForm.initial_for(platform), prefix=kind
        )
        platforms.append(
            {
                "kind": kind,
                "label": label,
                "platform": platform,
                "form": form,
                "endpoints": [
                    (what, request.build_absolute_uri(reverse(name)))
                    for what, name in ENDPOINTS[kind]
                ],
                "mappings": [m for m in mappings if m.platform.kind == kind],
            }
        )
    return render(
        request,
        "chat/settings.html",
        {"platforms": platforms, "workspaces": administered, "is_owner": user.is_owner},
        status=status,
    )


@login_required
def settings_view(request):
    """Owners and workspace admins: the platforms, and the channels of their workspaces."""
    if not is_admin_anywhere(request.user):
        raise PermissionDenied(_("Only owners and workspace admins may set up chat platforms."))
    return _page(request)


def _kind(kind: str) -> str:
    if kind not in PlatformKind.values:
        raise Http404("No such chat platform.")
    return kind


@require_POST
@login_required
def platform_view(request, kind: str):
    """The owner saves a platform's settings; secrets are write-only."""
    owner_check(request.user)
    kind = _kind(kind)
    platform = services.platform_get(kind)
    stored = services.secrets_stored(platform) if platform else set()
    form = PlatformForm(request.POST, kind=kind, stored=stored, prefix=kind)
    if form.is_valid():
        try:
            services.platform_save(
                kind=kind,
                enabled=form.cleaned_data["enabled"],
                team_id=form.cleaned_data["team_id"],
                api_url=form.cleaned_data["api_url"],
                commands=form.cleaned_data["commands"],
                new_secrets=form.new_secrets(),
                portal_url=request.build_absolute_uri("/"),
                audit=audit_context(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request, _("%(platform)s settings saved.") % {"platform": PlatformKind(kind).label}
            )
            return redirect(f"{reverse('chat:settings')}#{kind}")
    return _page(request, forms={kind: form}, status=400)


@require_POST
@login_required
def test_message_view(request, kind: str):
    """The owner sends a test message to a channel, to check the bot token and URL."""
    owner_check(request.user)
    platform = services.platform_get(_kind(kind))
    if platform is None:
        messages.error(request, _("Save the platform's settings first."))
    else:
        try:
            messages.success(
                request,
                services.test_message_send(
                    platform=platform, channel_id=request.POST.get("channel", "")
                ),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect(f"{reverse('chat:settings')}#{kind}")


@require_POST
@login_required
def mapping_add_view(request):
    """A workspace admin connects a channel to their workspace."""
    slug = request.GET.get("workspace") or request.POST.get("workspace") or None
    workspace = workspace_for(request.user, slug, role=Role.ADMIN)
    kind = request.POST.get("kind", "")
    platform = services.platform_get(kind) if kind in PlatformKind.values else None
    if platform is None:
        messages.error(request, _("Choose a platform that is set up."))
        return redirect(reverse("chat:settings"))
    try:
        services.mapping_add(
            platform=platform,
            channel_id=request.POST.get("channel_id", ""),
            name=request.POST.get("name", ""),
            workspace=workspace,
            audit=audit_context(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Channel connected to %(workspace)s.") % {"workspace": workspace.name}
        )
    return redirect(f"{reverse('chat:settings')}#{kind}")


@require_POST
@login_required
def mapping_delete_view(request, pk: int):
    mapping = object_for(
        request.user,
        ChannelMapping.objects.select_related("workspace", "platform"),
        role=Role.ADMIN,
        pk=pk,
    )
    kind = mapping.platform.kind
    services.mapping_delete(mapping=mapping, audit=audit_context(request))
    messages.success(request, _("Channel disconnected."))
    return redirect(f"{reverse('chat:settings')}#{kind}")


@login_required
def link_view(request, token: str):
    """The one-time link a chat user got: confirm, and their chat account is linked to
    the signed-in member. Unknown, used or expired: 404."""
    identity = services.identity_for_link(token)
    if identity is None:
        raise Http404("This link is not valid (any more). Ask the bot again for a new one.")
    if request.method == "POST":
        services.link_complete(token=token, user=request.user, audit=audit_context(request))
        return render(request, "chat/linked.html", {"identity": identity})
    return render(request, "chat/link.html", {"identity": identity})
