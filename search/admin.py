from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from infra import outbound
from infra.crypto import encrypt
from search.models import AnswerSettings, Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = (
        "text",
        "workspace",
        "asked_by",
        "mode",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "created_at",
    )
    list_filter = ("mode", "workspace")
    readonly_fields = [f.name for f in Question._meta.fields]


class _DefaultOnOff(forms.NullBooleanSelect):
    """Empty, on or off: empty follows the installation's setting."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [
            ("unknown", _("The installation's default")),
            ("true", _("On")),
            ("false", _("Off")),
        ]


class AnswerSettingsForm(forms.ModelForm):
    """API keys are write-only: typed in, stored encrypted, never shown again."""

    llm_api_base = forms.URLField(label="LLM endpoint", required=False, assume_scheme="https")
    fallback_llm_api_base = forms.URLField(
        label="Fallback LLM endpoint", required=False, assume_scheme="https"
    )

    llm_api_key = forms.CharField(
        label="LLM API key",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored key; enter a single space to remove it.",
    )
    fallback_llm_api_key = forms.CharField(
        label="Fallback LLM API key",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored key; enter a single space to remove it.",
    )

    class Meta:
        model = AnswerSettings
        widgets = {"llm_query_rewrite": _DefaultOnOff(), "llm_rerank": _DefaultOnOff()}
        fields = [
            "llm_api_base",
            "llm_model",
            "fallback_llm_api_base",
            "fallback_llm_model",
            "llm_query_rewrite",
            "llm_rerank",
            "fusion_keyword_weight",
            "fusion_vector_weight",
            "recency_half_life_days",
            "llm_prompt_price_per_million",
            "llm_completion_price_per_million",
            "retention_days",
        ]

    def _reachable(self, field: str) -> str:
        url = self.cleaned_data.get(field) or ""
        if url:
            try:
                outbound.url_check(url)
            except outbound.OutboundRefused as exc:
                raise forms.ValidationError(str(exc)) from None
        return url

    def clean_llm_api_base(self) -> str:
        return self._reachable("llm_api_base")

    def clean_fallback_llm_api_base(self) -> str:
        return self._reachable("fallback_llm_api_base")

    def save(self, commit=True):
        instance = super().save(commit=False)
        for field in ("llm_api_key", "fallback_llm_api_key"):
            value = self.cleaned_data.get(field) or ""
            if value:  # empty keeps the stored key; blanks remove it
                setattr(instance, f"{field}_encrypted", encrypt(value.strip()))
        if commit:
            instance.save()
        return instance


@admin.register(AnswerSettings)
class AnswerSettingsAdmin(admin.ModelAdmin):
    form = AnswerSettingsForm
    list_display = ("__str__", "llm_model", "fallback_llm_model", "updated_at")

    def has_module_permission(self, request):
        # Hidden at the public domain (the operators' admin), which has no such table.
        from django.db import connection
        from django_tenants.utils import get_public_schema_name

        if connection.schema_name == get_public_schema_name():
            return False
        return super().has_module_permission(request)

    def has_add_permission(self, request):
        # One row per organization.
        return not AnswerSettings.objects.exists()
