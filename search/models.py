"""Questions people asked and the answers they got (the query log)."""

from django.conf import settings
from django.db import models

from workspaces.models import Workspace


class AnswerMode(models.TextChoices):
    LLM = "llm", "Written by the language model"
    EXTRACTIVE = "extractive", "Extracted from the passages"
    NO_ANSWER = "no_answer", "No answer found"


class Question(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="questions")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="questions"
    )
    text = models.TextField()
    answer = models.TextField()
    mode = models.CharField(max_length=16, choices=AnswerMode.choices)
    # [{"number", "chunk_id", "document_id", "document_title", "ordinal", "heading_path", "text"}]
    citations = models.JSONField(default=list)
    model = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    retrieval_ms = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return self.text[:80]
