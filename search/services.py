"""Answering questions: retrieve the asker's passages, then let the LLM or extraction answer.

A little over 400 lines, on purpose: the blocking answer and the streamed one share
every step here (checks, quota, retrieval, the LLM chain, recording), and keeping both
paths in one module is what keeps them alike.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.audit import AuditAction, AuditContext, audit_record, question_extra
from accounts.models import User
from infra import metrics
from search.answer_settings import (
    answer_cost,
    fusion_weights,
    llm_chain,
    llm_steps,
    recency_half_life_days,
    reranker,
)
from search.answering import Answer, Passage, answer_extractive, answer_shown, evidence_attach
from search.cache import answer_cached, answer_key, answer_store
from search.confidence import answer_confidence
from search.conversations import HISTORY_TURNS, conversation_touch, followup_standalone
from search.llm import (
    LLMConfig,
    LLMError,
    LLMUsage,
    answer_with_llm,
    rewrite_standalone,
    stream_with_llm,
)
from search.models import Channel, Conversation, Question
from search.rerank import LLMReranker
from search.retrieval import hybrid_search
from search.rewrite import query_rewrites
from tenants import metering, quotas
from workspaces.models import Workspace
from workspaces.readers import ReaderScope, reader_scope

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
# The cache's name for "no LLM": answers quoted from the passages.
EXTRACTIVE = "extractive"
# Between sentences: after . ! ? (or a line break), before the whitespace that follows.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\n])(?=\s)")


def question_validate(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ValidationError({"question": "Ask a question: the text is empty."})
    if len(text) > MAX_QUESTION_CHARS:
        raise ValidationError(
            {"question": f"A question may be at most {MAX_QUESTION_CHARS} characters long."}
        )
    return text


def standalone_question(
    text: str, conversation: Conversation | None, chain: list[LLMConfig]
) -> str:
    """What to search for: ``text`` read in the context of the conversation's last turns."""
    if conversation is None:
        return text
    history = list(conversation.questions.order_by("-created_at", "-pk")[:HISTORY_TURNS])[::-1]
    if not history:
        return text
    for config in chain:
        try:
            return rewrite_standalone(text, [(q.text, q.answer) for q in history], config)
        except LLMError as exc:
            logger.warning("LLM rewrite failed: %s", exc)
    return followup_standalone(text, history)


def passages_search(
    text: str,
    *,
    workspace: Workspace,
    readers: ReaderScope,
    k: int,
    llm: LLMConfig | None = None,
    steps: tuple[bool, bool] = (False, False),
    usage: LLMUsage | None = None,
) -> list[Passage]:
    """The ``k`` best passages for ``text`` in ``workspace`` that ``readers`` may read,
    ranked with the organization's settings (fusion weights, recency, reranker).

    With an ``llm`` and ``steps`` (rewrite, rerank; ``llm_steps``), the LLM first
    rewrites the question (``search.rewrite``) and then orders the best passages it
    retrieved (``search.rerank``), its tokens added to ``usage``; either step that fails
    is skipped."""
    rewrite, rerank = steps if llm is not None else (False, False)
    rewrites = (
        query_rewrites(text, llm, workspace_ids=[workspace.pk], readers=readers, usage=usage)
        if rewrite and llm is not None
        else []
    )
    return hybrid_search(
        text,
        workspace_ids=[workspace.pk],
        readers=readers,
        k=k,
        weights=fusion_weights(),
        recency_half_life_days=recency_half_life_days(),
        reranker=reranker(),
        rewrites=rewrites,
        llm_reranker=LLMReranker.from_settings(llm, usage=usage) if llm and rerank else None,
    )


def _passages(
    text: str, workspace: Workspace, readers: ReaderScope, **llm_steps_args
) -> tuple[list[Passage], int]:
    started = time.perf_counter()
    passages = passages_search(
        text, workspace=workspace, readers=readers, k=settings.RETRIEVAL_TOP_K, **llm_steps_args
    )
    return passages, int((time.perf_counter() - started) * 1000)


