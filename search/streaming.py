"""Server-sent events for streamed answers (API ``/api/v1/ask?stream=true`` and the portal).

Event order: ``sources`` (the passages, numbered as the model sees them), any
number of ``delta`` (answer text as it is written), then ``done`` (the final answer
with validated, renumbered citations — clients replace the streamed text with it).
An ``error`` event ends a stream that failed after it started.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework.renderers import BaseRenderer

from search.answering import Passage
from search.conflicts import conflicts_find
from search.fact_answers import answer_facts
from search.models import Question

logger = logging.getLogger(__name__)


def passage_url(document_id: int, chunk_id: int) -> str:
    return f"{reverse('ingestion:document', args=[document_id])}#chunk-{chunk_id}"


def sse(event: str, data: object) -> bytes:
    """One server-sent event; the JSON payload is a single line, as the format requires."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def passage_payload(number: int, passage: Passage) -> dict:
    return {
        "number": number,
        "document_id": passage.document_id,
        "document_title": passage.document_title,
        "chunk_id": passage.chunk_id,
        "heading_path": list(passage.heading_path),
        "text": passage.text,
        "url": passage_url(passage.document_id, passage.chunk_id),
    }


def answer_payload(record: Question) -> dict:
    return {
        "id": record.pk,
        "conversation": record.conversation_id,
        "question": record.text,
        # The no-answer sentence in the reader's language (stored in English; ``mode``
        # says "no_answer" whatever the language).
        "answer": record.answer_shown,
        "mode": record.mode,
        "confidence": record.confidence,
        "confidence_label": record.confidence_label,
        "citations": [
            {**c, "url": passage_url(c["document_id"], c["chunk_id"])} for c in record.citations
        ],
        "conflicts": [
            c.as_dict()
            for c in conflicts_find(record.standalone_text or record.text, record.citations)
        ],
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        # A string, as DRF writes decimals: money is not rounded through a float.
        "cost_usd": str(record.cost_usd),
        "latency_ms": record.latency_ms,
    }


def answer_sse(events: Iterator[tuple[str, object]]) -> Iterator[bytes]:
    """Encode ``search.services.answer_question_stream`` events as SSE bytes."""
    try:
        for name, value in events:
            if name == "sources":
                sources = [passage_payload(n, p) for n, p in enumerate(value, start=1)]
                yield sse("sources", {"sources": sources})
            elif name == "delta":
                yield sse("delta", {"text": value})
            elif name == "done":
                # Streamed to the asker: the facts they may read (search.fact_answers).
                facts = answer_facts(value, viewer=value.asked_by)
                yield sse("done", {**answer_payload(value), "facts": facts})
    except Exception:
        logger.exception("streamed answer failed")
        yield sse("error", {"detail": _("The answer could not be completed; please try again.")})


def sse_response(events: Iterator[tuple[str, object]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(answer_sse(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    # Tell nginx not to buffer the stream.
    response["X-Accel-Buffering"] = "no"
    return response


class EventStreamRenderer(BaseRenderer):
    """Lets API clients ask for ``Accept: text/event-stream`` (the body is already SSE)."""

    media_type = "text/event-stream"
    format = "event-stream"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only error responses reach this renderer; streams bypass rendering.
        return sse("error", data)
