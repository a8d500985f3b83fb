"""What analytics keeps of its own: question vectors (for grouping questions by meaning)
and knowledge gaps an admin marked resolved.

Both follow the questions they come from: a vector is deleted with its question (so
retention and erasure reach it), and a resolution holds no question text, only the
centroid of the group's vectors and who resolved it when.
"""

from __future__ import annotations

from django.conf import settings
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