def _llm_observe(started: float, answer: Answer | None) -> None:
    seconds = time.perf_counter() - started
    if answer is None:
        metrics.llm_call_observe(seconds=seconds, ok=False)
    else:
        metrics.llm_call_observe(
            seconds=seconds,
            ok=True,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
        )


def _llm_answer(text: str, passages: list[Passage], chain: list[LLMConfig]) -> Answer | None:
    """The first answer an endpoint of ``chain`` gives; None when all fail (each failure
    is logged, never with its API key)."""
    for config in chain:
        started = time.perf_counter()
        try:
            answer = answer_with_llm(text, passages, config)
        except LLMError as exc:
            _llm_observe(started, None)
            logger.warning("LLM failed: %s", exc)
            continue
        _llm_observe(started, answer)
        return answer
    return None


def search_audited(
    text: str,
    *,
    user: User | None,
    workspace: Workspace,
    k: int,
    audit: AuditContext | None,
    via: str = "",
) -> list[Passage]:
    """``user``'s search: the ``k`` best passages for ``text`` in ``workspace`` that they
    may read (:func:`passages_search`), recorded in the audit log as ``audit`` (``via``:
    the way it came, e.g. "mcp", when not the portal or the API)."""
    passages = passages_search(
        text, workspace=workspace, readers=reader_scope(user, [workspace]), k=k
    )
    extra = {"via": via} if via else {}
    audit_record(
        action=AuditAction.SEARCH,
        context=audit,
        extra=question_extra(text, workspace=workspace.slug, results=len(passages), **extra),
    )
    return passages


def answer_compose(text: str, passages: list[Passage], chain: list[LLMConfig]) -> Answer:
    """What :func:`answer_question` answers from ``passages``, neither cached nor
    recorded: the first answer an LLM of ``chain`` gives, else the extractive answer
    ("not in the documents" when nothing was found). For golden-question runs."""
    answer = _llm_answer(text, passages, chain) if passages else None
    if answer is None:
        return answer_extractive(text, passages)
    return evidence_attach(text, answer, passages)


def question_record(
    *,
    user: User | None,
    workspace: Workspace,
    text: str,
    answer: Answer,
    retrieval_ms: int,
    started: float,
    audit: AuditContext | None,
    conversation: Conversation | None = None,
    standalone: str = "",
    channel: str | None = None,
) -> Question:
    """Log an answered question (query log, metrics, audit) in its conversation.

    ``channel``: how it came in; by default an API token's question is "api" and any
    other (a signed-in person) "portal"."""
    metrics.question_observe(
        mode=answer.mode,
        retrieval_seconds=retrieval_ms / 1000,
        total_seconds=time.perf_counter() - started,
    )
    record = Question.objects.create(
        workspace=workspace,
        conversation=conversation,
        asked_by=user,
        text=text,
        standalone_text=standalone if standalone != text else "",
        answer=answer.text,
        mode=answer.mode,
        citations=[
            {
                "number": citation.number,
                "chunk_id": citation.passage.chunk_id,
                "document_id": citation.passage.document_id,
                "document_title": citation.passage.document_title,
                "heading_path": list(citation.passage.heading_path),
                "text": citation.passage.text,
            }
            for citation in answer.citations
        ],
        model=answer.model,
        confidence=answer_confidence(answer),
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cost_usd=answer_cost(answer),
        retrieval_ms=retrieval_ms,
        latency_ms=int((time.perf_counter() - started) * 1000),
        channel=channel
        or (Channel.API if audit is not None and audit.token_id else Channel.PORTAL),
    )
    # Usage metering (tenants.metering): the day's questions and LLM tokens.
    metering.question_metered(tokens=record.prompt_tokens + record.completion_tokens)
    audit_record(
        action=AuditAction.QUESTION,
        context=audit,
        target_type="question",
        target_id=record.pk,
        extra=question_extra(text, workspace=workspace.slug, mode=record.mode),
    )
    if conversation is not None:
        conversation_touch(conversation=conversation, first_question=text)
    return record


