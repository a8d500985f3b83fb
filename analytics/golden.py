"""Golden questions: a workspace's answer-quality set, and running it.

An admin keeps questions with the documents that should answer them (none: the right
answer is "not in the documents"). A run asks each one the way the product does
(``search.services.passages_search`` with the organization's ranking settings, then the
LLM chain or the extractive answer) and scores it with the functions ``manage.py
evaluate`` uses (``search.relevance``): nDCG@10 and recall@10 of the documents found,
and whether it answered when it should (answer/no-answer correctness).

A run is not a person's question: it is not logged as one, not counted in the usage
figures or the plan's quota, and neither reads nor fills the answer cache.

**Whose documents.** Each golden question is searched with the reader scope of the
admin who defined it (``created_by``), as it is at run time. A workspace admin reads
every document of the workspace, and only the workspace's admins (and the owner) see
the results, so a run finds nothing its viewers could not open. When its author no
longer administers the workspace (or is gone), the question is skipped, not run with
someone else's rights; another admin adopts it to run it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from statistics import fmean

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import User
from analytics.models import GoldenQuestion, GoldenRun, GoldenStatus, GoldenTrigger
from analytics.services import embedder_current
from ingestion.models import Document, DocumentStatus
from search.answer_settings import llm_chain
from search.llm import LLMConfig
from search.models import AnswerMode, Question
from search.relevance import ndcg_at_k, recall_at_k
from search.retrieval import CANDIDATES_PER_RANKER
from search.services import answer_compose, passages_search, question_validate
from workspaces.access import role_in
from workspaces.models import Role, Workspace
from workspaces.readers import ReaderScope, reader_scope

logger = logging.getLogger(__name__)

# The cutoff of the metrics, as ``manage.py evaluate`` reports them.
K = 10
# Chunks searched per question: as deep as ``hybrid_search`` looks, so that ten
# distinct documents can be ranked although a document is often several chunks.
SEARCH_DEPTH = CANDIDATES_PER_RANKER
# A run asks every question (and may call the LLM for each): the set stays small.
MAX_GOLDEN = 200
MAX_DOCUMENTS = 20
# A queued or running run older than this is taken as lost (its worker died and the
# message with it) and no longer stops a new one.
RUN_STALE = dt.timedelta(hours=1)
# The schedule runs daily; a second beat (or a retry) within this time adds no run.
SCHEDULE_EVERY = dt.timedelta(hours=20)
METRICS = ("ndcg", "recall", "correct")
QUALITY_DROPPED = AuditAction.ANSWER_QUALITY_DROPPED

SKIPPED_AUTHOR = "author"  # its author no longer administers the workspace
SKIPPED_DOCUMENTS = "documents"  # its documents were deleted (or cannot be read)


# --- the golden set -------------------------------------------------------------------


def _documents_checked(workspace: Workspace, user: User, ids: Sequence[int]) -> list[int]:
    """``ids`` (distinct, in order) if each is a document of ``workspace`` that ``user``
    may read; otherwise ValidationError naming the problem (never whether it exists)."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    if len(ids) > MAX_DOCUMENTS:
        raise ValidationError(
            {"documents": [_("At most %(count)s documents.") % {"count": MAX_DOCUMENTS}]}
        )
    readers = reader_scope(user, [workspace])
    found = set(
        Document.objects.filter(readers.q(), workspace=workspace, pk__in=ids).values_list(
            "pk", flat=True
        )
    )
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ValidationError(
            {"documents": [_("No document %(id)s in this workspace.") % {"id": i} for i in unknown]}
        )
    return ids


def golden_add(
    *,
    workspace: Workspace,
    user: User,
    text: str,
    documents: Sequence[int] = (),
    expect_answer: bool = True,
    source_question: Question | None = None,
) -> GoldenQuestion:
    """Add a golden question to ``workspace`` (``user`` administers it). Raises
    ValidationError for empty or long text, a question already in the set, documents
    not in the workspace (or not readable), or a full set."""
    text = question_validate(text)
    ids = _documents_checked(workspace, user, documents)
    if expect_answer and not ids:
        raise ValidationError(
            {"documents": [_("Name the documents that should answer it, or expect no answer.")]}
        )
    existing = GoldenQuestion.objects.filter(workspace=workspace)
    if existing.filter(text=text).exists():
        raise ValidationError({"text": [_("This question is already a golden question.")]})
    if existing.count() >= MAX_GOLDEN:
        raise ValidationError(
            {"text": [_("A workspace keeps at most %(count)s.") % {"count": MAX_GOLDEN}]}
        )
    return GoldenQuestion.objects.create(
        workspace=workspace,
        text=text,
        documents=ids,
        expect_answer=expect_answer,
        created_by=user,
        source_question=source_question,
    )


