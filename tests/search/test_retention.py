"""Retention: questions and conversations older than the organization's limit are purged
by the nightly task, in every organization, and nothing else is."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from search.models import AnswerMode, AnswerSettings, Conversation, Feedback, Question
from search.tasks import retention_purge_all
from workspaces.models import Workspace


def _question(text: str, *, days_old: int, conversation=None) -> Question:
    workspace = Workspace.objects.get(is_default=True)
    question = Question.objects.create(
        workspace=workspace,
        conversation=conversation,
        text=text,
        answer="An answer.",
        mode=AnswerMode.EXTRACTIVE,
    )
    Question.objects.filter(pk=question.pk).update(
        created_at=timezone.now() - timedelta(days=days_old)
    )
    return question


def _conversation(owner: User, *, days_idle: int) -> Conversation:
    conversation = Conversation.objects.create(
        workspace=Workspace.objects.get(is_default=True), owner=owner, title="Thread"
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        updated_at=timezone.now() - timedelta(days=days_idle)
    )
    return conversation


def test_the_nightly_task_purges_what_is_past_each_organizations_retention(acme, globex):
    alice = User.objects.get(email="alice@acme.example")
    AnswerSettings.objects.create(retention_days=30)
    old = _question("old question", days_old=40)
    Feedback.objects.create(question=old, user=alice, helpful=True)
    recent = _question("recent question", days_old=5)
    idle = _conversation(alice, days_idle=45)
    in_idle = _question("in an idle thread", days_old=46, conversation=idle)
    active = _conversation(alice, days_idle=1)
    old_in_active = _question("old turn of a live thread", days_old=31, conversation=active)
    new_in_active = _question("new turn of a live thread", days_old=1, conversation=active)
    with schema_context(globex.schema):  # Globex sets no retention: keeps everything
        ancient = _question("globex keeps this", days_old=400)

    retention_purge_all()  # beat's nightly task (eager here: runs in each schema)

    kept = set(Question.objects.values_list("pk", flat=True))
    assert kept == {recent.pk, new_in_active.pk}
    assert not {old.pk, in_idle.pk, old_in_active.pk} & kept
    assert not Feedback.objects.filter(question_id=old.pk).exists()
    assert set(Conversation.objects.values_list("pk", flat=True)) == {active.pk}
    with schema_context(globex.schema):
        assert Question.objects.filter(pk=ancient.pk).exists()


def test_without_a_retention_nothing_is_purged(acme):
    question = _question("kept forever", days_old=3650)
    retention_purge_all()
    assert Question.objects.filter(pk=question.pk).exists()


def test_retention_is_validated(acme):
    import pytest
    from django.core.exceptions import ValidationError

    settings = AnswerSettings(retention_days=0)
    with pytest.raises(ValidationError):
        settings.full_clean()