@dataclass(frozen=True)
class _Asking:
    """One question on its way to an answer: what is searched, by whom, with which LLMs."""

    user: User | None
    workspace: Workspace
    text: str
    standalone: str
    chain: list[LLMConfig]
    readers: ReaderScope
    # Taken before any passage is read (``search.cache.answer_key``); None: Redis is down.
    cache_key: str | None
    audit: AuditContext | None
    conversation: Conversation | None
    started: float  # time.perf_counter() when the question came in
    channel: str | None = None  # how it came in (question_record's default if None)
    # The LLM steps before the answer (rewrite, rerank: ``llm_steps``) and their tokens.
    steps: tuple[bool, bool] = (False, False)
    usage: LLMUsage = field(default_factory=LLMUsage)

    @classmethod
    def start(
        cls,
        *,
        user: User | None,
        workspace: Workspace,
        text: str,
        conversation: Conversation | None,
        audit: AuditContext | None,
        started: float,
        channel: str | None = None,
    ) -> _Asking:
        chain = llm_chain()
        standalone = standalone_question(text, conversation, chain)
        readers = reader_scope(user, [workspace])
        steps = llm_steps() if chain else (False, False)
        # Answers ranked with the LLM steps are cached apart from those without.
        model = chain[0].model if chain else EXTRACTIVE
        model += "".join(tag for tag, on in zip(("+rewrite", "+rerank"), steps, strict=True) if on)
        return cls(
            user=user,
            workspace=workspace,
            text=text,
            standalone=standalone,
            chain=chain,
            readers=readers,
            cache_key=answer_key(
                standalone,
                workspace_id=workspace.pk,
                readers=readers,
                model=model,
            ),
            audit=audit,
            conversation=conversation,
            started=started,
            channel=channel,
            steps=steps,
        )

    def cached(self, *, fresh: bool) -> Answer | None:
        if fresh:
            return None
        return answer_cached(self.cache_key, readers=self.readers)

    def passages(self) -> tuple[list[Passage], int]:
        """The passages to answer from, and how long finding them took (ms)."""
        llm = self.chain[0] if self.chain else None
        return _passages(
            self.standalone,
            self.workspace,
            self.readers,
            llm=llm,
            steps=self.steps,
            usage=self.usage,
        )

    def settle(self, answer: Answer | None, passages: list[Passage]) -> Answer:
        """The answer to give, cached when it is the one meant: the LLM's ``answer``;
        without one, the extractive answer, cached only when no LLM is configured or
        nothing was found — not when it stands in for LLMs that failed. An LLM's answer
        gets its confidence from the same evidence as an extractive one. The tokens of
        the LLM steps before the answer (rewrite, rerank) are counted with it."""
        if answer is None:
            answer = answer_extractive(self.standalone, passages)
            if self.chain and passages:
                return self._with_step_tokens(answer)
        else:
            answer = evidence_attach(self.standalone, answer, passages)
        answer = self._with_step_tokens(answer)
        answer_store(self.cache_key, answer)
        return answer

    def _with_step_tokens(self, answer: Answer) -> Answer:
        if not self.usage.calls:
            return answer
        return replace(
            answer,
            prompt_tokens=answer.prompt_tokens + self.usage.prompt_tokens,
            completion_tokens=answer.completion_tokens + self.usage.completion_tokens,
        )

    def record(self, answer: Answer, retrieval_ms: int) -> Question:
        """Log the answered question (:func:`question_record`)."""
        return question_record(
            user=self.user,
            workspace=self.workspace,
            text=self.text,
            answer=answer,
            retrieval_ms=retrieval_ms,
            started=self.started,
            audit=self.audit,
            conversation=self.conversation,
            standalone=self.standalone,
            channel=self.channel,
        )


