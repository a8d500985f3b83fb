"""The facts that answer a question about attributes and numbers, as an answer shows them.

"Which rowers are taller than 1.95 m?" is answered from the facts table
(``search.facts.facts_answer``): the entities whose facts satisfy the question, each
fact with the passage it was read from. The API's answer carries them in ``facts`` and
the ask page shows them as a small table under the answer.

They are read for the person who sees the answer (the asker, or a member reading a
shared conversation), through that person's reader scope: a fact of a document they
may not read is never shown, and an answer hidden from them shows none.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from accounts.models import User
from ingestion.models import Fact
from search.facts import facts_answer
from search.models import Question
from workspaces.readers import reader_scope

# Entities shown at most under one answer.
MAX_ENTITIES = 20


def passage_url(document_id: int, chunk_id: int) -> str:
    """The document opened at the passage (as ``search.streaming.passage_url``)."""
    return f"{reverse('ingestion:document', args=[document_id])}#chunk-{chunk_id}"


def answer_facts(record: Question, *, viewer: User | None) -> list[dict[str, Any]]:
    """The entities that satisfy ``record``'s question, as ``viewer`` may read them:
    ``[{"entity", "document_id", "document_title", "chunk_id", "url", "facts": [{"label",
    "value", "chunk_id", "url"}]}]`` ([] when the question sets no condition on a number,
    nothing readable satisfies it, or the answer is hidden from ``viewer``)."""
    if getattr(record, "hidden", False):
        return []
    readers = reader_scope(viewer, [record.workspace])
    matches = facts_answer(
        record.standalone_text or record.text,
        workspace_ids=[record.workspace_id],
        readers=readers,
        limit=MAX_ENTITIES,
    )
    if not matches:
        return []
    # Each fact's own passage: an entity's facts may come from several of its chunks.
    chunk_of: dict[tuple[int, str, str, str], int] = {}
    rows = (
        Fact.objects.filter(
            workspace_id=record.workspace_id, document_id__in={m.document_id for m in matches}
        )
        .filter(readers.q("document__"))
        .order_by("chunk_id")
        .values_list("document_id", "entity", "label", "value_text", "chunk_id")
    )
    for document_id, entity, label, value, chunk_id in rows:
        chunk_of.setdefault((document_id, entity, label, value), chunk_id)
    found = []
    for match in matches:
        facts = []
        for label, value in dict.fromkeys(match.facts):
            chunk_id = chunk_of.get((match.document_id, match.entity, label, value), match.chunk_id)
            facts.append(
                {
                    "label": label,
                    "value": value,
                    "chunk_id": chunk_id,
                    "url": passage_url(match.document_id, chunk_id),
                }
            )
        found.append(
            {
                "entity": match.entity,
                "document_id": match.document_id,
                "document_title": match.document_title,
                "chunk_id": match.chunk_id,
                "url": passage_url(match.document_id, match.chunk_id),
                "facts": facts,
            }
        )
    return found
