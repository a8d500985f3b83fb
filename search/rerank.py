"""Reranking by the LLM (optional): the chat model orders the best candidates.

With an LLM configured and reranking switched on (``LLM_RERANK``, or the organization's
answer settings), the best ``LLM_RERANK_CANDIDATES`` passages of hybrid search (20 by
default; after the ``/rerank`` reranker when one is configured too) go to the chat
model, each cut to ``LLM_RERANK_PASSAGE_CHARS`` characters, and it names the ones that
help answer the question, best first. Those come first in its order, the others follow
in their retrieved order; a passage keeps its fused score. Only passages retrieval
already returned go out: retrieval reads only what the asker may read, so a passage
the asker cannot read is never sent.

Request and reply (``search.prompts.build_rerank_messages``; the tests' fake OpenAI
server answers the same way):

    system: RERANK_PROMPT
    user:   <passages>
            <passage id="1" title="...">text</passage> ...
            </passages>
            Question: <question>
            Reply with {"ranking": [ids]}, the most useful passage first.
    reply:  {"ranking": [3, 1, 2]}

Also read: ``{"ranking": [{"id": 3, "score": 0.9}, ...]}`` (ordered by score), a bare
list ``[3, 1, 2]``, or the ids in the text ("3 > 1 > 2"). Ids out of range or repeated
are skipped. A reply with no valid id, a timeout or an error leaves the retrieved order:
reranking may improve an answer, never stop one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings

from search.answering import Passage
from search.llm import LLMConfig, LLMError, LLMUsage, chat_text
from search.prompts import build_rerank_messages

logger = logging.getLogger(__name__)

# Completion tokens the ranking may use: twenty ids in JSON need about sixty.
RERANK_MAX_TOKENS = 200

_INTEGER_RE = re.compile(r"(?<![\d.])\d{1,3}(?![\d.])")


def _ids(value: Any) -> list[int] | None:
    """The ids in a parsed ranking: [3, 1], ["3", "1"] or [{"id": 3, "score": ...}]."""
    if not isinstance(value, list):
        return None
    if value and all(isinstance(item, dict) for item in value):
        rows = [item for item in value if "id" in item]
        if rows and all(isinstance(item.get("score"), int | float) for item in rows):
            rows = sorted(rows, key=lambda item: -float(item["score"]))
        value = [item.get("id") for item in rows]
    ids = []
    for item in value:
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            ids.append(int(item.strip()))
    return ids


def ranking_parse(content: str, count: int) -> list[int]:
    """The 0-based positions the reply names, best first (ids 1..``count``, each once);
    [] when it names none."""
    text = content.strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    ids = None
    if start >= 0:
        end = max(text.rfind("}"), text.rfind("]"))
        try:
            data = json.loads(text[start : end + 1])
        except ValueError:
            data = None
        if isinstance(data, dict):
            data = data.get("ranking", data.get("ids"))
        ids = _ids(data)
    if ids is None:
        ids = [int(match) for match in _INTEGER_RE.findall(text)]
    order: list[int] = []
    for number in ids:
        if 1 <= number <= count and number - 1 not in order:
            order.append(number - 1)
    return order


@dataclass(frozen=True)
class LLMReranker:
    """Reorders retrieved passages with the chat model ``config`` (see the module)."""

    config: LLMConfig
    usage: LLMUsage | None = None
    candidates: int = 20
    passage_chars: int = 700

    @classmethod
    def from_settings(cls, config: LLMConfig, *, usage: LLMUsage | None = None) -> LLMReranker:
        return cls(
            config=replace(
                config, timeout=settings.LLM_STEP_TIMEOUT_S, max_tokens=RERANK_MAX_TOKENS
            ),
            usage=usage,
            candidates=settings.LLM_RERANK_CANDIDATES,
            passage_chars=settings.LLM_RERANK_PASSAGE_CHARS,
        )

    def apply(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` with the best ``candidates`` in the model's order (those it names
        first, the rest in their order), the others after them; unchanged on failure."""
        passages = list(passages)
        head, tail = passages[: self.candidates], passages[self.candidates :]
        if len(head) < 2:
            return passages
        messages = build_rerank_messages(question, head, passage_chars=self.passage_chars)
        try:
            content = chat_text(self.config, messages, usage=self.usage)
        except LLMError as exc:
            logger.warning("LLM reranking skipped: %s", exc)
            return passages
        order = ranking_parse(content, len(head))
        if not order:
            logger.warning("LLM reranking skipped: the reply named no passage")
            return passages
        rest = [i for i in range(len(head)) if i not in set(order)]
        return [head[i] for i in [*order, *rest]] + tail