def answer_question(
    *,
    user: User | None,
    workspace: Workspace,
    question: str,
    audit: AuditContext | None = None,
    conversation: Conversation | None = None,
    fresh: bool = False,
    channel: str | None = None,
) -> Question:
    """Answer ``question`` from ``workspace``'s documents, log it and audit it as ``audit``.

    In a ``conversation``, a follow-up is first made standalone from the last turns.
    The LLMs of :func:`llm_chain` are tried in order; if all fail, or none is
    configured, the extractive answer is given. Answers come from and go to the answer
    cache (an extractive fallback for failed LLMs is not cached); ``fresh`` (the
    portal's *Regenerate*) skips the cached answer and replaces it. Raises
    ``QuotaExceeded`` (429/402) when the organization's plan allows no more questions.
    ``channel`` (a ``search.models.Channel``) says how it came in, for analytics; by
    default an API token's question is "api", anyone else's "portal".
    """
    started = time.perf_counter()
    text = question_validate(question)
    quotas.question_admit()
    asking = _Asking.start(
        user=user,
        workspace=workspace,
        text=text,
        conversation=conversation,
        audit=audit,
        started=started,
        channel=channel,
    )
    answer = asking.cached(fresh=fresh)
    retrieval_ms = 0
    if answer is None:
        passages, retrieval_ms = asking.passages()
        answer = asking.settle(
            _llm_answer(asking.standalone, passages, asking.chain) if passages else None, passages
        )
    return asking.record(answer, retrieval_ms)


def answer_question_stream(
    *,
    user: User | None,
    workspace: Workspace,
    question: str,
    audit: AuditContext | None = None,
    conversation: Conversation | None = None,
    fresh: bool = False,
) -> Iterator[tuple[str, object]]:
    """Answer like :func:`answer_question`, as events for server-sent streaming.

    Yields ``("sources", [Passage, ...])`` first (the ``[n]`` markers in the deltas
    number these), then ``("delta", text)`` pieces, then ``("done", Question)`` whose
    answer is final: citations validated and renumbered. An LLM that fails before
    writing anything hands over to the next of the chain; one that fails midway, or
    the end of the chain, gives the extractive answer (the ``done`` event carries it).

    Not a generator itself: ``QuotaExceeded`` (429/402) is raised here, before a
    streaming response has started, so the caller can still answer with its status.
    The rest (the clock included) starts when the first event is read.
    """
    text = question_validate(question)
    quotas.question_admit()
    start = functools.partial(
        _Asking.start,
        user=user,
        workspace=workspace,
        text=text,
        conversation=conversation,
        audit=audit,
    )
    return _answer_question_events(start, fresh=fresh)


def _answer_question_events(
    start: Callable[..., _Asking], *, fresh: bool
) -> Iterator[tuple[str, object]]:
    """The events of :func:`answer_question_stream`; ``start(started=...)`` begins the
    question (already validated and admitted)."""
    asking = start(started=time.perf_counter())
    answer = asking.cached(fresh=fresh)
    retrieval_ms = 0
    if answer is not None:
        yield "sources", [citation.passage for citation in answer.citations]
        yield from _sentence_deltas(answer.text)
    else:
        passages, retrieval_ms = asking.passages()
        yield "sources", passages
        chain = asking.chain if passages else []
        answer = yield from _llm_stream(asking.standalone, passages, chain)
        extractive = answer is None
        answer = asking.settle(answer, passages)
        if extractive:
            yield from _sentence_deltas(answer.text)
    yield "done", asking.record(answer, retrieval_ms)


def _sentence_deltas(text: str) -> Iterator[tuple[str, object]]:
    """``text`` (an answer written at once: extractive or cached) as one delta a sentence,
    as the reader sees it (``answer_shown``); the pieces join to that text exactly."""
    for piece in _SENTENCE_BREAK.split(answer_shown(text)):
        if piece:
            yield "delta", piece


def _llm_stream(
    text: str, passages: list[Passage], chain: list[LLMConfig]
) -> Generator[tuple[str, object], None, Answer | None]:
    """Like :func:`_llm_answer`, streaming: yields ``("delta", text)`` pieces and returns
    the answer. An endpoint that fails before writing hands over to the next; one that
    fails after writing ends the chain (None: its text is replaced by the extractive one)."""
    answer = None
    for config in chain:
        started = time.perf_counter()
        streamed = False
        try:
            for piece in stream_with_llm(text, passages, config):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    streamed = True
                    yield "delta", piece
        except LLMError as exc:
            _llm_observe(started, None)
            logger.warning("LLM failed while streaming: %s", exc)
            if streamed:
                break  # text already sent: the extractive answer replaces it in "done"
            continue
        _llm_observe(started, answer)
        break
    return answer
