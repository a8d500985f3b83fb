"""One evaluation run: a throwaway organization, the corpus ingested through the real
upload and indexing pipeline, every query ranked and scored, the organization removed,
and the report."""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from infra.celery import app
from ingestion.embedding import embed_texts
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.storage import original_delete
from ingestion.uploads import document_upload
from opaa.evaluation.answers import Calibration, answers_score, calibration_table
from opaa.evaluation.dataset import CorpusEntry, Dataset
from opaa.evaluation.scoring import MethodScores, Progress, methods_score
from search.llm import LLMConfig
from tenants.models import Organization
from tenants.services import organization_create, organization_delete
from workspaces.models import Workspace

PROGRESS_EVERY_DOCUMENTS = 100
# Also report indexing progress at least this often (long documents index slowly).
PROGRESS_EVERY_SECONDS = 10.0


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
    # With ``answers``: how answerable and unanswerable questions were labelled
    # (``opaa.evaluation.answers.Calibration.as_dict``), and one row per question.
    answers: dict | None = None
    answer_rows: list[dict] = field(default_factory=list)
    # With LLM steps (``--rewrite``, ``--rerank``): each LLM method's calls and tokens.
    llm_usage: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The report without the per-query rows (``per_query_lines`` has those)."""
        report = asdict(self)
        del report["per_query"]
        del report["answer_rows"]
        return report

    def per_query_lines(self) -> Iterator[str]:
        """One JSON object per query: its id, text, category and, per method, the
        metrics and the rank of each relevant corpus id (null: not in the top 100)."""
        for row in self.per_query:
            yield json.dumps(row, ensure_ascii=False)
        for row in self.answer_rows:
            yield json.dumps({"answer_check": True, **row}, ensure_ascii=False)


@contextmanager
def _indexing_in_process() -> Iterator[None]:
    """Run the indexing task that ``document_upload`` enqueues at once, in this process.

    The upload commits and its on-commit hook calls ``index_document.delay``; eager
    Celery turns that into a direct call of the task (in the organization's schema, as
    a worker would run it), so the run needs no broker or worker and indexes each
    document exactly once. Errors the task does not handle itself propagate.
    """
    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def _markdown(entry: CorpusEntry) -> str:
    title = " ".join(entry.title.split())
    return f"# {title}\n\n{entry.text}\n" if title else f"{entry.text}\n"


def upload_names(corpus: Mapping[str, CorpusEntry]) -> dict[str, str]:
    """corpus id -> the file name its entry is uploaded as: the id made safe, unique
    within the corpus (``-2``, ``-3`` ... for ids that make the same name)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for corpus_id in corpus:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", corpus_id)[:200] or "document"
        name, suffix = f"{stem}.md", 1
        while name in used:
            suffix += 1
            name = f"{stem}-{suffix}.md"
        used.add(name)
        names[corpus_id] = name
    return names


def corpus_ingest(
    *, corpus: Mapping[str, CorpusEntry], workspace: Workspace, user: User, progress: Progress
) -> dict[int, list[str]]:
    """Upload and index every entry in the current schema; returns document id -> corpus ids.

    Entries with identical content are one document to the product (the upload's
    duplicate detection returns the first), so that document stands for all their corpus
    ids. File names are made unique, so that no entry replaces another as a new version.
    """
    documents: dict[int, list[str]] = {}
    names = upload_names(corpus)
    started = reported = time.perf_counter()
    with _indexing_in_process():
        for done, (corpus_id, entry) in enumerate(corpus.items(), start=1):
            file = SimpleUploadedFile(
                names[corpus_id], _markdown(entry).encode(), content_type="text/markdown"
            )
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


def corpus_found(*, corpus: Mapping[str, CorpusEntry]) -> dict[int, list[str]]:
    """The documents an earlier run (``--keep``) indexed from ``corpus`` in the current
    schema: document id -> corpus ids, found by the names ``corpus_ingest`` uploads
    under; an entry whose content an earlier entry had shares that entry's document,
    as the upload's duplicate detection made it. Raises ``LookupError`` when none is."""
    by_name = dict(
        Document.objects.filter(status=DocumentStatus.INDEXED).values_list(
            "original_filename", "id"
        )
    )
    names = upload_names(corpus)
    first_of_content: dict[str, int] = {}
    documents: dict[int, list[str]] = {}
    for corpus_id, entry in corpus.items():
        content = _markdown(entry)
        document_id = by_name.get(names[corpus_id]) or first_of_content.get(content)
        if document_id is None:
            continue
        first_of_content.setdefault(content, document_id)
        documents.setdefault(document_id, []).append(corpus_id)
    if not documents:
        raise LookupError("none of the dataset's documents is indexed in this organization")
    return documents


