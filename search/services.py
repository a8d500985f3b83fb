"""Answering questions: retrieve the asker's passages, then let the LLM or extraction answer."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import User
from search.answering import Answer, answer_extractive
from search.llm import LLMConfig, LLMError, answer_with_llm
from search.models import Question
from search.retrieval import hybrid_search
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


def llm_config() -> LLMConfig | None:
    """The configured chat endpoint, or None when OPAA answers extractively."""
    if not settings.LLM_API_BASE:
        return None
    return LLMConfig(
        api_base=settings.LLM_API_BASE,
        model=settings.LLM_MODEL,
        api_key=settings.LLM_API_KEY,
        timeout=settings.LLM_TIMEOUT_S,
    )


def question_validate(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ValidationError({"question": "Ask a question: the text is empty."})
    if len(text) > MAX_QUESTION_CHARS:
        raise ValidationError(
            {"question": f"A question may be at most {MAX_QUESTION_CHARS} characters long."}
        )
    return text


def answer_question(*, user: User | None, workspace: Workspace, question: str) -> Question:
    """Answer ``question`` from ``workspace``'s documents and log it.

    The LLM writes the answer when one is configured; if it fails, the extractive
    answer is given instead (the failure is logged, without the API key).
    """
    text = question_validate(question)
    started = time.perf_counter()
    passages = hybrid_search(text, workspace_ids=[workspace.pk], k=settings.RETRIEVAL_TOP_K)
    retrieval_ms = int((time.perf_counter() - started) * 1000)

    answer: Answer | None = None
    config = llm_config()
    if config is not None and passages:
        try:
            answer = answer_with_llm(text, passages, config)
        except LLMError as exc:
            logger.warning("LLM failed, answering extractively: %s", exc)
    if answer is None:
        answer = answer_extractive(text, passages)

    return Question.objects.create(
        workspace=workspace,
        asked_by=user,
        text=text,
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
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        retrieval_ms=retrieval_ms,
        latency_ms=int((time.perf_counter() - started) * 1000),
    )
