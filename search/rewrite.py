"""Query rewrite by the LLM (optional): other ways to ask, and translations.

With an LLM configured and the rewrite switched on (``LLM_QUERY_REWRITE``, or the
organization's answer settings), the question is first sent to the LLM, alone (no
passage, no document text): it returns up to ``LLM_QUERY_REWRITE_ALTERNATIVES`` other
queries, and the question translated into each of the workspace's main document
languages that is not the question's own. Each query is retrieved like the question
(keyword and vector, fused by ``search.fusion.score_fusion``), and the rankings are
fused here (``rankings_fuse``), each weighted by how sure its own fusion is.

Request and reply (``search.prompts.build_rewrite_messages``; the tests' fake OpenAI
server answers the same way):

    system: QUERY_REWRITE_PROMPT
    user:   Question: <question>
            Alternative queries: up to <n>
            Document languages: German, English
    reply:  {"queries": ["...", ...], "translations": ["...", ...]}

A reply that is not that JSON (a refusal, prose) adds no query. On any failure (timeout,
error status, nothing usable) the question alone is searched, as without the rewrite.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import Count

from ingestion.index import Ranked
from ingestion.models import Document, DocumentStatus
from search.fusion import confidence, normalised
from search.llm import LLMConfig, LLMError, LLMUsage, chat_text
from search.prompts import build_rewrite_messages
from workspaces.readers import ReaderScope

logger = logging.getLogger(__name__)

# Completion tokens a rewrite may use: a few short queries.
REWRITE_MAX_TOKENS = 300
# A rewritten query longer than this is cut (a question may be 2,000 characters).
MAX_QUERY_CHARS = 500
# A language counts as one of the workspace's main document languages when at least
# this share of its readable documents is in it; at most this many languages.
LANGUAGE_MIN_SHARE = 0.2
MAX_LANGUAGES = 2
# Each ranking's weight in the fusion, before its confidence: the question itself,
# a translation (for a question in another language than the documents, the ranking
# that matters), another way to ask.
WEIGHT_QUESTION = 1.0
WEIGHT_TRANSLATION = 1.0
WEIGHT_ALTERNATIVE = 0.5
# Depth of a fused ranking (both rankers' candidates): what a confidence is taken over.
FUSED_DEPTH = 100

_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


@dataclass(frozen=True)
class Rewrite:
    """A query to search besides the question: ``kind`` "alternative" or "translation"."""

    text: str
    kind: str

    @property
    def weight(self) -> float:
        return WEIGHT_TRANSLATION if self.kind == "translation" else WEIGHT_ALTERNATIVE


def document_languages(workspace_ids: Sequence[int], readers: ReaderScope) -> list[str]:
    """The main languages (Postgres configurations: "english", "german") of the indexed
    documents ``readers`` may read in ``workspace_ids``, most documents first."""
    counts = list(
        Document.objects.filter(workspace_id__in=list(workspace_ids), status=DocumentStatus.INDEXED)
        .filter(readers.q())
        .values("language")
        .annotate(documents=Count("pk"))
        .order_by("-documents", "language")
        .values_list("language", "documents")
    )
    total = sum(n for _, n in counts)
    return [language for language, n in counts if total and n / total >= LANGUAGE_MIN_SHARE][
        :MAX_LANGUAGES
    ]


def _unique(texts: Sequence[str], question: str) -> list[str]:
    seen = {" ".join(question.casefold().split())}
    kept = []
    for text in texts:
        text = " ".join(str(text).split())[:MAX_QUERY_CHARS]
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            kept.append(text)
    return kept


def rewrites_parse(
    content: str, question: str, *, alternatives: int, translations: int
) -> list[Rewrite]:
    """The queries in the LLM's reply: ``{"queries": [...], "translations": [...]}``
    (also inside a code fence or with text around it; translations also as an object of
    language -> text). At most ``alternatives`` and ``translations`` of each, none
    repeating the question; [] for any other reply."""
    text = _FENCE_RE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    data = None
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
        except ValueError:
            data = None
    if not isinstance(data, dict):
        return []  # a refusal or prose is no query: searched, it would only add noise
    queries = data.get("queries")
    translated = data.get("translations")
    if isinstance(translated, dict):  # {"german": "..."}
        translated = list(translated.values())
    queries = [q for q in queries if isinstance(q, str)] if isinstance(queries, list) else []
    translated = (
        [t for t in translated if isinstance(t, str)] if isinstance(translated, list) else []
    )
    found = [Rewrite(t, "translation") for t in _unique(translated, question)[:translations]]
    kept = _unique([*(r.text for r in found), *queries], question)[len(found) :]
    return found + [Rewrite(q, "alternative") for q in kept[:alternatives]]


def query_rewrites(
    question: str,
    config: LLMConfig,
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    usage: LLMUsage | None = None,
    alternatives: int | None = None,
) -> list[Rewrite]:
    """The LLM's other queries for ``question`` and its translations into the main
    languages of the documents ``readers`` may read; [] on any failure (logged).

    Only the question and the names of those languages are sent. One request, bounded by
    ``LLM_STEP_TIMEOUT_S`` and ``REWRITE_MAX_TOKENS``; its tokens go to ``usage``.
    """
    alternatives = settings.LLM_QUERY_REWRITE_ALTERNATIVES if alternatives is None else alternatives
    languages = [name.capitalize() for name in document_languages(workspace_ids, readers)]
    if alternatives < 1 and len(languages) < 1:
        return []
    bounded = replace(config, timeout=settings.LLM_STEP_TIMEOUT_S, max_tokens=REWRITE_MAX_TOKENS)
    messages = build_rewrite_messages(question, alternatives=alternatives, languages=languages)
    try:
        content = chat_text(bounded, messages, usage=usage)
    except LLMError as exc:
        logger.warning("query rewrite skipped: %s", exc)
        return []
    return rewrites_parse(
        content, question, alternatives=max(alternatives, 0), translations=len(languages)
    )


def rankings_fuse(rankings: Sequence[Sequence[Ranked]], weights: Sequence[float]) -> list[Ranked]:
    """Several queries' fused rankings as one: each chunk scores the weighted mean of its
    normalised score in each (0 where a query did not find it), each query's weight its
    ``weights`` entry times its ranking's confidence (``search.fusion.confidence``: how far
    its best results stand above the rest). Scores lie in 0..1, best first (ties by id).

    So a translation that finds the German page far ahead of the rest outweighs an
    English question whose ranking is flat, and a vague alternative has little say.
    """
    scored = [normalised(ranking, depth=FUSED_DEPTH) for ranking in rankings]
    shares = [
        weight * confidence(scores, depth=FUSED_DEPTH)
        for weight, scores in zip(weights, scored, strict=True)
    ]
    if sum(shares) <= 0:
        shares = list(weights)
    total = sum(shares)
    if total <= 0:
        return []
    fused: dict[int, float] = {}
    for share, scores in zip(shares, scored, strict=True):
        for chunk_id, score in scores.items():
            fused[chunk_id] = fused.get(chunk_id, 0.0) + share / total * score
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]
