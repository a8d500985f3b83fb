"""Sign-in rules: the organization's identity provider, and who an SSO sign-in is.

The rule for a first SSO sign-in (no external identity yet for the issuer + subject):

1. The email's domain must be one of the allowed domains (when any are set), the
   provider must send an email, and must not say it is unverified.
2. If a local account with that email exists in this organization, it is linked only
   when the owner turned on ``link_existing_accounts``, or when it is a pending
   invitation (made by adding the email to a workspace, never used); otherwise the
   sign-in is refused (an owner can link it by hand in the admin: External identities).
3. Otherwise an account is created when ``auto_provision`` is on; else refused.

Later sign-ins find the person by (issuer, subject) alone; the email is never a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from accounts.audit import AuditAction, AuditContext, audit_context, audit_record
from accounts.models import User
from infra.schema import schema_current
from sso.discovery import ProviderMetadata, ProviderUnavailable, provider_metadata
from sso.models import (
    OIDC_SETTINGS_FIELDS,
    SUBJECT_MAX_LENGTH,
    ExternalIdentity,
    IdentityProvider,
)
from tenants.quotas import member_admit
from workspaces.models import ROLE_ORDER, Group, GroupMember, Membership, Role, Workspace
from workspaces.rls import organization_scope

MAX_SUBJECT_LENGTH = SUBJECT_MAX_LENGTH
MAX_EMAIL_LENGTH = 254


@dataclass
class SignInRefused(Exception):
    """The sign-in must not happen; ``message`` is safe to show the person."""

    message: str
    status: int = 403

    def __str__(self) -> str:
        return self.message


def identity_provider_get() -> IdentityProvider | None:
    """The organization's identity provider, configured or not (None in the public schema)."""
    if schema_current() == get_public_schema_name():
        return None
    return IdentityProvider.objects.first()


def identity_provider_enabled() -> IdentityProvider | None:
    provider = identity_provider_get()
    return provider if provider is not None and provider.enabled else None


def password_sign_in_allowed() -> bool:
    """False when the organization signs in with SSO only."""
    provider = identity_provider_enabled()
    return not (provider and provider.password_sign_in_disabled)


def identity_provider_metadata(*, provider: IdentityProvider) -> ProviderMetadata:
    return provider_metadata(discovery_url=provider.discovery_document_url, issuer=provider.issuer)


def role_mapping_validate(rules: object) -> list[dict]:
    """``rules`` as a clean list of {value, workspace, role}, or ValidationError."""
    if not isinstance(rules, list):
        raise ValidationError(_("The role mapping must be a list of rules."))
    clean = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or set(rule) != {"value", "workspace", "role"}:
            raise ValidationError(
                _("Rule %(number)s must have exactly the keys value, workspace and role.")
                % {"number": number}
            )
        if not all(isinstance(rule[k], str) and rule[k] for k in rule):
            raise ValidationError(
                _("Rule %(number)s: value, workspace and role must be text.") % {"number": number}
            )
        if rule["role"] not in Role.values:
            raise ValidationError(
                _("Rule %(number)s: the role must be one of %(values)s.")
                % {"number": number, "values": ", ".join(Role.values)}
            )
        if not Workspace.objects.filter(slug=rule["workspace"]).exists():
            raise ValidationError(
                _("Rule %(number)s: there is no workspace %(workspace)r.")
                % {"number": number, "workspace": rule["workspace"]}
            )
        clean.append({k: rule[k] for k in ("value", "workspace", "role")})
    return clean


def group_mapping_validate(rules: object) -> list[dict]:
    """``rules`` as a clean list of {value, group} (a group's slug), or ValidationError."""
    if not isinstance(rules, list):
        raise ValidationError(_("The group mapping must be a list of rules."))
    clean = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or set(rule) != {"value", "group"}:
            raise ValidationError(
                _("Group rule %(number)s must have exactly the keys value and group.")
                % {"number": number}
            )
        if not all(isinstance(rule[k], str) and rule[k] for k in rule):
            raise ValidationError(
                _("Group rule %(number)s: value and group must be text.") % {"number": number}
            )
        if not Group.objects.filter(slug=rule["group"]).exists():
            raise ValidationError(
                _("Group rule %(number)s: there is no group %(group)r.")
                % {"number": number, "group": rule["group"]}
            )
        clean.append({k: rule[k] for k in ("value", "group")})
    return clean


