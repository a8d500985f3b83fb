"""Members of a workspace: add or invite, change a role, remove.

Every change goes through ``workspaces.services`` (``membership_save`` /
``membership_delete``), which records it in the audit log; an invitation is recorded
too (``member.invited``), and so are resending and withdrawing one. Callers have
already checked that the actor is an admin of the workspace (or the owner).

An invitation is *pending* while the invited account is unused (``invitation_pending``):
no password set, never signed in, no SSO identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import ApiToken, User
from sso.models import ExternalIdentity
from tenants.quotas import member_admit
from workspaces.models import Membership, Role, Workspace
from workspaces.services import membership_delete, membership_save

ROLE_CHOICES = ", ".join(Role.values)


@dataclass(frozen=True)
class MemberAdded:
    membership: Membership
    # True when the person had no account in the organization and was sent an invitation.
    invited: bool


def with_invitation_state(memberships: QuerySet[Membership]) -> QuerySet[Membership]:
    """``memberships`` each with ``has_identity`` (an SSO identity), which
    ``invitation_pending`` reads instead of a query per row."""
    return memberships.annotate(
        has_identity=Exists(ExternalIdentity.objects.filter(user=OuterRef("user")))
    )


def members_of(*, workspace: Workspace) -> QuerySet[Membership]:
    """The workspace's memberships with their users (one query), by email."""
    return with_invitation_state(
        Membership.objects.filter(workspace=workspace)
        .select_related("user", "workspace")
        .order_by("user__email")
    )


def invitation_pending(membership: Membership) -> bool:
    """True while the person invited by ``member_add`` has not accepted: no password,
    never signed in, no SSO identity (the same rule as ``sso.services``' first sign-in).

    Reads ``has_identity`` when ``with_invitation_state`` annotated it (no query per
    row)."""
    user = membership.user
    if user.is_service_account or user.last_login is not None or user.has_usable_password():
        return False
    has_identity = getattr(membership, "has_identity", None)
    if has_identity is None:
        has_identity = user.external_identities.exists()
    return not has_identity


def _role_checked(role: str) -> str:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose one of: %(roles)s.") % {"roles": ROLE_CHOICES}})
    return role


def _not_yourself(membership: Membership, actor: User) -> None:
    # Keeps an admin from locking themself (and maybe everyone) out by accident.
    if membership.user_id == actor.pk:
        raise ValidationError(
            {"member": _("You cannot change or remove your own membership; ask another admin.")}
        )


def _invitation_send(*, user: User, workspace: Workspace, base_url: str, invited_by: User):
    """Email ``user`` a link to set a password (the password-reset link, valid for
    PASSWORD_RESET_TIMEOUT). The link carries a one-time token, never a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = base_url.rstrip("/") + reverse("accounts:password_reset_confirm", args=[uid, token])
    context = {"link": link, "workspace": workspace, "invited_by": invited_by}
    send_mail(
        subject=_("You are invited to %(workspace)s on OPAA") % {"workspace": workspace.name},
        message=render_to_string("accounts/invitation_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def member_add(
    *,
    workspace: Workspace,
    email: str,
    role: str,
    actor: User,
    base_url: str,
    audit: AuditContext,
) -> MemberAdded:
    """Give the person with ``email`` the ``role`` in ``workspace``.

    Someone without an account in the organization gets one (no password) and an
    invitation email with a link to set a password; with single sign-on they may instead
    sign in through it (see sso.services). Raises ValidationError (400) for a bad email
    or role, a service account, or someone who is a member already.
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    _role_checked(role)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        invited = user is None
        if user is None:
            member_admit()  # the plan's number of members (402 when reached)
            user = User.objects.create_user(email, None)
        elif user.is_service_account:
            raise ValidationError(
                {"email": _("Service accounts get their workspaces from their token.")}
            )
        elif Membership.objects.filter(workspace=workspace, user=user).exists():
            raise ValidationError(
                {
                    "email": _("%(email)s is a member already; change their role instead.")
                    % {"email": email}
                }
            )
        membership = membership_save(
            membership=Membership(workspace=workspace, user=user, role=role), audit=audit
        )
        if invited:
            audit_record(
                action=AuditAction.MEMBER_INVITED,
                context=audit,
                target_type="user",
                target_id=user.pk,
                extra={"email": email, "workspace": workspace.slug, "role": role},
            )
            # Sent only once the account and membership are committed.
            transaction.on_commit(
                lambda: _invitation_send(
                    user=user, workspace=workspace, base_url=base_url, invited_by=actor
                )
            )
    return MemberAdded(membership=membership, invited=invited)


def _pending_checked(membership: Membership, what: str) -> None:
    if not invitation_pending(membership):
        raise ValidationError(
            {
                "member": (
                    _(
                        "%(email)s has accepted the invitation already: "
                        "there is no invitation to resend."
                    )
                    if what == "resend"
                    else _(
                        "%(email)s has accepted the invitation already: "
                        "there is no invitation to withdraw."
                    )
                )
                % {"email": membership.user.email}
            }
        )


def invitation_resend(
    *, membership: Membership, actor: User, base_url: str, audit: AuditContext
) -> None:
    """Send the invitation of ``membership``'s pending person again, with a new link
    (audited as ``member.invitation_resent``). Earlier links keep working until they
    expire. Raises ValidationError (400) when the invitation was accepted already."""
    _pending_checked(membership, "resend")
    with transaction.atomic():
        audit_record(
            action=AuditAction.MEMBER_INVITATION_RESENT,
            context=audit,
            target_type="user",
            target_id=membership.user_id,
            extra={"email": membership.user.email, "workspace": membership.workspace.slug},
        )
        transaction.on_commit(
            lambda: _invitation_send(
                user=membership.user,
                workspace=membership.workspace,
                base_url=base_url,
                invited_by=actor,
            )
        )


def invitation_withdraw(*, membership: Membership, audit: AuditContext) -> bool:
    """Withdraw a pending invitation: the membership goes (``membership.deleted``) and,
    when the unused account is left without any workspace, group or token, the account
    too, so its link stops working and it no longer counts against the plan's members.
    Audited as ``member.invitation_withdrawn``; returns whether the account went.

    Raises ValidationError (400) when the invitation was accepted (remove the member
    instead)."""
    _pending_checked(membership, "withdraw")
    user = membership.user
    with transaction.atomic():
        membership_delete(membership=membership, audit=audit)
        unused = not (
            user.is_owner
            or Membership.objects.filter(user=user).exists()
            or user.group_memberships.exists()
            or ApiToken.objects.filter(user=user).exists()
        )
        audit_record(
            action=AuditAction.MEMBER_INVITATION_WITHDRAWN,
            context=audit,
            target_type="user",
            target_id=user.pk,
            extra={
                "email": user.email,
                "workspace": membership.workspace.slug,
                "account_deleted": unused,
            },
        )
        if unused:
            # Never used (the invitation is pending): nothing of theirs to erase but the row.
            user.delete()
    return unused


def member_role_change(
    *, membership: Membership, role: str, actor: User, audit: AuditContext
) -> Membership:
    """Set ``membership``'s role (audited as ``membership.changed``; no change, no event)."""
    _role_checked(role)
    _not_yourself(membership, actor)
    membership.role = role
    return membership_save(membership=membership, audit=audit)


def member_remove(*, membership: Membership, actor: User, audit: AuditContext) -> None:
    """Remove ``membership`` (audited as ``membership.deleted``). The person's tokens bound
    to the workspace stop working there on their next request."""
    _not_yourself(membership, actor)
    membership_delete(membership=membership, audit=audit)
