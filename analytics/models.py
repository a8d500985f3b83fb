"""What analytics keeps of its own: question vectors (for grouping questions by meaning),
knowledge gaps an admin marked resolved, and the golden questions of the answer-quality
dashboard with their runs.

Both follow the questions they come from: a vector is deleted with its question (so
retention and erasure reach it), and a resolution holds no question text, only the
centroid of the group's vectors and who resolved it when.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from pgvector.django import VectorField

from search.models import Question
from workspaces.models import Workspace


class QuestionVector(models.Model):
    """The embedding of one question's text, computed once when analytics first groups it."""

    question = models.OneToOneField(
        Question, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # Repeated from the question for row-level security (every table with a workspace).
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # No fixed dimension: the provider decides it; ``embedder`` tells vectors apart.
    vector = VectorField()
    embedder = models.CharField(max_length=200)

    class Meta:
        indexes = [models.Index(fields=["workspace", "embedder"])]

    def __str__(self) -> str:
        return f"vector of question {self.question_id}"


class GapResolution(models.Model):
    """An admin's "this gap is resolved" for a group of questions OPAA could not answer.

    The group is remembered by the centroid of its questions' vectors: a later group
    whose centroid lies within the clustering threshold is the same gap, and questions
    asked since ``resolved_at`` near it show whether it really is resolved.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    centroid = VectorField()
    embedder = models.CharField(max_length=200)
    questions = models.PositiveIntegerField(help_text="How many questions the gap had.")
    note = models.CharField(max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-resolved_at"]
        indexes = [models.Index(fields=["workspace", "-resolved_at"])]

    def __str__(self) -> str:
        return f"gap resolved {self.resolved_at:%Y-%m-%d}"


class GapDigestSubscription(models.Model):
    """A workspace admin's opt-in to the weekly email of new knowledge gaps."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The portal's address as the admin saw it when subscribing: the email's links use it
    # (a task has no request to learn the scheme, host and port from).
    base_url = models.CharField(max_length=300)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_digest_per_admin")
        ]

    def __str__(self) -> str:
        return f"gap digest of workspace {self.workspace_id} for user {self.user_id}"


class GoldenQuestion(models.Model):
    """A question an admin expects OPAA to answer from given documents (or, with no
    documents, to answer "not in the documents"): one item of the workspace's
    answer-quality set, run on a schedule and on demand (``analytics.golden``)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=2000)
    # The documents that should answer it (ids in this workspace). No foreign keys: an
    # erased document simply stops counting (a run reads the ones that still exist).
    documents = ArrayField(models.BigIntegerField(), default=list, blank=True)
    expect_answer = models.BooleanField(
        default=True, help_text='False: the right answer is "not in the documents".'
    )
    # Whose reader scope a run searches with (see docs/analytics.md, "Whose documents").
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The logged question it was added from, if any (provenance only).
    source_question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "text"], name="one_golden_per_text")
        ]

    def __str__(self) -> str:
        return f"golden question {self.pk}"


class GoldenTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Scheduled"
    MANUAL = "manual", "Run now"


class GoldenStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class GoldenRun(models.Model):
    """One run of a workspace's golden questions: its means and, per question, what was
    found and answered (``results``: golden id, nDCG@10, recall@10, answered, correct,
    the ids of the 10 documents found, or why it was skipped). No question or answer
    text is kept here."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=16, choices=GoldenTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=GoldenStatus.choices, default=GoldenStatus.QUEUED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Means over the questions run (retrieval: over those with documents); None: none.
    ndcg = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    correct = models.FloatField(null=True, blank=True)
    # What the answers came from, so a change of model or index shows next to its effect.
    model = models.CharField(max_length=200, blank=True)
    embedder = models.CharField(max_length=200, blank=True)
    documents_indexed = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)
    # The metrics that fell beyond the threshold against the previous run, on the
    # questions both ran: {"ndcg": [before, after], ...}; empty: no drop.
    drops = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"golden run {self.pk} ({self.status})"
