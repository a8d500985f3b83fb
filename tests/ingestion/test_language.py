"""Language per paragraph: a translated paragraph cannot poison keyword search."""

from __future__ import annotations

from ingestion.index import bm25_ranking
from ingestion.language import detect_language, paragraphs_by_language
from ingestion.models import Chunk, Document
from workspaces.models import Workspace
from workspaces.readers import ReaderScope

ENGLISH = (
    "The study followed soil bacteria in wheat fields for three seasons. We report who "
    "should sample the fields, how often, and what the results say about nitrogen."
)
FRENCH = (
    "L'étude a suivi les bactéries du sol dans des champs de blé pendant trois saisons. "
    "Nous indiquons qui doit prélever les échantillons, à quelle fréquence, et ce que les "
    "résultats disent de l'azote dans les sols agricoles de la région étudiée."
)
# An English corpus; the question is about insulin pumps, and asks it in many stop words.
CORPUS = {
    "pumps.md": "# Insulin pumps\n\nInsulin pumps deliver a steady dose to adults with "
    "type 1 diabetes; the trial compared them with daily injections.\n",
    "sleep.md": "# Sleep\n\nShift workers slept less and reported more headaches during "
    "night shifts than during day shifts.\n",
    "coffee.md": "# Coffee\n\nCoffee intake was not associated with heart rhythm disorders "
    "in a cohort of older adults.\n",
    "soil.md": f"# Soil bacteria\n\n{ENGLISH}\n\n{FRENCH}\n",
}
QUESTION = "Who should know about insulin pumps?"


def everything(workspace: Workspace) -> ReaderScope:
    return ReaderScope.everything([workspace.pk])


def _documents(query: str, workspace: Workspace) -> list[int]:
    ranked = bm25_ranking(
        query, workspace_ids=[workspace.pk], readers=everything(workspace), limit=10
    )
    chunks = Chunk.objects.in_bulk([r.chunk_id for r in ranked])
    return [chunks[r.chunk_id].document_id for r in ranked]


def test_a_translated_paragraph_keeps_its_own_language_and_not_its_neighbours():
    text = f"{ENGLISH}\n\n{FRENCH}"
    # The French paragraph is the longer one: the document counts as French ...
    assert detect_language(text) == "french"
    # ... but each paragraph is stemmed in its own language.
    assert paragraphs_by_language(text, default="french") == {"french": FRENCH, "english": ENGLISH}
    # A short line (a caption, a name) is too little to tell: it follows the document.
    assert paragraphs_by_language("Figure 2: Wheat\n\n" + FRENCH, default="french") == {
        "french": "Figure 2: Wheat\n\n" + FRENCH
    }


def test_one_translated_paragraph_does_not_change_the_documents_language():
    text = f"{ENGLISH} {ENGLISH}\n\n{FRENCH}"
    assert detect_language(text) == "english"


def test_english_stop_words_do_not_match_a_document_with_a_french_paragraph(
    acme, alice_api, upload_indexed
):
    ids = {
        name: upload_indexed(alice_api, name, text.encode())["id"] for name, text in CORPUS.items()
    }
    general = Workspace.objects.get(slug="general")
    assert Document.objects.get(pk=ids["soil.md"]).language == "french"
    ranked = _documents(QUESTION, general)
    assert ranked[0] == ids["pumps.md"]
    # "who", "should" and "about" are English stop words: they carry no weight, also
    # against the English paragraph of a document counted as French.
    assert ids["soil.md"] not in ranked
    assert _documents("who should about", general) == []
    # The French paragraph is found by its French words, stemmed in French.
    assert _documents("échantillon bactérie", general)[0] == ids["soil.md"]


def test_a_stop_word_of_any_language_searched_carries_no_weight(acme, alice_api, upload_indexed):
    # A French document whose short English line is indexed as French ("who" kept);
    # English documents beside it, so the question is stemmed in English and French.
    upload_indexed(alice_api, "pumps.md", CORPUS["pumps.md"].encode())
    upload_indexed(alice_api, "fr.md", f"# Champs\n\n{FRENCH}\n\nWho knows.\n".encode())
    general = Workspace.objects.get(slug="general")
    assert _documents("who", general) == []


def test_german_documents_keep_german_stemming(acme, alice_api, upload_indexed):
    german = (
        "# Reisekosten\n\nDie Kilometerpauschale für Fahrten mit dem privaten Fahrzeug "
        "beträgt 0,30 EUR je gefahrenem Kilometer. Übernachtungskosten werden bis zu "
        "einem Höchstbetrag von 120 EUR je Nacht erstattet.\n"
    )
    upload_indexed(alice_api, "pumps.md", CORPUS["pumps.md"].encode())
    document_id = upload_indexed(alice_api, "reise.md", german.encode())["id"]
    assert Document.objects.get(pk=document_id).language == "german"
    general = Workspace.objects.get(slug="general")
    assert _documents("Kilometerpauschalen Übernachtungskosten", general) == [document_id]
