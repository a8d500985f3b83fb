"""What the organization set for answering, else the environment's defaults.

The chat endpoints to try (``llm_chain``), the fusion weights, the recency half-life,
the reranker and the token prices: each read from the organization's
``AnswerSettings`` at every question, falling back to the settings module.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings

from infra import outbound
from infra.crypto import decrypt
from search.answering import Answer
from search.llm import LLMConfig
from search.models import AnswerSettings
from search.ranking import HttpReranker

logger = logging.getLogger(__name__)


def _endpoint_allowed(url: str) -> bool:
    """An endpoint the organization set may be called (``infra.outbound``): checked at
    every question, since its name may resolve elsewhere than when it was saved."""
    try:
        outbound.url_check(url)
    except outbound.OutboundRefused as exc:
        logger.warning("organization LLM endpoint skipped: %s", exc)
        return False
    return True


def llm_chain() -> list[LLMConfig]:
    """The chat endpoints to try in order: the organization's own, else the environment's.

    Empty when OPAA answers extractively. When one fails the next is tried; after the
    last, the extractive answer is given.
    """
    own = AnswerSettings.current()
    chain = [
        LLMConfig(
            api_base=base,
            model=model or settings.LLM_MODEL,
            api_key=decrypt(key),
            timeout=settings.LLM_TIMEOUT_S,
        )
        for base, model, key in (
            (own.llm_api_base, own.llm_model, own.llm_api_key_encrypted),
            (own.fallback_llm_api_base, own.fallback_llm_model, own.fallback_llm_api_key_encrypted),
        )
        if base and _endpoint_allowed(base)
    ]
    if not chain and settings.LLM_API_BASE:
        chain.append(
            LLMConfig(
                api_base=settings.LLM_API_BASE,
                model=settings.LLM_MODEL,
                api_key=settings.LLM_API_KEY,
                timeout=settings.LLM_TIMEOUT_S,
            )
        )
    return chain


def fusion_weights() -> tuple[float, float]:
    """(keyword, vector) fusion weights: the organization's, else the environment's.

    They multiply each ranker's confidence in the question (``search.fusion``): 1:1
    leaves the balance to the question, 2:1 trusts keyword twice as much, 1:0 turns the
    vector side off.
    """
    own = AnswerSettings.current()
    keyword, vector = own.fusion_keyword_weight, own.fusion_vector_weight
    return (
        settings.FUSION_KEYWORD_WEIGHT if keyword is None else keyword,
        settings.FUSION_VECTOR_WEIGHT if vector is None else vector,
    )


def recency_half_life_days() -> float | None:
    """The organization's recency half-life, else the environment's; None when off."""
    own = AnswerSettings.current().recency_half_life_days
    days = settings.RECENCY_HALF_LIFE_DAYS if own is None else own
    return days or None


def reranker() -> HttpReranker | None:
    """The configured reranker, or None (no reranking)."""
    if not settings.RERANK_API_BASE:
        return None
    return HttpReranker(
        api_base=settings.RERANK_API_BASE,
        model=settings.RERANK_MODEL,
        api_key=settings.RERANK_API_KEY,
        timeout=settings.RERANK_TIMEOUT_S,
    )


def llm_steps() -> tuple[bool, bool]:
    """Whether the LLM rewrites questions and reranks passages before it answers
    (``search.rewrite``, ``search.rerank``): the organization's choice, else the
    environment's ``LLM_QUERY_REWRITE`` and ``LLM_RERANK``. Only with an LLM configured."""
    own = AnswerSettings.current()
    rewrite, rerank = own.llm_query_rewrite, own.llm_rerank
    return (
        settings.LLM_QUERY_REWRITE if rewrite is None else rewrite,
        settings.LLM_RERANK if rerank is None else rerank,
    )


def answer_cost(answer: Answer) -> Decimal:
    """What ``answer``'s tokens cost at the organization's prices, else the environment's."""
    own = AnswerSettings.current()
    prompt_price = own.llm_prompt_price_per_million
    if prompt_price is None:
        prompt_price = Decimal(str(settings.LLM_PROMPT_PRICE_PER_MILLION))
    completion_price = own.llm_completion_price_per_million
    if completion_price is None:
        completion_price = Decimal(str(settings.LLM_COMPLETION_PRICE_PER_MILLION))
    cost = (answer.prompt_tokens * prompt_price + answer.completion_tokens * completion_price) / (
        Decimal(1_000_000)
    )
    return cost.quantize(Decimal("0.000001"))
