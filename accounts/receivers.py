"""Django's documented sign-in hooks, handed straight to the audit service."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts.audit import audit_signin_failed, audit_signin_succeeded


@receiver(user_logged_in, dispatch_uid="accounts.audit_signin_succeeded")
def _signed_in(sender, request, user, **kwargs):
    audit_signin_succeeded(request=request, user=user)


@receiver(user_login_failed, dispatch_uid="accounts.audit_signin_failed")
def _signin_failed(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password (and anything like it) with stars.
    email = credentials.get("username") or credentials.get("email") or ""
    audit_signin_failed(request=request, email=str(email))
