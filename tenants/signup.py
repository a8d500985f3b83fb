"""Public signup: a new organization, provisioned at once, usable after email verification.

``signup_submit`` provisions everything (schema — a spare from the pool when one is
ready —, domain, owner, default workspace) with the default plan, in status
``pending``, and mails the owner a signed link. Until the link is followed, the
organization's address shows a "check your email" page and nobody can sign in; the
name is reserved meanwhile. ``signup_verify`` makes it ``active``.

The link is a Django signed value (``SECRET_KEY``, a salt of its own), valid for
``SIGNUP_VERIFY_MAX_AGE_S``; it carries the organization's id and the owner's email,
and following it twice is harmless.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_redis import get_redis_connection

from tenants.models import Organization, OrganizationStatus, Plan
from tenants.services import OrganizationCreated, organization_create, organization_slug_validate

logger = logging.getLogger(__name__)

_SALT = "opaa.signup.verify"


class SignupThrottled(Exception):
    """Too many signups from one address in the last hour."""


def signup_throttle(*, ip: str) -> None:
    """Count one signup attempt from ``ip``; raise ``SignupThrottled`` past the hourly limit.

    An atomic Redis INCR with a one-hour window per address.
    """
    redis = get_redis_connection("default")
    key = f"opaa:signup:ip:{ip}"
    count = redis.incr(key)
    if count == 1:
        redis.expire(key, 3600)
    if count > settings.SIGNUP_RATE_PER_HOUR:
        raise SignupThrottled(ip)


def plan_default() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()


def signup_validate(*, slug: str, owner_email: str, password: str) -> None:
    """The checks a form can show next to its fields (raises a field-keyed ValidationError)."""
    errors: dict[str, list[str]] = {}
    try:
        organization_slug_validate(slug)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    else:
        if Organization.objects.filter(slug=slug).exists():
            errors["slug"] = [_("The name %(slug)r is taken; choose another.") % {"slug": slug}]
    try:
        validate_password(password)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)


def verification_token(organization: Organization, email: str) -> str:
    return signing.dumps({"o": organization.pk, "e": email}, salt=_SALT, compress=True)


def signup_submit(
    *, name: str, slug: str, owner_email: str, password: str, verify_url: str
) -> OrganizationCreated:
    """Provision a pending organization on the default plan and mail the verification link.

    ``verify_url`` has a ``{token}`` placeholder (the view knows the platform's address).
    Raises ValidationError keyed by field for a bad or taken name or a weak password.
    """
    signup_validate(slug=slug, owner_email=owner_email, password=password)
    created = organization_create(
        name=name,
        slug=slug,
        owner_email=owner_email,
        owner_password=password,
        plan=plan_default(),
        status=OrganizationStatus.PENDING,
    )
    link = verify_url.format(token=verification_token(created.organization, created.owner.email))
    send_mail(
        subject=_("Confirm your OPAA organization %(name)s") % {"name": name},
        message=(
            _(
                "Someone (we hope you) signed up for OPAA as %(email)s, creating the "
                "organization %(name)s."
            )
            % {"email": created.owner.email, "name": name}
            + "\n\n"
            + _("Confirm your email address to start using it:")
            + f"\n{link}\n\n"
            + _("If this was not you, ignore this message; nothing will be usable without it.")
            + "\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[created.owner.email],
    )
    logger.info("signup organization=%s slug=%s", created.organization.pk, slug)
    return created


class VerificationInvalid(Exception):
    """The link is damaged, expired, or names an organization that is gone."""


def signup_verify(*, token: str) -> Organization:
    """Activate the organization the link was made for; idempotent.

    A suspended organization stays suspended (verification is not a way around an
    operator's decision).
    """
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.SIGNUP_VERIFY_MAX_AGE_S)
    except signing.SignatureExpired as exc:
        raise VerificationInvalid("This link has expired. Sign up again.") from exc
    except signing.BadSignature as exc:
        raise VerificationInvalid("This link is not valid. Copy it whole from the email.") from exc
    with transaction.atomic():
        organization = (
            Organization.objects.select_for_update()
            .exclude(status=OrganizationStatus.SPARE)
            .filter(pk=data.get("o"))
            .first()
        )
        if organization is None:
            raise VerificationInvalid("This organization no longer exists.")
        if organization.status == OrganizationStatus.PENDING:
            organization.status = OrganizationStatus.ACTIVE
            organization.status_changed_at = timezone.now()
            Organization.objects.filter(pk=organization.pk).update(
                status=organization.status, status_changed_at=organization.status_changed_at
            )
            logger.info("signup verified organization=%s", organization.pk)
    return organization


def signups_expired_delete() -> int:
    """Delete organizations whose verification link expired unused; returns how many.

    Nobody could ever use them (the link was the only way in), and each holds a name
    and a schema. Idempotent; ``organization_delete`` erases each completely.
    """
    from datetime import timedelta

    from tenants.services import organization_delete

    cutoff = timezone.now() - timedelta(seconds=settings.SIGNUP_VERIFY_MAX_AGE_S)
    expired = Organization.objects.filter(status=OrganizationStatus.PENDING, created_at__lt=cutoff)
    count = 0
    for organization in expired:
        organization_id = organization.pk
        organization_delete(organization=organization)
        logger.info("unverified signup deleted organization=%s", organization_id)
        count += 1
    return count