def identity_provider_validate(*, provider: IdentityProvider) -> None:
    """Raise ValidationError when an enabled provider could not be used as configured."""
    if provider.password_sign_in_disabled and not provider.enabled:
        raise ValidationError(_("Password sign-in can only be disabled while SSO is enabled."))
    if provider.enabled:
        if not provider.client_secret_encrypted:
            raise ValidationError(_("Enter the client secret."))
        try:
            provider_metadata(
                discovery_url=provider.discovery_document_url,
                issuer=provider.issuer,
                use_cache=False,
            )
        except ProviderUnavailable as exc:
            raise ValidationError(
                _("The provider's configuration could not be used: %(exc)s") % {"exc": exc}
            ) from exc


# What the audit log records of a change to the provider (the client secret only as
# "changed", never its value).
AUDITED_FIELDS = [name for name in OIDC_SETTINGS_FIELDS if name != "client_secret"]


def identity_provider_save(
    *,
    provider: IdentityProvider,
    client_secret: str | None = None,
    audit: AuditContext | None = None,
) -> IdentityProvider:
    """Save ``provider``; a non-empty ``client_secret`` replaces the stored one (encrypted).

    Records ``sso_settings.changed`` with the fields that changed and their new values
    (the secret only by name); a save that changes nothing records nothing.
    """
    if client_secret:
        provider.client_secret = client_secret
    provider.role_mapping = role_mapping_validate(provider.role_mapping)
    provider.group_mapping = group_mapping_validate(provider.group_mapping)
    identity_provider_validate(provider=provider)
    with transaction.atomic():
        before = (
            IdentityProvider.objects.filter(pk=provider.pk).values(*AUDITED_FIELDS).first()
            if provider.pk
            else None
        )
        provider.save()
        changed = [
            name
            for name in AUDITED_FIELDS
            if before is None or before[name] != getattr(provider, name)
        ]
        if changed or client_secret:
            audit_record(
                action=AuditAction.SSO_SETTINGS_CHANGED,
                context=audit,
                target_type="identity_provider",
                target_id=provider.pk,
                extra={
                    "created": before is None,
                    "changed": changed + (["client_secret"] if client_secret else []),
                    "values": {name: getattr(provider, name) for name in changed},
                },
            )
    return provider


