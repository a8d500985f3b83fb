"""Retrieval quality on a BEIR-format dataset: load it, index it, rank it three ways, score.

``evaluation_run`` ingests the corpus into a throwaway organization through the real
upload and indexing pipeline, ranks every judged query with the retrieval functions the
product uses (keyword, vector, and their reciprocal-rank fusion), and scores the
document rankings. The metric functions are pure and follow the usual BEIR/trec_eval
definitions: graded gain taken as the qrels score, log2 discount.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from statistics import fmean

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from ingestion.embedding import embed_texts
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.storage import original_delete
from ingestion.uploads import document_upload
from search.retrieval import (
    CANDIDATES_PER_RANKER,
    Ranked,
    keyword_ranking,
    reciprocal_rank_fusion,
    vector_ranking,
)
from tenants.models import Organization
from tenants.services import organization_create, organization_delete
from workspaces.models import Workspace
from workspaces.readers import ReaderScope

METHODS = ("keyword", "vector", "hybrid")
# Documents scored per query: the deepest cutoff reported (Recall@100).
TOP_DOCUMENTS = 100
# Chunks asked of each ranker: as many as ``hybrid_search`` asks, so the hybrid figure
# is what users get and keyword and vector are measured at the same depth. A document
# is often cut into several chunks, so fewer than TOP_DOCUMENTS documents may come back;
# the report's mean "documents returned" shows how many (and so what Recall@100 means).
CHUNK_DEPTH = CANDIDATES_PER_RANKER
PROGRESS_EVERY_DOCUMENTS = 100
# Also report indexing progress at least this often (long documents index slowly).
PROGRESS_EVERY_SECONDS = 10.0
PROGRESS_EVERY_QUERIES = 50

Progress = Callable[[str], None]


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file (and line)."""


