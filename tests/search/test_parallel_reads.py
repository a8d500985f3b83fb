"""A question's keyword search on a second connection beside its embedding and vector
search (``workspaces.rls.parallel``): the same passages as one after the other, in the
asker's organization, workspaces and readers only, and still found after that
connection died.

The organizations are committed (``committed_org``): inside a test's transaction the
other connection could not see the rows, and the search runs one after the other.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django_tenants.utils import schema_context

import search.retrieval as retrieval
from accounts.audit import AuditContext
from accounts.models import User
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set
from search.retrieval import hybrid_search
from tests.conftest import api_client, named_file
from workspaces.models import Group, Workspace
from workspaces.readers import ReaderScope, reader_scope
from workspaces.rls import organization_scope, workspaces_scope

QUESTION = "How is a lost badge replaced at reception?"
DOCS = {
    "badge.md": b"# Badges\n\nA lost badge is replaced by reception; the old badge is blocked.\n",
    "vpn.md": b"# Remote access\n\nThe VPN client needs a hardware token from the service desk.\n",
    "desk.md": b"# Service desk\n\nThe service desk replaces a lost token within a day.\n",
    "secret.md": b"# Finance badges\n\nFinance badges are replaced at reception by the CFO.\n",
}


@pytest.fixture
def where_keywords_ran(monkeypatch):
    """For each keyword search of the test: its thread's name and its connection's server
    process (a spy around ``search.retrieval.bm25_search``, which it still calls)."""
    seen: list[tuple[str, int]] = []
    ranking = retrieval.bm25_search

    def spied(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            seen.append((threading.current_thread().name, cursor.fetchone()[0]))
        return ranking(*args, **kwargs)

    monkeypatch.setattr(retrieval, "bm25_search", spied)
    return seen


def _organization(committed_org, slug: str, *, reverse: bool = False) -> tuple:
    """An organization holding DOCS (uploaded in reverse order: other ids for the same
    texts), "Finance badges" restricted to the finance group."""
    org = committed_org(slug, f"owner@{slug}.example")
    owner = api_client(org, f"owner@{slug}.example")
    for name, data in sorted(DOCS.items(), reverse=reverse):
        created = owner.post("/api/v1/documents", {"file": named_file(name, data)})
        assert created.status_code == 201, created.content
    with schema_context(org.schema), organization_scope():
        Group.objects.create(name="Finance", slug="finance")
        document_readers_set(
            document=Document.objects.get(title="Finance badges"),
            readers=["group:finance"],
            audit=AuditContext(),
        )
    connection.set_schema_to_public()  # the next organization is created from there
    return org


def _ids(passages) -> list[int]:
    return [p.chunk_id for p in passages]


def test_the_keyword_search_runs_beside_with_the_same_results(committed_org, where_keywords_ran):
    org = _organization(committed_org, "beside")
    with schema_context(org.schema), organization_scope():
        general = Workspace.objects.get(slug="general")
        secret = set(
            Chunk.objects.filter(document__title="Finance badges").values_list("pk", flat=True)
        )
        owner = reader_scope(User.objects.get(email="owner@beside.example"), [general])
        outsider = ReaderScope(principals=("user:nobody@beside.example",))
        for readers, sees_secret in ((owner, True), (outsider, False)):
            search = {"workspace_ids": [general.pk], "readers": readers, "k": 4}
            with override_settings(DATABASE_PARALLEL_READS=0):
                serial = hybrid_search(QUESTION, **search)
            assert where_keywords_ran[-1][0] == threading.current_thread().name
            beside = hybrid_search(QUESTION, **search)
            assert where_keywords_ran[-1][0].startswith("opaa-read-beside")
            assert where_keywords_ran[-1][1] != where_keywords_ran[-2][1]  # another connection
            assert _ids(beside) == _ids(serial)
            assert [p.score for p in beside] == pytest.approx([p.score for p in serial])
            assert bool(secret & set(_ids(beside))) is sees_secret
        for _ in range(6):  # however many questions: a connection per thread at most
            hybrid_search(QUESTION, workspace_ids=[general.pk], readers=owner, k=4)
        held = {pid for thread, pid in where_keywords_ran if thread.startswith("opaa-read-beside")}
        assert 1 <= len(held) <= settings.DATABASE_PARALLEL_READS

        # The row-level security scope goes along: in a scope without General the
        # other connection sees none of its chunks either (the vector side neither).
        sales = Workspace.objects.create(name="Sales", slug="sales")
        with workspaces_scope([sales.pk]):
            assert hybrid_search(QUESTION, workspace_ids=[general.pk], readers=owner, k=4) == []
        assert where_keywords_ran[-1][0].startswith("opaa-read-beside")


def test_each_organization_its_own_chunks_and_a_dead_connection(committed_org, where_keywords_ran):
    """The other connection follows the asker from one organization to the next: the same
    ids hold other texts in the two, so a keyword search in the wrong schema would rank
    other chunks than the search one after the other does."""
    first = _organization(committed_org, "besidea")
    second = _organization(committed_org, "besideb", reverse=True)

    def both(org) -> tuple[list[int], list[int]]:
        with schema_context(org.schema), organization_scope():
            general = Workspace.objects.get(slug="general")
            search = {
                "workspace_ids": [general.pk],
                "readers": ReaderScope.everything([general.pk]),
                "k": 4,
            }
            with override_settings(DATABASE_PARALLEL_READS=0):
                serial = hybrid_search(QUESTION, **search)
            beside = hybrid_search(QUESTION, **search)
        assert where_keywords_ran[-1][0].startswith("opaa-read-beside")
        return _ids(serial), _ids(beside)

    rankings = {}
    for org in (first, second, first, second):
        serial, beside = both(org)
        assert beside == serial
        rankings[org.schema] = serial
    assert rankings[first.schema] != rankings[second.schema]

    # The other connections are cut (a restarted or failed-over Postgres): the next
    # question still finds the same passages, on new connections.
    beside = {pid for thread, pid in where_keywords_ran if thread.startswith("opaa-read-beside")}
    with connection.cursor() as cursor:
        for pid in beside:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    for org in (first, second):
        serial, again = both(org)
        assert again == serial == rankings[org.schema]
    assert where_keywords_ran[-1][1] not in beside


def test_a_large_scopes_stale_chunks_are_read_again_beside(committed_org, monkeypatch):
    """A large scope's kept chunks, once ``BM25_STATISTICS_SECONDS`` old, still answer
    the next question while another connection reads them again: that question does not
    wait for the read (it counts a document deleted meanwhile), the ones after count
    what is there now."""
    from django.core.cache import cache

    import ingestion.index as index

    monkeypatch.setattr(index, "BM25_EXACT_MAX_CHUNKS", 0)
    org = _organization(committed_org, "stale")
    with schema_context(org.schema), organization_scope():
        general = Workspace.objects.get(slug="general")
        readers = ReaderScope.everything([general.pk])
        kwargs = {"workspace_ids": [general.pk], "readers": readers}
        index._KEPT.clear()
        total = Chunk.objects.filter(workspace=general).count()
        assert index.bm25_question_statistics(QUESTION, **kwargs)[0] == total

        # The kept set grows old, and a document is deleted meanwhile.
        key = index._Statistics({"workspaces": [general.pk]}, readers).key("chunks")
        kept_at, ids, lengths = cache.get(key)
        old = kept_at - index.BM25_STATISTICS_SECONDS - 1
        cache.set(key, (old, ids, lengths), timeout=600)
        index._KEPT.clear()
        gone = Document.objects.get(title="Remote access")
        gone_chunks = Chunk.objects.filter(document=gone).count()
        gone.delete()

        assert index.bm25_question_statistics(QUESTION, **kwargs)[0] == total  # stale
        deadline = time.monotonic() + 30
        while cache.get(key)[0] == old and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cache.get(key)[0] > kept_at  # read again, on the other connection
        index._KEPT.clear()
        assert index.bm25_question_statistics(QUESTION, **kwargs)[0] == total - gone_chunks
