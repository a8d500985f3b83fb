from django.contrib import admin

from search.models import Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "workspace", "asked_by", "mode", "latency_ms", "created_at")
    list_filter = ("mode", "workspace")
    readonly_fields = [f.name for f in Question._meta.fields]
