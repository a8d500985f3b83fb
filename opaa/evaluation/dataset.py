"""The dataset of a retrieval evaluation, in the BEIR format: ``corpus.jsonl``,
``queries.jsonl`` (a query may carry a ``metadata`` object, e.g. its ``category``) and
``qrels/test.tsv``; read, checked line by line, and cut down to a smaller run."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file (and line)."""


@dataclass(frozen=True)
class CorpusEntry:
    title: str
    text: str


@dataclass(frozen=True)
class Dataset:
    path: Path
    corpus: dict[str, CorpusEntry]  # in file order
    queries: dict[str, str]  # only the evaluated ones, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {corpus id: relevance score}
    # query id -> the query's ``metadata`` object (``category``, ``language``, ...), if any
    query_metadata: dict[str, dict] = field(default_factory=dict)
    # Queries that no document answers (``metadata.answerable`` false, no judgement): not
    # in the retrieval figures, but asked by the answerability check (``--answers``).
    unanswerable: dict[str, str] = field(default_factory=dict)

    def category(self, query_id: str) -> str | None:
        """The query's ``metadata.category`` if it is a non-empty string, else None."""
        category = self.query_metadata.get(query_id, {}).get("category")
        return category if isinstance(category, str) and category else None


def _lines(path: Path, *, shown: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; DatasetError if it is missing or not UTF-8."""
    if not path.is_file():
        raise DatasetError(f"{shown} is missing (looked for {path}).")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{shown} line {number}: not UTF-8 text.") from exc


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    for number, line in _lines(path, shown=path.name):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path.name} line {number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"{path.name} line {number}: expected a JSON object.")
        yield number, record


def _field(record: dict, key: str, *, where: str, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "_id":
        return str(value)
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field {key!r} is missing or not a string.")
    return value


def _jsonl_load(path: Path, *, with_title: bool) -> dict[str, tuple[str, str]]:
    """``_id`` -> (title, text) of every record, refusing duplicates."""
    records: dict[str, tuple[str, str]] = {}
    for number, record in _jsonl_records(path):
        where = f"{path.name} line {number}"
        record_id = _field(record, "_id", where=where)
        if record_id in records:
            raise DatasetError(f"{where}: duplicate _id {record_id!r}.")
        title = _field(record, "title", where=where, required=False) if with_title else ""
        records[record_id] = (title, _field(record, "text", where=where))
    return records


def _metadata_load(path: Path) -> dict[str, dict]:
    """``_id`` -> ``metadata`` of every query that carries a JSON object there."""
    return {
        str(record["_id"]): record["metadata"]
        for _, record in _jsonl_records(path)
        if isinstance(record.get("metadata"), dict)
    }


def _qrels_load(path: Path, *, queries: Mapping[str, str]) -> dict[str, dict[str, int]]:
    shown = f"qrels/{path.name}"
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _lines(path, shown=shown):
        fields = line.rstrip("\r\n").split("\t")
        if (number == 1 and fields == ["query-id", "corpus-id", "score"]) or not line.strip():
            continue
        where = f"{shown} line {number}"
        if len(fields) != 3 or not re.fullmatch(r"-?\d+", fields[2].strip()):
            raise DatasetError(
                f"{where}: expected query-id, corpus-id and an integer score, tab-separated."
            )
        query_id, corpus_id, score = fields[0].strip(), fields[1].strip(), int(fields[2])
        if query_id not in queries:
            raise DatasetError(f"{where}: query {query_id!r} is not in queries.jsonl.")
        qrels.setdefault(query_id, {})[corpus_id] = score
    return qrels


def dataset_load(*, path: Path) -> Dataset:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` from ``path``.

    Only queries with at least one relevant judgement (score > 0) are kept. Raises
    DatasetError naming the file and line of the first problem.
    """
    corpus = {
        corpus_id: CorpusEntry(title=title, text=text)
        for corpus_id, (title, text) in _jsonl_load(path / "corpus.jsonl", with_title=True).items()
    }
    all_queries = {
        query_id: text
        for query_id, (_, text) in _jsonl_load(path / "queries.jsonl", with_title=False).items()
    }
    qrels = _qrels_load(path / "qrels" / "test.tsv", queries=all_queries)
    judged = {q for q, judgments in qrels.items() if any(s > 0 for s in judgments.values())}
    queries = {q: text for q, text in all_queries.items() if q in judged}
    if not queries:
        raise DatasetError("qrels/test.tsv judges no query relevant to any document.")
    if not corpus:
        raise DatasetError("corpus.jsonl holds no documents.")
    metadata = _metadata_load(path / "queries.jsonl")
    unanswerable = {
        q: text
        for q, text in all_queries.items()
        if q not in judged and metadata.get(q, {}).get("answerable") is False
    }
    return Dataset(
        path=path,
        corpus=corpus,
        queries=queries,
        qrels={q: qrels[q] for q in queries},
        query_metadata={q: metadata[q] for q in (*queries, *unanswerable) if q in metadata},
        unanswerable=unanswerable,
    )


def dataset_limit(
    dataset: Dataset, *, corpus_limit: int | None = None, query_limit: int | None = None
) -> Dataset:
    """The first ``query_limit`` queries, and a corpus of about ``corpus_limit`` documents.

    The documents judged for the kept queries always stay, even past the limit; the
    rest is filled with other documents in file order.
    """
    queries = dict(islice(dataset.queries.items(), query_limit)) if query_limit else dataset.queries
    qrels = {q: dataset.qrels[q] for q in queries}
    corpus = dataset.corpus
    if corpus_limit is not None:
        judged = {corpus_id for judgments in qrels.values() for corpus_id in judgments}
        others = (corpus_id for corpus_id in corpus if corpus_id not in judged)
        kept = judged | set(islice(others, max(corpus_limit - len(judged & corpus.keys()), 0)))
        corpus = {corpus_id: entry for corpus_id, entry in corpus.items() if corpus_id in kept}
    unanswerable = (
        dict(islice(dataset.unanswerable.items(), query_limit))
        if query_limit
        else dataset.unanswerable
    )
    metadata = {
        q: dataset.query_metadata[q]
        for q in (*queries, *unanswerable)
        if q in dataset.query_metadata
    }
    return Dataset(
        path=dataset.path,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        query_metadata=metadata,
        unanswerable=unanswerable,
    )


def dataset_unanswerable_variant(dataset: Dataset, *, share: float, seed: int = 13) -> Dataset:
    """``dataset`` with the relevant documents of about ``share`` of its queries removed.

    The queries chosen (among those with at most two relevant documents, at random with
    ``seed``) and any other query left without a relevant document become unanswerable:
    asked by the answerability check, not scored for retrieval. The others keep their
    remaining judgements. The near-identical neighbours of a removed document stay,
    which makes this the hard case for "not in the documents".
    """
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    candidates = sorted(
        q for q, judged in dataset.qrels.items() if sum(s > 0 for s in judged.values()) <= 2
    )
    chosen = rng.sample(candidates, round(len(dataset.qrels) * share)) if candidates else []
    removed = {doc for q in chosen for doc, score in dataset.qrels[q].items() if score > 0}
    qrels: dict[str, dict[str, int]] = {}
    unanswerable = dict(dataset.unanswerable)
    for q, judged in dataset.qrels.items():
        kept = {doc: score for doc, score in judged.items() if doc not in removed}
        if any(score > 0 for score in kept.values()):
            qrels[q] = kept
        else:
            unanswerable[q] = dataset.queries[q]
    return Dataset(
        path=dataset.path,
        corpus={doc: entry for doc, entry in dataset.corpus.items() if doc not in removed},
        queries={q: text for q, text in dataset.queries.items() if q in qrels},
        qrels=qrels,
        query_metadata=dataset.query_metadata,
        unanswerable=unanswerable,
    )