def _claim_values(claims: dict, name: str) -> set[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _roles_granted(provider: IdentityProvider, claims: dict) -> dict[int, str]:
    """Workspace id → the highest role the mapping grants for the person's claim values."""
    values = _claim_values(claims, provider.role_claim)
    rules = [r for r in provider.role_mapping if r.get("value") in values]
    workspaces = {
        w.slug: w.id for w in Workspace.objects.filter(slug__in={r["workspace"] for r in rules})
    }
    granted: dict[int, str] = {}
    for rule in rules:
        workspace_id = workspaces.get(rule["workspace"])
        if workspace_id is None or rule["role"] not in Role.values:
            continue
        current = granted.get(workspace_id)
        if current is None or ROLE_ORDER.index(Role(rule["role"])) > ROLE_ORDER.index(
            Role(current)
        ):
            granted[workspace_id] = rule["role"]
    return granted


def _memberships_apply(identity: ExternalIdentity, granted: dict[int, str]) -> None:
    """Make the mapped memberships match ``granted``; memberships never mapped stay as they are."""
    for workspace_id, role in granted.items():
        Membership.objects.update_or_create(
            workspace_id=workspace_id, user=identity.user, defaults={"role": role}
        )
    withdrawn = set(identity.managed_workspace_ids) - set(granted)
    if withdrawn:
        Membership.objects.filter(user=identity.user, workspace_id__in=withdrawn).delete()
    identity.managed_workspace_ids = sorted(granted)


def _groups_granted(provider: IdentityProvider, claims: dict) -> set[int]:
    """Ids of the groups the group mapping makes the person a member of."""
    values = _claim_values(claims, provider.role_claim)
    slugs = {r["group"] for r in provider.group_mapping if r.get("value") in values}
    return set(Group.objects.filter(slug__in=slugs).values_list("id", flat=True))


def _group_memberships_apply(
    identity: ExternalIdentity, granted: set[int], audit: AuditContext
) -> None:
    """Make the mapped group memberships match ``granted``, auditing each change.

    Only memberships an earlier sign-in granted are taken back: a membership an owner
    added by hand, in a group the provider never granted, stays.
    """
    user = identity.user
    for group in Group.objects.filter(id__in=granted).order_by("id"):
        _member, created = GroupMember.objects.get_or_create(group=group, user=user)
        if created:
            _group_member_record(AuditAction.GROUP_MEMBER_ADDED, group, user, audit)
    withdrawn = set(identity.managed_group_ids) - granted
    for group in Group.objects.filter(id__in=withdrawn).order_by("id"):
        deleted, _counts = GroupMember.objects.filter(group=group, user=user).delete()
        if deleted:
            _group_member_record(AuditAction.GROUP_MEMBER_REMOVED, group, user, audit)
    identity.managed_group_ids = sorted(granted)


def _group_member_record(action: str, group: Group, user: User, audit: AuditContext) -> None:
    audit_record(
        action=action,
        context=audit,
        target_type="group",
        target_id=group.pk,
        extra={"group": group.slug, "user": user.email, "via": "sso"},
    )


def _email_check(provider: IdentityProvider, email: str) -> None:
    domains = provider.email_domains
    if domains and (not email or email.rpartition("@")[2] not in domains):
        raise SignInRefused(
            "Your email address is not in a domain allowed to sign in to this organization."
        )


def _invitation_pending(user: User) -> bool:
    """True for an account made by inviting its email to a workspace (accounts.members)
    and never used: no password, never signed in, no SSO identity. Its first SSO sign-in
    with that email is the invited person accepting; any other account needs
    ``link_existing_accounts`` (or an owner linking it by hand)."""
    return (
        not user.is_service_account
        and user.last_login is None
        and not user.has_usable_password()
        and not user.external_identities.exists()
    )


def _first_sign_in_user(provider: IdentityProvider, issuer: str, claims: dict, email: str) -> User:
    if not email:
        raise SignInRefused("The identity provider did not send your email address.")
    if claims.get("email_verified") is False:
        raise SignInRefused("The identity provider says your email address is not verified.")
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if not (provider.link_existing_accounts or _invitation_pending(existing)):
            raise SignInRefused(
                "An account with your email address already exists in this organization but "
                "is not linked to your sign-in at the identity provider. Ask an owner to link it."
            )
        if existing.external_identities.filter(issuer=issuer).exists():
            raise SignInRefused(
                "That account is already linked to another identity at this provider."
            )
        return existing
    if not provider.auto_provision:
        raise SignInRefused(
            "You do not have an account in this organization yet. Ask an owner to invite you."
        )
    name = claims.get("name")
    name = name if isinstance(name, str) else ""
    member_admit()  # the plan's number of members (402 when reached)
    return User.objects.create_user(email, None, full_name=name[:200])


def sso_sign_in(*, provider: IdentityProvider, issuer: str, claims: dict, request=None) -> User:
    """The user verified ``claims`` (from an ID token) sign in as, creating or linking them.

    The role and group mappings are applied at every sign-in; group membership changes
    are audited with the person (and ``request``'s IP) as the actor.
    Raises SignInRefused (with a message for the person) when the rules above say no.
    Runs in one transaction: a refused sign-in creates nothing. Two first sign-ins of the
    same person racing each other: one wins, the other is refused (409) and may retry.
    """
    subject = claims["sub"]
    email = claims.get("email")
    email = email.strip().lower() if isinstance(email, str) else ""
    if len(subject) > MAX_SUBJECT_LENGTH or len(email) > MAX_EMAIL_LENGTH:
        raise SignInRefused("The identity provider sent an over-long subject or email.", 400)
    _email_check(provider, email)
    try:
        return _sso_sign_in(
            provider=provider, issuer=issuer, claims=claims, email=email, request=request
        )
    except IntegrityError as exc:
        raise SignInRefused("You are being signed in already. Please try again.", 409) from exc


@transaction.atomic
def _sso_sign_in(
    *, provider: IdentityProvider, issuer: str, claims: dict, email: str, request=None
) -> User:
    subject = claims["sub"]
    identity = (
        ExternalIdentity.objects.select_related("user")
        .select_for_update()
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        user = _first_sign_in_user(provider, issuer, claims, email)
        identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    if not identity.user.is_active:
        raise SignInRefused("Your account in this organization is deactivated.")
    # Trusted: the owner's claim mapping grants roles in any workspace, whatever the person
    # could read before (row-level security; docs/security.md).
    with organization_scope():
        _memberships_apply(identity, _roles_granted(provider, claims))
    _group_memberships_apply(
        identity, _groups_granted(provider, claims), audit_context(request, user=identity.user)
    )
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["managed_workspace_ids", "managed_group_ids", "last_sign_in_at"])
    return identity.user