def _rate(count: int, seconds: float) -> str:
    """``count / seconds`` with three significant digits (0.0123, 1.23, 123)."""
    return f"{count / seconds:.3g}" if seconds > 0 else "-"


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
    answers: bool = False,
    llm: LLMConfig | None = None,
    llm_method_names: Sequence[str] = (),
    reuse: str | None = None,
) -> EvaluationReport:
    """Index ``dataset`` into a new organization ``eval-<hex>``, score the three methods.

    With ``reuse`` (the slug of an organization an earlier run kept), nothing is indexed:
    that organization's documents are scored again (``corpus_found``), e.g. after a change
    to ranking, fusion or answering; it is never removed.

    With ``answers``, every question (the unanswerable ones too) is also answered as a
    person without an LLM is answered (``opaa.evaluation.answers``). With an ``llm``,
    the methods ``llm_method_names`` (``opaa.evaluation.scoring.LLM_METHODS``: the hybrid
    with the LLM's query rewrite and/or reranking) are scored too.

    The organization (schema, rows, stored originals) is removed afterwards, also when
    the run fails or is interrupted, unless ``keep``. Commits as it goes: do not call it
    inside a transaction.
    """
    slug = reuse or f"eval-{secrets.token_hex(4)}"
    keep = keep or bool(reuse)
    timings: dict[str, float] = {}
    created = None
    calibration, answer_rows = None, []
    try:
        started = time.perf_counter()
        if reuse:
            organization = Organization.objects.get(slug=reuse)
        else:
            # Creating the schema narrates every migration on stdout, which carries the
            # report.
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
            if created is None:
                documents = corpus_found(corpus=dataset.corpus)
                failed = len(dataset.corpus) - sum(len(ids) for ids in documents.values())
                progress(f"scoring organization {slug} again: {len(documents)} documents")
            else:
                started = time.perf_counter()
                documents = corpus_ingest(
                    corpus=dataset.corpus,
                    workspace=workspace,
                    user=created.owner,
                    progress=progress,
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
                llm=llm,
                llm_method_names=llm_method_names,
            )
            timings["ranking_s"] = time.perf_counter() - started
            if answers:
                started = time.perf_counter()
                calibration, answer_rows = answers_score(
                    questions={**dataset.queries, **dataset.unanswerable},
                    unanswerable=set(dataset.unanswerable),
                    workspace_ids=[workspace.pk],
                    document_corpus_ids=documents,
                    progress=progress,
                )
                timings["answering_s"] = time.perf_counter() - started
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
        answers=calibration.as_dict() if calibration is not None else None,
        answer_rows=answer_rows,
        llm_usage=scores.llm_usage,
    )


def report_table(report: EvaluationReport) -> str:
    """The report as plain-text tables: one row per method, then (if the queries carry
    categories) one row per category with each method's nDCG@10."""
    lines = [
        f"Dataset: {report.dataset}",
        f"Corpus: {report.corpus_size} documents ({report.documents_failed} failed); "
        f"queries: {report.query_count}",
        (
            f"Ingestion: {report.timings['ingestion_s']:.1f} s "
            f"({report.timings['ingestion_docs_per_s']:.3g} docs/s, "
            f"{report.timings.get('ingestion_chunks_per_s', 0):.3g} chunks/s)"
            if "ingestion_s" in report.timings
            else f"Ingestion: none (organization {report.organization} scored again)"
        ),
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
    for method, spent in report.llm_usage.items():
        queries = max(report.query_count, 1)
        lines.append(
            f"{method}: {spent['calls']} LLM calls, "
            f"{spent['prompt_tokens'] / queries:.0f} prompt and "
            f"{spent['completion_tokens'] / queries:.0f} completion tokens per query"
        )
    if report.answers is not None:
        lines += [
            "",
            calibration_table(
                Calibration(**{key: report.answers[key] for key in ("answerable", "unanswerable")})
            ),
        ]
    return "\n".join(lines)
