import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.audit import audit_context
from ingestion import embedding_index, sources
from ingestion.embedding import model_choices
from ingestion.models import Connector, Document, EmbeddingIndex, Source, SyncRun
from ingestion.readers import document_readers_set
from tenants.quotas import source_admit
from workspaces.readers import readers_normalize


class DocumentForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = "__all__"  # noqa: DJ007 - the admin shows every field of a document

    def clean_readers(self):
        """Readers as ``user:<email>`` / ``group:<slug>``; a bad one is a form error."""
        return readers_normalize(self.cleaned_data["readers"])


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    form = DocumentForm
    list_display = ("title", "workspace", "status", "mime_type", "size_bytes", "created_at")
    list_filter = ("status", "workspace")
    search_fields = ("title", "original_filename")
    readonly_fields = ("storage_key", "sha256", "size_bytes", "mime_type", "indexed_at")

    def save_model(self, request, obj, form, change):
        """New readers go through the service: validated, copied to the chunks, audited."""
        readers = obj.readers
        if change and "readers" in form.changed_data:
            obj.readers = Document.objects.get(pk=obj.pk).readers
        super().save_model(request, obj, form, change)
        if change and "readers" in form.changed_data:
            document_readers_set(document=obj, readers=readers, audit=audit_context(request))


class ConnectorForm(forms.ModelForm):
    secrets = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='JSON, e.g. {"secret_access_key": "..."}; stored encrypted, never shown. '
        "Leave empty to keep the current secrets.",
    )

    class Meta:
        model = Connector
        fields = ["name", "kind", "config"]

    def clean_secrets(self):
        raw = self.cleaned_data["secrets"]
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise ValidationError("Enter the secrets as a JSON object.") from None
        if not isinstance(value, dict):
            raise ValidationError("Enter the secrets as a JSON object.")
        return value


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = ("name", "kind", "created_at")

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("secrets") is not None:
            sources.connector_secrets_set(connector=obj, secrets=form.cleaned_data["secrets"])
        super().save_model(request, obj, form, change)


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = [
            "name",
            "connector",
            "workspace",
            "paths",
            "include_globs",
            "exclude_globs",
            "readers",
            "schedule",
            "enabled",
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            sources.source_check(Source(**{name: cleaned[name] for name in self.Meta.fields}))
        return cleaned


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ("name", "workspace", "connector", "schedule", "enabled", "flagged")
    list_filter = ("enabled", "flagged", "workspace")

    def save_model(self, request, obj, form, change):
        if not change:
            source_admit()  # the plan's number of sources (402 when reached)
        obj.next_run_at = sources.schedule_next(obj.schedule)
        super().save_model(request, obj, form, change)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "trigger", "status", "started_at", "seen", "failed")
    list_filter = ("status", "trigger")
    readonly_fields = [f.name for f in SyncRun._meta.fields]


class EmbeddingIndexForm(forms.ModelForm):
    chosen_model = forms.ChoiceField(
        label="Embedding model",
        required=False,
        help_text=EmbeddingIndex._meta.get_field("chosen_model").help_text,
    )

    class Meta:
        model = EmbeddingIndex
        fields = ["chosen_model"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chosen_model"].choices = [("", "The installation's default"), *model_choices()]


@admin.register(EmbeddingIndex)
class EmbeddingIndexAdmin(admin.ModelAdmin):
    """The organization's embedding model: choose one, watch the re-embedding."""

    form = EmbeddingIndexForm
    list_display = ("__str__", "active_model", "progress", "updated_at")
    readonly_fields = ("active_model", "progress", "started_at", "switched_at", "error")

    @admin.display(description="re-embedding")
    def progress(self, obj: EmbeddingIndex) -> str:
        if not obj.target_model:
            return "none running"
        percent = int(100 * obj.target_done / obj.target_total) if obj.target_total else 0
        return (
            f"to {obj.target_model}: {obj.target_done:,} of {obj.target_total:,} passages "
            f"({percent}%); searches use {obj.active_model} until it is complete"
        )

    def has_module_permission(self, request):
        # Hidden at the public domain (the operators' admin), which has no such table.
        from django.db import connection
        from django_tenants.utils import get_public_schema_name

        if connection.schema_name == get_public_schema_name():
            return False
        return super().has_module_permission(request)

    def has_add_permission(self, request):
        return False  # one row per organization, made by the migration

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        embedding_index.embedding_move_due()  # starts the move once this save commits
