"""Build the synthetic evaluation sets in BEIR format (deterministic: fixed seeds).

    .venv/bin/python bench/datasets/build.py            # writes the committed sets
    .venv/bin/python bench/datasets/build.py --check    # fails if they differ from a rebuild

Writes, under ``bench/datasets/``:

- ``entities/``: short English pages of fictional people, products and places, with
  English and German questions (categories ``name``, ``description``,
  ``multi-attribute``, ``numeric-range``; German ones prefixed ``de-``) and questions
  about entities that do not exist (``nonexistent``, ``answerable: false``).
- ``german-long/``: long German policies, manuals and reports, with German questions
  (``fact``: the document's words; ``paraphrase``), English ones (``en-fact``) and
  questions about companies that do not exist (``nonexistent``).
- ``catalogue/``: a second entity set written independently of the first (companies,
  software projects, medicines, ships; a quarter of the pages German; other page shapes
  and spellings), with the same kinds of questions, ``nonexistent`` ones and ranges
  nothing satisfies (``empty-range``, ``answerable: false``).
- ``generated/<set>-unanswerable/`` (not committed; rebuilt in seconds): a copy of
  each set with the relevant documents of some questions removed; those questions are
  ``answerable: false`` and unjudged, the others keep their judgements.

Every query's ``metadata`` holds ``category``, ``language`` and ``answerable``. Needs no
network, no model and nothing outside the standard library.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogue import catalogue_set
from entities import entity_set
from german_docs import COMPANY_STEMS, german_set

HERE = Path(__file__).resolve().parent
SEED_ENTITIES = 1301
SEED_GERMAN = 1302
SEED_REMOVED = 1303
SEED_CATALOGUE = 1304


def _write(
    root: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str]]
) -> None:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for record in corpus:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for record in queries:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (root / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id, corpus_id in qrels:
            handle.write(f"{query_id}\t{corpus_id}\t1\n")


def _query(query_id: str, text: str, category: str, language: str, answerable: bool) -> dict:
    return {
        "_id": query_id,
        "text": text,
        "metadata": {"category": category, "language": language, "answerable": answerable},
    }


def entities_build() -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    pages, questions, missing = entity_set(random.Random(SEED_ENTITIES))
    queries, qrels = [], []
    for n, question in enumerate(questions, start=1):
        query_id = f"e{n:03d}"
        category = question.category if question.language == "en" else f"de-{question.category}"
        queries.append(_query(query_id, question.text, category, question.language, True))
        qrels += [(query_id, doc) for doc in question.relevant]
    for n, question in enumerate(missing, start=1):
        queries.append(
            _query(f"e-missing{n:02d}", question.text, "nonexistent", question.language, False)
        )
    return pages, queries, qrels


def catalogue_build() -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    pages, questions, missing = catalogue_set(random.Random(SEED_CATALOGUE))
    queries, qrels = [], []
    for n, question in enumerate(questions, start=1):
        query_id = f"k{n:03d}"
        queries.append(_query(query_id, question.text, question.category, question.language, True))
        qrels += [(query_id, doc) for doc in question.relevant]
    for n, question in enumerate(missing, start=1):
        queries.append(
            _query(f"k-missing{n:02d}", question.text, question.category, question.language, False)
        )
    return pages, queries, qrels


MISSING_GERMAN = [
    ("Wie hoch ist das Tagegeld bei Dienstreisen der {c}?", "de"),
    ("Wie viele Urlaubstage haben Beschäftigte der {c}?", "de"),
    ("Wie lang muss ein Passwort bei der {c} mindestens sein?", "de"),
    ("What was the revenue of {c} in Q2 2023?", "en"),
    ("How much is the monthly home office allowance at {c}?", "en"),
]


def german_build() -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    rng = random.Random(SEED_GERMAN)
    pages, facts = german_set(rng, documents=160)
    chosen = rng.sample(facts, 100)
    queries, qrels = [], []

    def add(category: str, language: str, text: str, doc: str) -> None:
        query_id = f"g{len(queries) + 1:03d}"
        queries.append(_query(query_id, text, category, language, True))
        qrels.append((query_id, doc))

    for fact in chosen[:55]:
        add("fact", "de", fact.de, fact.doc_id)
    for fact in chosen[55:]:
        add("paraphrase", "de", fact.de_para, fact.doc_id)
    for fact in chosen[:45]:  # the same facts as the first German ones: comparable
        add("en-fact", "en", fact.en, fact.doc_id)
    known = {page["title"] for page in pages}
    for n in range(15):
        company = (
            f"{rng.choice(['Zugspitz', 'Wattenmeer', 'Silberdistel', 'Achental'])} "
            f"{rng.choice(['GmbH', 'AG', 'Logistik GmbH'])}"
        )
        assert company.split()[0] not in COMPANY_STEMS
        assert all(company not in t for t in known)
        template, language = MISSING_GERMAN[n % len(MISSING_GERMAN)]
        queries.append(
            _query(
                f"g-missing{n + 1:02d}", template.format(c=company), "nonexistent", language, False
            )
        )
    return pages, queries, qrels


def unanswerable_variant(
    corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str]], *, share: float
) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    """Remove the relevant documents of about ``share`` of the judged questions.

    A question left without any relevant document becomes ``answerable: false`` (and
    keeps its category); the others keep their remaining judgements.
    """
    rng = random.Random(SEED_REMOVED)
    relevant: dict[str, set[str]] = {}
    for query_id, doc in qrels:
        relevant.setdefault(query_id, set()).add(doc)
    # Small relevant sets only: removing the 25 answers of a range question empties a
    # tenth of a category's corpus.
    candidates = [q for q, docs in relevant.items() if len(docs) <= 2]
    removed_for = set(rng.sample(candidates, round(len(relevant) * share)))
    removed = set().union(*(relevant[q] for q in removed_for))
    kept_qrels = [(q, doc) for q, doc in qrels if doc not in removed]
    still = {q for q, _ in kept_qrels}
    variant_queries = []
    for query in queries:
        query = json.loads(json.dumps(query))
        if query["_id"] in relevant and query["_id"] not in still:
            query["metadata"]["answerable"] = False
        variant_queries.append(query)
    return [page for page in corpus if page["_id"] not in removed], variant_queries, kept_qrels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary directory and compare with the committed sets",
    )
    args = parser.parse_args()
    out = args.out
    if args.check:
        import filecmp
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="opaa-datasets-"))
    sets = {
        "entities": entities_build(),
        "german-long": german_build(),
        "catalogue": catalogue_build(),
    }
    for name, (corpus, queries, qrels) in sets.items():
        _write(out / name, corpus, queries, qrels)
        _write(
            out / "generated" / f"{name}-unanswerable",
            *unanswerable_variant(corpus, queries, qrels, share=0.3),
        )
        judged = {q for q, _ in qrels}
        print(
            f"{name}: {len(corpus)} documents, {len(queries)} queries "
            f"({len(judged)} judged), {len(qrels)} judgements",
            file=sys.stderr,
        )
    if args.check:
        for name in sets:
            for file in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
                if not filecmp.cmp(out / name / file, HERE / name / file, shallow=False):
                    sys.exit(f"{name}/{file} differs from a rebuild")
        print("the committed sets match a rebuild", file=sys.stderr)


if __name__ == "__main__":
    main()
