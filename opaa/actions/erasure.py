"""Erasing a person from an organization (GDPR), across the apps that hold their traces."""

from __future__ import annotations

from django.db import transaction

from accounts.audit import AuditContext
from accounts.models import User
from accounts.services import user_delete
from ingestion.readers import readers_pseudonymize
from search.erasure import answers_cache_delete, questions_of_user_delete


def user_erase(*, user: User, audit: AuditContext | None = None) -> str:
    """Erase a person from their organization; returns their audit pseudonym.

    Deleted, in one transaction: every question they asked with its answer and the
    feedback on it, their conversations (search); their account, sessions, memberships,
    sign-in identities, API tokens (and their Redis counters) and their feedback on
    others' answers (accounts); the organization's cached answers (search). Documents
    they uploaded belong to their workspace and stay (uploader blanked); where they are
    named as a reader, a stand-in that matches nobody takes their place (ingestion). The
    audit log keeps its events with the person replaced by a keyed pseudonym; a
    ``user.erased`` event records the erasure itself. The organization's only owner
    cannot be erased (delete the organization instead): ValidationError, nothing
    deleted. Not idempotent by nature: the user row is gone afterwards.
    """
    email = user.email
    with transaction.atomic():
        # Before the account: its deletion would leave the questions with no asker. The
        # only-owner check is user_delete's: refused there, all of this is rolled back.
        questions_of_user_delete(user_id=user.pk)
        pseudonym = user_delete(user=user, audit=audit)
        readers_pseudonymize(email=email, pseudonym=pseudonym)
        answers_cache_delete()
    return pseudonym