# --- The dataset --------------------------------------------------------------------


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
    return Dataset(
        path=path,
        corpus=corpus,
        queries=queries,
        qrels={q: qrels[q] for q in queries},
        query_metadata={q: metadata[q] for q in queries if q in metadata},
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
    metadata = {q: dataset.query_metadata[q] for q in queries if q in dataset.query_metadata}
    return Dataset(
        path=dataset.path, corpus=corpus, queries=queries, qrels=qrels, query_metadata=metadata
    )


# --- Metrics (pure) -----------------------------------------------------------------


def _dcg(gains: Sequence[float]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """nDCG@k with the qrels score as gain; ``ranking`` holds distinct document ids."""
    ideal = _dcg(sorted((s for s in judgments.values() if s > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg([max(judgments.get(doc, 0), 0) for doc in ranking[:k]]) / ideal


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (score > 0) found in the top ``k``."""
    relevant = {doc for doc, score in judgments.items() if score > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top ``k``, else 0."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judgments.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating linearly between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def documents_from_chunks(
    ranked: Sequence[Ranked], *, chunk_documents: Mapping[int, str | Sequence[str]], limit: int
) -> list[str]:
    """Corpus ids in the order of their best chunk, each once, at most ``limit``.

    A chunk may stand for several corpus ids (entries with identical content share one
    indexed document): they follow each other at that chunk's place, in corpus order.
    """
    documents: list[str] = []
    seen: set[str] = set()
    for item in ranked:
        found = chunk_documents.get(item.chunk_id)
        for document in (found,) if isinstance(found, str) else found or ():
            if document in seen:
                continue
            seen.add(document)
            documents.append(document)
            if len(documents) == limit:
                return documents
    return documents


# --- The run ------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodScores:
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p95_ms: float
    documents_returned: float  # mean per query, at most TOP_DOCUMENTS


@dataclass(frozen=True)
class EvaluationReport:
    dataset: str
    corpus_size: int
    query_count: int
    documents_failed: int
    organization: str
    kept: bool
    timings: dict[str, float]
    methods: dict[str, MethodScores]
    categories: dict[str, dict[str, MethodScores]] = field(default_factory=dict)
    category_sizes: dict[str, int] = field(default_factory=dict)
    per_query: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The report without the per-query rows (``per_query_lines`` has those)."""
        report = asdict(self)
        del report["per_query"]
        return report

    def per_query_lines(self) -> Iterator[str]:
        """One JSON object per query: its id, text, category and, per method, the
        metrics and the rank of each relevant corpus id (null: not in the top 100)."""
        for row in self.per_query:
            yield json.dumps(row, ensure_ascii=False)


# The evaluation acts for no person: it measures ranking over every document.


def _keyword(text: str, workspace_ids: Sequence[int]) -> list[Ranked]:
    readers = ReaderScope.everything(workspace_ids)
    return keyword_ranking(text, workspace_ids=workspace_ids, readers=readers, limit=CHUNK_DEPTH)


def _vector(text: str, workspace_ids: Sequence[int]) -> list[Ranked]:
    [vector] = embed_texts([text])
    readers = ReaderScope.everything(workspace_ids)
    return vector_ranking(vector, workspace_ids=workspace_ids, readers=readers, limit=CHUNK_DEPTH)


def _hybrid(keyword: Sequence[Ranked], vector: Sequence[Ranked]) -> list[Ranked]:
    """The two rankings fused as ``hybrid_search`` fuses: the configured RRF constant and
    weights. The hybrid reuses the keyword and vector results rather than ranking again."""
    return reciprocal_rank_fusion(
        keyword,
        vector,
        k=settings.FUSION_RRF_K,
        weights=(settings.FUSION_KEYWORD_WEIGHT, settings.FUSION_VECTOR_WEIGHT),
    )


RANKERS: dict[str, Callable[[str, Sequence[int]], list[Ranked]]] = {
    "keyword": _keyword,
    "vector": _vector,
}


@contextmanager
def _indexing_in_process() -> Iterator[None]:
    """Run the indexing task that ``document_upload`` enqueues at once, in this process.

    The upload commits and its on-commit hook calls ``index_document.delay``; eager
    Celery turns that into a direct call of the task (in the organization's schema, as
    a worker would run it), so the run needs no broker or worker and indexes each
    document exactly once. Errors the task does not handle itself propagate.
    """
    from infra.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def _as_markdown(corpus_id: str, entry: CorpusEntry) -> SimpleUploadedFile:
    title = " ".join(entry.title.split())
    body = f"# {title}\n\n{entry.text}\n" if title else f"{entry.text}\n"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", corpus_id)[:200] or "document"
    return SimpleUploadedFile(f"{name}.md", body.encode(), content_type="text/markdown")


def corpus_ingest(
    *, corpus: Mapping[str, CorpusEntry], workspace: Workspace, user: User, progress: Progress
) -> dict[int, list[str]]:
    """Upload and index every entry in the current schema; returns document id -> corpus ids.

    Entries with identical content are one document to the product (the upload's
    duplicate detection returns the first), so that document stands for all their corpus
    ids. File names are made unique, so that no entry replaces another as a new version.
    """
    documents: dict[int, list[str]] = {}
    names: set[str] = set()
    started = reported = time.perf_counter()
    with _indexing_in_process():
        for done, (corpus_id, entry) in enumerate(corpus.items(), start=1):
            file = _as_markdown(corpus_id, entry)
            stem, suffix = file.name.removesuffix(".md"), 1
            while file.name in names:
                suffix += 1
                file.name = f"{stem}-{suffix}.md"
            names.add(file.name)
            document = document_upload(workspace=workspace, user=user, file=file)
            documents.setdefault(document.pk, []).append(corpus_id)
            now = time.perf_counter()
            due = done % PROGRESS_EVERY_DOCUMENTS == 0 or now - reported >= PROGRESS_EVERY_SECONDS
            if due or done == len(corpus):
                reported, elapsed = now, now - started
                chunks = Chunk.objects.count()
                progress(
                    f"indexed {done}/{len(corpus)} documents, {chunks} chunks "
                    f"({_rate(done, elapsed)} docs/s, {_rate(chunks, elapsed)} chunks/s)"
                )
    return documents


def _rate(count: int, seconds: float) -> str:
    """``count / seconds`` with three significant digits (0.0123, 1.23, 123)."""
    return f"{count / seconds:.3g}" if seconds > 0 else "-"


def fusion_method_name(weights: tuple[float, float]) -> str:
    return f"hybrid {weights[0]:g}:{weights[1]:g}"


def _relevant_ranks(ranking: Sequence[str], judgments: Mapping[str, int]) -> dict[str, int | None]:
    """Rank (1-based) of each relevant corpus id in ``ranking``; None if it is not there."""
    position = {document: rank for rank, document in enumerate(ranking, start=1)}
    return {doc: position.get(doc) for doc, score in judgments.items() if score > 0}


def _aggregate(rows: Sequence[Mapping], methods: Sequence[str]) -> dict[str, MethodScores]:
    """Mean metrics and latency percentiles of each method over ``rows`` (per-query rows)."""
    scores: dict[str, MethodScores] = {}
    for method in methods:
        results = [row["methods"][method] for row in rows]
        latencies = [result["latency_ms"] for result in results]
        scores[method] = MethodScores(
            ndcg_at_10=fmean(result["ndcg_at_10"] for result in results),
            recall_at_10=fmean(result["recall_at_10"] for result in results),
            recall_at_100=fmean(result["recall_at_100"] for result in results),
            mrr_at_10=fmean(result["mrr_at_10"] for result in results),
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            documents_returned=fmean(result["documents_returned"] for result in results),
        )
    return scores


@dataclass(frozen=True)
class Scored:
    methods: dict[str, MethodScores]
    # category -> method -> scores, over the queries of that category (empty: no categories)
    categories: dict[str, dict[str, MethodScores]]
    category_sizes: dict[str, int]
    per_query: list[dict]  # one row per query: id, category, each method's metrics and ranks


def methods_score(
    *,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    workspace_ids: Sequence[int],
    chunk_documents: Mapping[int, str | Sequence[str]],
    progress: Progress,
    fusion_weights: Sequence[tuple[float, float]] = (),
    categories: Mapping[str, str | None] | None = None,
) -> Scored:
    """Rank every query with every method; average the metrics overall and per category.

    A method's latency covers the whole ranking call, including the query embedding.
    Each (keyword, vector) pair of ``fusion_weights`` adds a method ``hybrid k:v``: the
    same two rankings fused with those weights (its latency is the hybrid's).
    ``categories`` maps a query id to its category; queries without one count only in
    the overall figures.
    """
    embed_texts(["warm-up"])  # load the model before anything is timed
    categories = categories or {}
    methods = [*METHODS, *(fusion_method_name(weights) for weights in fusion_weights)]
    rows: list[dict] = []

    def score(ranked: Sequence[Ranked], judgments: Mapping[str, int], latency: float) -> dict:
        ranking = documents_from_chunks(
            ranked, chunk_documents=chunk_documents, limit=TOP_DOCUMENTS
        )
        return {
            "ndcg_at_10": ndcg_at_k(ranking, judgments, 10),
            "recall_at_10": recall_at_k(ranking, judgments, 10),
            "recall_at_100": recall_at_k(ranking, judgments, 100),
            "mrr_at_10": mrr_at_k(ranking, judgments, 10),
            "latency_ms": latency,
            "documents_returned": len(ranking),
            "relevant_ranks": _relevant_ranks(ranking, judgments),
        }

    for done, (query_id, text) in enumerate(queries.items(), start=1):
        judgments = qrels[query_id]
        rankings: dict[str, list[Ranked]] = {}
        results: dict[str, dict] = {}
        for method, ranker in RANKERS.items():
            started = time.perf_counter()
            rankings[method] = ranker(text, workspace_ids)
            latency = (time.perf_counter() - started) * 1000
            results[method] = score(rankings[method], judgments, latency)
        # The hybrid's latency: both rankings (as hybrid_search runs them) plus the fusion.
        started = time.perf_counter()
        rankings["hybrid"] = _hybrid(rankings["keyword"], rankings["vector"])
        latency = (time.perf_counter() - started) * 1000
        latency += results["keyword"]["latency_ms"] + results["vector"]["latency_ms"]
        results["hybrid"] = score(rankings["hybrid"], judgments, latency)
        for weights in fusion_weights:
            fused = reciprocal_rank_fusion(
                rankings["keyword"], rankings["vector"], k=settings.FUSION_RRF_K, weights=weights
            )
            latency = results["hybrid"]["latency_ms"]
            results[fusion_method_name(weights)] = score(fused, judgments, latency)
        rows.append(
            {
                "query_id": query_id,
                "text": text,
                "category": categories.get(query_id),
                "methods": results,
            }
        )
        if done % PROGRESS_EVERY_QUERIES == 0 or done == len(queries):
            progress(f"ranked {done}/{len(queries)} queries")
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        if row["category"] is not None:
            grouped.setdefault(row["category"], []).append(row)
    return Scored(
        methods=_aggregate(rows, methods),
        categories={name: _aggregate(members, methods) for name, members in grouped.items()},
        category_sizes={name: len(members) for name, members in grouped.items()},
        per_query=rows,
    )


def _connection_renew() -> None:
    """Start the clean-up on a new database connection.

    Ctrl-C or SIGTERM raises ``KeyboardInterrupt`` wherever the run is, also inside a
    query: that connection is left mid-command ("another command is already in
    progress"), and its server process may still hold locks on the organization's
    schema. The command is cancelled on the server and the connection closed; Django
    opens a new one on the next query.
    """
    raw = connection.connection
    if raw is not None:
        # The connection is being thrown away: a failure to cancel or close it is moot.
        with contextlib.suppress(Exception):
            raw.cancel()
    try:
        connection.close()
    except Exception:
        connection.connection = None


def _organization_discard(slug: str, progress: Progress) -> None:
    """Delete the throwaway organization, its schema and its stored originals, if any."""
    _connection_renew()
    connection.set_schema_to_public()
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        return
    with schema_context(organization.schema_name):
        keys = list(Document.objects.values_list("storage_key", flat=True))
    for key in keys:
        original_delete(key)
    organization_delete(organization=organization)
    progress(f"removed organization {slug}")


def evaluation_run(
    *,
    dataset: Dataset,
    progress: Progress,
    keep: bool = False,
    fusion_weights: Sequence[tuple[float, float]] = (),
) -> EvaluationReport:
    """Index ``dataset`` into a new organization ``eval-<hex>``, score the three methods.

    The organization (schema, rows, stored originals) is removed afterwards, also when
    the run fails or is interrupted, unless ``keep``. Commits as it goes: do not call it
    inside a transaction.
    """
    slug = f"eval-{secrets.token_hex(4)}"
    timings: dict[str, float] = {}
    created = None
    try:
        started = time.perf_counter()
        # Creating the schema narrates every migration on stdout, which carries the report.
        with redirect_stdout(io.StringIO()):
            created = organization_create(
                name=f"Evaluation {slug}", slug=slug, owner_email=f"evaluation@{slug}.example"
            )
        organization = created.organization
        timings["organization_create_s"] = time.perf_counter() - started
        progress(f"created organization {slug}; indexing {len(dataset.corpus)} documents")
        started = time.perf_counter()
        embed_texts(["warm-up"])  # so that ingestion throughput excludes loading the model
        timings["model_load_s"] = time.perf_counter() - started
        with schema_context(organization.schema_name):
            workspace = Workspace.objects.get(is_default=True)
            started = time.perf_counter()
            documents = corpus_ingest(
                corpus=dataset.corpus, workspace=workspace, user=created.owner, progress=progress
            )
            timings["ingestion_s"] = time.perf_counter() - started
            timings["ingestion_docs_per_s"] = len(documents) / timings["ingestion_s"]
            timings["ingestion_chunks_per_s"] = Chunk.objects.count() / timings["ingestion_s"]
            failed = Document.objects.exclude(status=DocumentStatus.INDEXED).count()
            if failed:
                progress(f"warning: {failed} documents could not be indexed")
            chunk_documents = {
                chunk_id: documents[document_id]
                for chunk_id, document_id in Chunk.objects.values_list("id", "document_id")
            }
            started = time.perf_counter()
            scores = methods_score(
                queries=dataset.queries,
                qrels=dataset.qrels,
                workspace_ids=[workspace.pk],
                chunk_documents=chunk_documents,
                progress=progress,
                fusion_weights=fusion_weights,
                categories={q: dataset.category(q) for q in dataset.queries},
            )
            timings["ranking_s"] = time.perf_counter() - started
    finally:
        if keep and created is not None:
            progress(f"kept organization {slug}")
        elif not keep:
            try:
                _organization_discard(slug, progress)
            except Exception:
                progress(f"error: could not remove organization {slug}; remove it by hand")
                raise
    return EvaluationReport(
        dataset=str(dataset.path.resolve()),
        corpus_size=len(dataset.corpus),
        query_count=len(dataset.queries),
        documents_failed=failed,
        organization=slug,
        kept=keep,
        timings=timings,
        methods=scores.methods,
        categories=scores.categories,
        category_sizes=scores.category_sizes,
        per_query=scores.per_query,
    )


def report_table(report: EvaluationReport) -> str:
    """The report as plain-text tables: one row per method, then (if the queries carry
    categories) one row per category with each method's nDCG@10."""
    lines = [
        f"Dataset: {report.dataset}",
        f"Corpus: {report.corpus_size} documents ({report.documents_failed} failed); "
        f"queries: {report.query_count}",
        f"Ingestion: {report.timings['ingestion_s']:.1f} s "
        f"({report.timings['ingestion_docs_per_s']:.3g} docs/s, "
        f"{report.timings.get('ingestion_chunks_per_s', 0):.3g} chunks/s)",
        "",
        f"{'method':<14} {'nDCG@10':>8} {'R@10':>6} {'R@100':>6} {'MRR@10':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'docs':>5}",
    ]
    for method, s in report.methods.items():
        lines.append(
            f"{method:<14} {s.ndcg_at_10:>8.3f} {s.recall_at_10:>6.3f} {s.recall_at_100:>6.3f} "
            f"{s.mrr_at_10:>7.3f} {s.latency_p50_ms:>7.1f} {s.latency_p95_ms:>7.1f} "
            f"{s.documents_returned:>5.1f}"
        )
    if report.categories:
        methods = list(report.methods)
        width = max(len("category"), *(len(name) for name in report.categories))
        lines += [
            "",
            "nDCG@10 by query category:",
            f"{'category':<{width}} {'queries':>7} "
            + " ".join(f"{method:>{max(len(method), 7)}}" for method in methods),
        ]
        for name in sorted(report.categories):
            by_method = report.categories[name]
            lines.append(
                f"{name:<{width}} {report.category_sizes[name]:>7} "
                + " ".join(
                    f"{by_method[method].ndcg_at_10:>{max(len(method), 7)}.3f}"
                    for method in methods
                )
            )
    return "\n".join(lines)