def golden_add_from_question(
    *, workspace: Workspace, user: User, question_id: int, show_text: bool
) -> GoldenQuestion:
    """A golden question from a logged question of ``workspace``: its (standalone) text,
    the documents its answer cited, and whether it was answered. Another person's
    question needs ``show_text`` (the organization keeps question text)."""
    question = Question.objects.filter(workspace=workspace, pk=question_id).first()
    if question is None:
        raise ValidationError({"question": [_("No such question in this workspace.")]})
    if question.asked_by_id != user.pk and not show_text:
        raise ValidationError(
            {"question": [_("This organization does not keep question text: type it instead.")]}
        )
    cited = [c.get("document_id") for c in question.citations or [] if c.get("document_id")]
    readable = set(
        Document.objects.filter(
            reader_scope(user, [workspace]).q(), workspace=workspace, pk__in=cited
        ).values_list("pk", flat=True)
    )
    documents = [d for d in dict.fromkeys(cited) if d in readable][:MAX_DOCUMENTS]
    answered = question.mode != AnswerMode.NO_ANSWER
    return golden_add(
        workspace=workspace,
        user=user,
        text=question.standalone_text or question.text,
        documents=documents,
        expect_answer=answered and bool(documents),
        source_question=question,
    )


def golden_delete(*, workspace: Workspace, golden_id: int) -> None:
    if not GoldenQuestion.objects.filter(workspace=workspace, pk=golden_id).delete()[0]:
        raise ValidationError({"golden": [_("No such golden question in this workspace.")]})


def golden_adopt(*, workspace: Workspace, golden_id: int, user: User) -> None:
    """``user`` (an admin of ``workspace``) becomes the author: runs search as them."""
    if not GoldenQuestion.objects.filter(workspace=workspace, pk=golden_id).update(created_by=user):
        raise ValidationError({"golden": [_("No such golden question in this workspace.")]})


def authors_runnable(goldens: Sequence[GoldenQuestion], workspace: Workspace) -> set[int]:
    """The ids of the authors of ``goldens`` a run searches as: active, and administering
    ``workspace`` (the owner does). One role lookup per author, not per question."""
    authors = {g.created_by.pk: g.created_by for g in goldens if g.created_by is not None}
    return {
        pk
        for pk, author in authors.items()
        if author.is_active and role_in(author, workspace) == Role.ADMIN
    }


# --- runs -------------------------------------------------------------------------------


def _active(workspace: Workspace, now: dt.datetime):
    return GoldenRun.objects.filter(
        workspace=workspace,
        status__in=(GoldenStatus.QUEUED, GoldenStatus.RUNNING),
        created_at__gte=now - RUN_STALE,
    )


def golden_run_request(
    *, workspace: Workspace, user: User | None, trigger: str = GoldenTrigger.MANUAL
) -> tuple[GoldenRun, bool]:
    """A queued run of ``workspace``'s golden questions and whether it is new: a run
    already queued or running is returned instead of a second. The caller sends the task
    ``analytics.tasks.golden_run`` once the transaction commits."""
    now = timezone.now()
    with transaction.atomic():
        # One request at a time per workspace: two clicks make one run.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        running = _active(workspace, now).first()
        if running is not None:
            return running, False
        return GoldenRun.objects.create(
            workspace=workspace, trigger=trigger, requested_by=user
        ), True


def golden_runs_schedule(*, now: dt.datetime | None = None) -> list[int]:
    """Queue a scheduled run for each workspace of this organization with golden
    questions; returns the new runs' ids. Idempotent: a workspace with a scheduled run
    in the last ``SCHEDULE_EVERY``, or one queued or running, gets none."""
    now = now or timezone.now()
    ids = []
    workspace_ids = GoldenQuestion.objects.values_list("workspace_id", flat=True).distinct()
    for workspace in Workspace.objects.filter(pk__in=workspace_ids).order_by("pk"):
        recent = GoldenRun.objects.filter(
            workspace=workspace,
            trigger=GoldenTrigger.SCHEDULE,
            created_at__gte=now - SCHEDULE_EVERY,
        )
        if recent.exists():
            continue
        run, new = golden_run_request(
            workspace=workspace, user=None, trigger=GoldenTrigger.SCHEDULE
        )
        if new:
            ids.append(run.pk)
    return ids


def golden_score(
    golden: GoldenQuestion,
    *,
    readers: ReaderScope,
    expected: Sequence[int],
    chain: list[LLMConfig],
) -> dict:
    """One golden question searched and answered as ``readers``; its result row."""
    workspace = golden.workspace
    passages = passages_search(golden.text, workspace=workspace, readers=readers, k=SEARCH_DEPTH)
    found = list(dict.fromkeys(p.document_id for p in passages))[:K]
    answer = answer_compose(golden.text, passages[: settings.RETRIEVAL_TOP_K], chain)
    answered = answer.mode != AnswerMode.NO_ANSWER
    ranking = [str(d) for d in found]
    judgments = {str(d): 1 for d in expected}
    return {
        "golden": golden.pk,
        "ndcg": round(ndcg_at_k(ranking, judgments, K), 4) if expected else None,
        "recall": round(recall_at_k(ranking, judgments, K), 4) if expected else None,
        "answered": answered,
        "correct": answered == golden.expect_answer,
        "found": found,
        "tokens": answer.prompt_tokens + answer.completion_tokens,
        "_answer": answer,
    }


