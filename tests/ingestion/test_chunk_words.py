"""A chunk's words (``search_vector``, ``lexeme_count``) are written with the chunk, the
same as stemming its text again afterwards gives (``ingestion.index``)."""

from __future__ import annotations

from django.db import transaction

from ingestion.index import search_vector_write
from ingestion.language import paragraphs_by_language
from ingestion.models import Chunk, Document
from tests.ingestion.test_language import ENGLISH, FRENCH

GERMAN = (
    "Die Kilometerpauschale für Fahrten mit dem privaten Fahrzeug beträgt 0,30 EUR je "
    "gefahrenem Kilometer. Übernachtungskosten werden bis zu einem Höchstbetrag von 120 "
    "EUR je Nacht erstattet, wenn die Belege innerhalb von drei Monaten eingereicht werden."
)
# Paragraphs in three languages, met in another order in each section.
DOCUMENT = (
    f"# Reisekosten\n\n## Fahrten\n\n{GERMAN}\n\n{GERMAN}\n\n{FRENCH}\n\n{ENGLISH}\n\n"
    f"## Nächte\n\n{ENGLISH}\n\n{FRENCH}\n\n{GERMAN}\n"
)


def _words(document_id: int) -> dict[int, tuple[str, int]]:
    rows = Chunk.objects.filter(document_id=document_id).values_list(
        "pk", "search_vector", "lexeme_count"
    )
    return {pk: (str(words), count) for pk, words, count in rows}


def test_a_chunks_words_are_written_as_stemming_it_again_makes_them(
    acme, alice_api, upload_indexed
):
    document_id = upload_indexed(alice_api, "reise.md", DOCUMENT.encode())["id"]
    language = Document.objects.get(pk=document_id).language
    texts = Chunk.objects.filter(document_id=document_id).values_list("text", flat=True)
    languages = [set(paragraphs_by_language(text, default=language)) for text in texts]
    assert set().union(*languages) == {"german", "english", "french"}
    written = _words(document_id)
    assert all(count > 0 for _, count in written.values())

    with transaction.atomic():
        search_vector_write(document_id=document_id)

    assert _words(document_id) == written
