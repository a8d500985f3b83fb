"""Turning an answer into chat messages: numbered sources linking to the passage in the
portal, long text split at paragraph, line or sentence breaks within a platform's limit.

Platform formatting (Slack's mrkdwn, Mattermost's Markdown) is the adapters' part; this
module holds what they share.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chat.adapters.base import AnswerView, Source

_SENTENCE = re.compile(r"(?<=[.!?])\s+")

# Lazy: read in the language active where they are sent (``chat.language``).
THINKING = _("Thinking…")
HELP = _(
    "Ask me a question about your documents: mention me, send me a direct message, or use "
    "`/opaa ask <question>`. Reply in the thread to follow up.\n"
    "`/opaa search <words>`: the best passages, without an answer.\n"
    "`/opaa sources`: the sources of my last answer here.\n"
    "React with :+1: or :-1: to an answer (or use its buttons) to tell us if it helped."
)
# Platforms without slash commands (Teams, Matrix): the same, by mention or direct message.
MENTION_HELP = _(
    "Ask me a question about your documents: mention me or send me a direct message. "
    "Reply in the thread to follow up.\n"
    "`search <words>` (after the mention): the best passages, without an answer.\n"
    "`sources`: the sources of my last answer here.\n"
    "React with 👍 or 👎 to an answer (or use its buttons) to tell us if it helped."
)


def passage_link(portal_url: str, document_id: int, chunk_id: int | None) -> str:
    """The passage in the portal (the document page, scrolled to the passage)."""
    base = portal_url.rstrip("/")
    anchor = f"#chunk-{chunk_id}" if chunk_id else ""
    return f"{base}/documents/{document_id}/{anchor}"


def sources_from_citations(citations: list[dict], portal_url: str) -> list[Source]:
    return [
        Source(
            number=c["number"],
            title=c.get("document_title") or gettext("Untitled"),
            where=" > ".join(c.get("heading_path") or []),
            url=passage_link(portal_url, c["document_id"], c.get("chunk_id")),
        )
        for c in citations
    ]


def text_split(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the last paragraph
    break, else line break, else sentence end, else space before the limit (a word
    longer than the limit is cut). The pieces, stripped, join back to the words."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = -1
        for sep in ("\n\n", "\n"):
            cut = window.rfind(sep)
            if cut > limit // 4:
                break
        else:
            ends = [m.end() for m in _SENTENCE.finditer(window)]
            cut = ends[-1] if ends and ends[-1] > limit // 4 else window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


def view_of(
    *, text: str, citations: list[dict], portal_url: str, answer_id: int | None, note: str = ""
) -> AnswerView:
    return AnswerView(
        text=text,
        sources=sources_from_citations(citations, portal_url),
        answer_id=answer_id,
        note=note,
    )
