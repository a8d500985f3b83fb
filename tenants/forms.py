"""The public signup form."""

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Organization name"), max_length=200)
    slug = forms.CharField(
        label=_("Address"),
        max_length=42,
        help_text=_("Lowercase letters, digits and hyphens: your organization's address."),
    )
    owner_email = forms.EmailField(label=_("Your email address"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower()

    def clean_owner_email(self) -> str:
        return self.cleaned_data["owner_email"].strip().lower()

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password
