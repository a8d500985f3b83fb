"""Sign-in pages: SSO start and callback, password sign-in, the owner's SSO settings."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.views.generic import View
from mozilla_django_oidc.utils import (
    add_state_and_verifier_and_nonce_to_session,
    generate_code_challenge,
)
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    get_next_url,
)

from accounts.audit import audit_context
from infra.crypto import SecretUnreadable
from sso import services, throttling
from sso.discovery import ProviderUnavailable
from sso.forms import IdentityProviderForm
from sso.state import StateInvalid, state_check, state_mint

logger = logging.getLogger(__name__)

PKCE_VERIFIER_LENGTH = 64  # RFC 7636 allows 43-128 characters


def _refused(request, message: str, status: int):
    return render(request, "sso/refused.html", {"message": message}, status=status)


def callback_uri(request) -> str:
    """The redirect URI to register at the provider: this organization's callback URL."""
    return request.build_absolute_uri(reverse("sso:callback"))


class SignInStartView(OIDCAuthenticationRequestView):
    """Send the browser to the organization's provider (code flow, PKCE S256, nonce)."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the library's __init__ reads global settings

    def get(self, request):
        provider = services.identity_provider_enabled()
        if provider is None:
            raise Http404("Single sign-on is not set up for this organization.")
        try:
            metadata = services.identity_provider_metadata(provider=provider)
        except ProviderUnavailable as exc:
            logger.warning("sso provider unavailable: %s", exc)
            return _refused(request, _("The identity provider cannot be reached right now."), 502)
        state = state_mint()
        code_verifier = get_random_string(PKCE_VERIFIER_LENGTH)
        params = {
            "response_type": "code",
            "scope": provider.scopes,
            "client_id": provider.client_id,
            "redirect_uri": callback_uri(request),
            "state": state,
            "nonce": get_random_string(32),
            "code_challenge": generate_code_challenge(code_verifier, "S256"),
            "code_challenge_method": "S256",
        }
        add_state_and_verifier_and_nonce_to_session(request, state, params, code_verifier)
        request.session["oidc_states"][state]["redirect_uri"] = params["redirect_uri"]
        request.session["oidc_login_next"] = get_next_url(request, "next")
        request.session.modified = True
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return HttpResponseRedirect(
            f"{metadata.authorization_endpoint}{separator}{urlencode(params)}"
        )


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back: check state, redeem the code, sign the person in."""

    def get(self, request):
        provider = services.identity_provider_enabled()
        if provider is None:
            raise Http404("Single sign-on is not set up for this organization.")
        state = request.GET.get("state", "")
        states = request.session.get("oidc_states")
        states = states if isinstance(states, dict) else {}
        entry = states.pop(state, None) if state else None
        if entry is not None:
            # One use only, whatever happens next.
            request.session["oidc_states"] = states
            request.session.save()
        if request.GET.get("error"):
            error = request.GET["error"][:60]
            return _refused(request, f"The identity provider did not sign you in ({error}).", 400)
        code = request.GET.get("code")
        if not code or not state:
            return _refused(request, _("The sign-in response lacks its code or state."), 400)
        try:
            state_check(state)
        except StateInvalid as exc:
            return _refused(request, str(exc), 400)
        if entry is None:
            return _refused(
                request, _("This sign-in has expired or was already used. Please start again."), 400
            )
        if entry.get("redirect_uri") != callback_uri(request):
            return _refused(request, _("This sign-in came back to the wrong address."), 400)
        try:
            self.user = authenticate(
                request,
                sso_provider=provider,
                nonce=entry.get("nonce"),
                code_verifier=entry.get("code_verifier"),
                redirect_uri=entry["redirect_uri"],
            )
        except services.SignInRefused as exc:
            # Django's documented hook, so the audit log records refused SSO sign-ins too.
            user_login_failed.send(
                sender=__name__, credentials={"username": "", "method": "sso"}, request=request
            )
            return _refused(request, exc.message, exc.status)
        except ProviderUnavailable as exc:
            logger.warning("sso provider unavailable: %s", exc)
            return _refused(request, _("The identity provider cannot be reached right now."), 502)
        except SecretUnreadable:
            logger.error("sso client secret cannot be decrypted; an owner must enter it again")
            return _refused(request, _("Single sign-on is misconfigured. Tell an owner."), 503)
        if self.user is None or not self.user.is_active:
            return _refused(request, _("You could not be signed in."), 403)
        return self.login_success()


class LoginView(auth_views.LoginView):
    """Email + password sign-in with SSO offered, attempts counted per IP + email."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        provider = services.identity_provider_enabled()
        context["identity_provider"] = provider
        context["password_sign_in"] = services.password_sign_in_allowed()
        return context

    def post(self, request, *args, **kwargs):
        if not services.password_sign_in_allowed():
            return _refused(
                request, _("This organization signs in with single sign-on only."), status=403
            )
        # The password backend counts and refuses attempts; this only explains the refusal.
        email = str(request.POST.get("username", ""))[:254]
        if throttling.password_sign_in_blocked(ip=throttling.client_ip(request), email=email):
            minutes = settings.PASSWORD_SIGNIN_WINDOW_S // 60
            return _refused(
                request,
                _(
                    "Too many failed sign-in attempts. Please wait up to %(minutes)s minutes "
                    "or reset your password."
                )
                % {"minutes": minutes},
                status=429,
            )
        return super().post(request, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "sso/password_reset_form.html"
    email_template_name = "sso/password_reset_email.txt"
    subject_template_name = "sso/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        if not services.password_sign_in_allowed():
            return _refused(
                self.request, _("This organization signs in with single sign-on only."), 403
            )
        email = form.cleaned_data["email"]
        if not throttling.password_reset_allowed(
            ip=throttling.client_ip(self.request), email=email
        ):
            minutes = settings.PASSWORD_SIGNIN_WINDOW_S // 60
            return _refused(
                self.request,
                _("Too many password-reset requests. Please wait up to %(minutes)s minutes.")
                % {"minutes": minutes},
                429,
            )
        # The link points at the domain asked at (Django's RequestSite): the organization's.
        self.extra_email_context = {"organization": self.request.tenant.name}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "sso/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


@login_required
def provider_settings(request):
    """The owner's SSO settings page (others get 404: the page's existence is not revealed)."""
    if not request.user.is_owner:
        raise Http404
    provider = services.identity_provider_get()
    form = IdentityProviderForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        form.save(audit=audit_context(request))
        messages.success(request, _("Single sign-on settings saved."))
        return redirect("sso:settings")
    return render(
        request,
        "sso/settings.html",
        {"form": form, "redirect_uri": callback_uri(request), "provider": provider},
    )
