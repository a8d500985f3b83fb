"""Documents that carry the load: most cited, never cited, stale; failing sources."""

from __future__ import annotations

import datetime as dt

from analytics.selectors import (
    documents_most_cited,
    documents_never_cited,
    documents_stale,
    sources_failing,
)
from ingestion.models import Document, DocumentStatus, Source, SyncRun, SyncStatus
from search.models import Question


def _document(workspace, title: str, *, indexed: str | None = "2026-03-01") -> Document:
    document = Document.objects.create(
        workspace=workspace,
        title=title,
        original_filename=f"{title}.md",
        storage_key=f"test/{workspace.slug}/{title}",
        mime_type="text/markdown",
        size_bytes=1,
        sha256="0" * 64,
        status=DocumentStatus.INDEXED,
        indexed_at=dt.datetime.fromisoformat(indexed).replace(tzinfo=dt.UTC) if indexed else None,
    )
    return document


def _cite(question: Question, *documents: Document) -> None:
    citations = [
        {
            "number": n,
            "chunk_id": d.pk * 10,
            "document_id": d.pk,
            "document_title": d.title,
            "text": "t",
        }
        for n, d in enumerate(documents, 1)
    ]
    Question.objects.filter(pk=question.pk).update(citations=citations)


def test_most_never_and_stale(history):
    q = history.questions
    handbook = _document(history.general, "Handbook", indexed="2025-01-10")
    travel = _document(history.general, "Travel policy")
    _document(history.general, "Unused")
    sales_doc = _document(history.sales, "Sales deck")
    _cite(q["q1"], handbook, travel)
    _cite(q["q3"], handbook, handbook)  # cited twice by one answer: one question
    _cite(q["q4"], handbook)
    _cite(q["q0"], travel, travel)  # before the period: not counted
    _cite(q["sales"], sales_doc)
    most = documents_most_cited(workspaces=[history.general], period=history.period)
    assert [(d.title, d.questions) for d in most] == [("Handbook", 3), ("Travel policy", 1)]
    assert most[0].workspace == "General"
    count, never = documents_never_cited(workspaces=[history.general], period=history.period)
    assert count == 1
    assert [d.title for d in never] == ["Unused"]
    now = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    stale = documents_stale(workspaces=[history.general], period=history.period, now=now)
    assert [(d.title, d.questions) for d in stale] == [("Handbook", 3)]
    # Sales' documents are not General's, and the other way round.
    sales = documents_most_cited(workspaces=[history.sales], period=history.period)
    assert [d.title for d in sales] == ["Sales deck"]


def test_sources_whose_syncs_fail(history):
    from ingestion import sources

    connector = sources.connector_create(name="Share", kind="filesystem")
    failing, fine = (
        Source.objects.create(
            connector=connector, workspace=history.general, name=name, paths=["/srv"]
        )
        for name in ("Share A", "Share B")
    )
    Source.objects.filter(pk=failing.pk).update(consecutive_failures=3)
    SyncRun.objects.create(
        source=failing,
        trigger="schedule",
        status=SyncStatus.FAILED,
        error_message="old",
        finished_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
    SyncRun.objects.create(
        source=failing,
        trigger="schedule",
        status=SyncStatus.FAILED,
        error_message="No such folder: /srv/a",
        finished_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    rows = sources_failing(workspaces=[history.general])
    assert [(s.name, s.consecutive_failures, s.last_error) for s in rows] == [
        ("Share A", 3, "No such folder: /srv/a")
    ]
    assert fine.pk not in [s.id for s in rows]
    assert sources_failing(workspaces=[history.sales]) == []
