"""Questions people asked and the answers they got (the query log)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from workspaces.models import Workspace


class AnswerMode(models.TextChoices):
    LLM = "llm", "Written by the language model"
    EXTRACTIVE = "extractive", "Extracted from the passages"
    NO_ANSWER = "no_answer", "No answer found"


class Channel(models.TextChoices):
    """How a question came in (analytics breaks usage down by it)."""

    PORTAL = "portal", "Portal"
    API = "api", "API"
    CHAT = "chat", "Chat"
    MCP = "mcp", "MCP"


class Conversation(models.Model):
    """A thread of questions by one person; follow-ups are read in its context."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200)
    # Set when the owner shares it: members of the workspace can open it by this token.
    share_token = models.CharField(max_length=43, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["workspace", "owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="questions")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="questions"
    )
    # What retrieval searched for: the question made standalone from the conversation.
    standalone_text = models.TextField(blank=True)
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
    # What the LLM call cost at the configured prices (0 for extractive or cached answers).
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    # 0..1, from retrieval strength and citation coverage (search.confidence).
    confidence = models.FloatField(default=0.0)
    retrieval_ms = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # Empty for questions logged before the channel was recorded.
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def answer_shown(self) -> str:
        """The answer as the reader sees it (``search.answering.answer_shown``): the
        no-answer sentence, stored in English, in the active language."""
        from search.answering import answer_shown

        return answer_shown(self.answer)

    @property
    def confidence_label(self) -> str:
        from search.confidence import confidence_label

        return confidence_label(self.confidence)


class Feedback(models.Model):
    """A reader's verdict on an answer: helpful or not, with an optional comment."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback"
    )
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "user"], name="one_feedback_per_user")
        ]

    def __str__(self) -> str:
        return f"{'+' if self.helpful else '-'} {self.question_id}"


class SourceReason(models.TextChoices):
    WRONG = "wrong", "The source is wrong"
    IRRELEVANT = "irrelevant", "The source is irrelevant"


class SourceFeedback(models.Model):
    """A reader flagging one cited source of an answer."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="source_feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    citation_number = models.PositiveSmallIntegerField()
    document_id = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=SourceReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "user", "citation_number"], name="one_flag_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reason} [{self.citation_number}] of {self.question_id}"


class AnswerSettings(models.Model):
    """The organization's own answering settings, overriding the environment's.

    One row per organization schema (``AnswerSettings.current()``). Empty fields fall
    back to the global settings; API keys are stored encrypted (``infra.crypto``).
    """

    llm_api_base = models.URLField(
        "LLM endpoint", blank=True, help_text="OpenAI-compatible base URL, e.g. …/v1"
    )
    llm_model = models.CharField("LLM model", max_length=200, blank=True)
    llm_api_key_encrypted = models.TextField(blank=True, editable=False)
    fallback_llm_api_base = models.URLField(
        "fallback LLM endpoint", blank=True, help_text="Tried when the first one fails."
    )
    fallback_llm_model = models.CharField("fallback LLM model", max_length=200, blank=True)
    fallback_llm_api_key_encrypted = models.TextField(blank=True, editable=False)
    fusion_keyword_weight = models.FloatField(
        null=True, blank=True, help_text="Weight of the BM25 ranking in fusion (default 1)."
    )
    fusion_vector_weight = models.FloatField(
        null=True, blank=True, help_text="Weight of the vector ranking in fusion (default 1)."
    )
    recency_half_life_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Favour recently changed documents: a document this many days old counts "
        "half as much in ranking. Empty: the environment's setting (off by default).",
    )
    # The optional LLM steps before the answer (search.rewrite, search.rerank); empty:
    # the environment's LLM_QUERY_REWRITE / LLM_RERANK.
    llm_query_rewrite = models.BooleanField(
        _("rewrite questions with the LLM"),
        null=True,
        blank=True,
        help_text=_(
            "Also search other wordings of each question and its translation into the "
            "documents' languages, written by the LLM. Adds one LLM call per question."
        ),
    )
    llm_rerank = models.BooleanField(
        _("rerank passages with the LLM"),
        null=True,
        blank=True,
        help_text=_(
            "Let the LLM order the best 20 passages before it answers. Adds one LLM call "
            "per question."
        ),
    )
    llm_prompt_price_per_million = models.DecimalField(
        "LLM price per million prompt tokens (USD)",
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
    )
    llm_completion_price_per_million = models.DecimalField(
        "LLM price per million completion tokens (USD)",
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
    )
    # Retention of the query log: questions, answers, feedback and conversations older
    # than this many days are purged every night (search.retention); empty keeps them.
    retention_days = models.PositiveIntegerField(
        "keep questions and conversations for (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text="Older questions, answers and conversations are deleted nightly. "
        "Empty: kept until deleted.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "answer settings"
        verbose_name_plural = "answer settings"

    def __str__(self) -> str:
        return "Answer settings"

    @classmethod
    def current(cls) -> AnswerSettings:
        """This organization's settings (an unsaved blank one when none were made)."""
        return cls.objects.order_by("pk").first() or cls()