def _mean(results: Sequence[dict], metric: str) -> float | None:
    values = [float(r[metric]) for r in results if r.get(metric) is not None]
    return round(fmean(values), 4) if values else None


def _drops(run: GoldenRun, results: list[dict]) -> dict:
    """The metrics that fell by more than ``GOLDEN_DROP_THRESHOLD`` against the previous
    finished run, each mean over the questions both runs scored (a question added or
    removed meanwhile does not count as a change of quality)."""
    previous = (
        GoldenRun.objects.filter(workspace=run.workspace, status=GoldenStatus.DONE)
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if previous is None:
        return {}
    before = {r["golden"]: r for r in previous.results if "skipped" not in r}
    now = {r["golden"]: r for r in results if "skipped" not in r}
    common = sorted(before.keys() & now.keys())
    drops = {}
    for metric in METRICS:
        was = _mean([before[g] for g in common], metric)
        is_ = _mean([now[g] for g in common], metric)
        if was is not None and is_ is not None and was - is_ > settings.GOLDEN_DROP_THRESHOLD:
            drops[metric] = [was, is_]
    return drops


def golden_run_execute(*, run_id: int) -> GoldenRun:
    """Run the golden questions of run ``run_id``, saving progress after each question,
    then its means, the metrics that dropped, and an audit event when one did.

    Idempotent: a finished (or failed) run is returned as it is; a run left "running"
    by a dead worker starts again from its first question. A database error propagates
    (the task retries); any other error fails the run with its kind, never a secret."""
    run = GoldenRun.objects.select_related("workspace").get(pk=run_id)
    if run.status in (GoldenStatus.DONE, GoldenStatus.FAILED):
        return run
    workspace = run.workspace
    goldens = list(
        GoldenQuestion.objects.filter(workspace=workspace)
        .select_related("created_by", "workspace")
        .order_by("pk")
    )
    chain = llm_chain()
    run.status = GoldenStatus.RUNNING
    run.started_at = timezone.now()
    run.total, run.done, run.skipped = len(goldens), 0, 0
    run.model = chain[0].model if chain else "extractive"
    run.embedder = embedder_current()
    run.documents_indexed = Document.objects.filter(
        workspace=workspace, status=DocumentStatus.INDEXED
    ).count()
    run.save()
    try:
        results = _results(run, goldens, chain)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        logger.exception("golden run %s failed", run.pk)
        run.status = GoldenStatus.FAILED
        run.error = f"The run stopped: {type(error).__name__}."
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    scored = [r for r in results if "skipped" not in r]
    run.results = results
    run.skipped = len(results) - len(scored)
    run.ndcg, run.recall, run.correct = (_mean(scored, m) for m in METRICS)
    run.drops = _drops(run, results)
    run.status = GoldenStatus.DONE
    run.finished_at = timezone.now()
    run.save()
    if run.drops:
        audit_record(
            action=QUALITY_DROPPED,
            context=AuditContext(),
            target_type="golden_run",
            target_id=run.pk,
            extra={"workspace": workspace.slug, "drops": run.drops},
        )
    return run


def _results(run: GoldenRun, goldens: list[GoldenQuestion], chain: list[LLMConfig]) -> list[dict]:
    expected_ids = {d for g in goldens for d in g.documents}
    existing = set(
        Document.objects.filter(workspace=run.workspace, pk__in=expected_ids).values_list(
            "pk", flat=True
        )
    )
    scopes: dict[int, ReaderScope] = {}
    runnable = authors_runnable(goldens, run.workspace)
    results = []
    for golden in goldens:
        author = golden.created_by
        if author is None or author.pk not in runnable:
            results.append({"golden": golden.pk, "skipped": SKIPPED_AUTHOR})
        else:
            if author.pk not in scopes:
                scopes[author.pk] = reader_scope(author, [run.workspace])
            readers = scopes[author.pk]
            expected = [d for d in golden.documents if d in existing]
            readable = set(
                Document.objects.filter(readers.q(), pk__in=expected).values_list("pk", flat=True)
            )
            if golden.documents and (not expected or len(readable) < len(expected)):
                results.append({"golden": golden.pk, "skipped": SKIPPED_DOCUMENTS})
            else:
                result = golden_score(golden, readers=readers, expected=expected, chain=chain)
                answer = result.pop("_answer")
                run.prompt_tokens += answer.prompt_tokens
                run.completion_tokens += answer.completion_tokens
                results.append(result)
        run.done += 1
        run.save(update_fields=["done", "prompt_tokens", "completion_tokens"])
    return results
