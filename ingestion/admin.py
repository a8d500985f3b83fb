from django.contrib import admin

from ingestion.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "workspace", "status", "mime_type", "size_bytes", "created_at")
    list_filter = ("status", "workspace")
    search_fields = ("title", "original_filename")
    readonly_fields = ("storage_key", "sha256", "size_bytes", "mime_type", "indexed_at")
