"""Ask and search API."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.audit import audit_context
from accounts.scopes import Scope
from search import selectors, services
from search.fact_answers import answer_facts
from search.models import Conversation
from search.streaming import (
    EventStreamRenderer,
    answer_payload,
    passage_url,
    sse_response,
)
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import QUOTA_ERROR, RETRY_AFTER, UNAVAILABLE
from workspaces.models import Role


class AskInput(serializers.Serializer):
    question = serializers.CharField(max_length=services.MAX_QUESTION_CHARS, trim_whitespace=True)
    workspace = serializers.SlugField(required=False)
    conversation = serializers.IntegerField(
        required=False, help_text="Continue this conversation of yours (a follow-up question)."
    )
    regenerate = serializers.BooleanField(
        required=False, default=False, help_text="Answer again instead of from the answer cache."
    )


def conversation_for_ask(view: WorkspaceAPIView, data: AskInput) -> Conversation | None:
    """The conversation an ask continues: the caller's own, in the same workspace."""
    pk = data.validated_data.get("conversation")
    if pk is None:
        return None
    conversation = selectors.conversation_get(view.request.user, pk)
    if conversation.workspace_id != view.workspace.pk:
        raise NotFound("No such conversation in this workspace.")
    return conversation


class CitationOutput(serializers.Serializer):
    number = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    chunk_id = serializers.IntegerField()
    heading_path = serializers.ListField(child=serializers.CharField())
    text = serializers.CharField()
    url = serializers.CharField()


class ConflictStatementOutput(serializers.Serializer):
    number = serializers.IntegerField(help_text="The citation, as in the answer's [n].")
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    chunk_id = serializers.IntegerField()
    text = serializers.CharField(help_text="The sentence that states the value.")
    value = serializers.CharField(help_text='The value as written, e.g. "EUR 65".')


class ConflictOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="amount, percent, date, duration, version or count")
    topic = serializers.CharField(help_text="The words the statements share with the question.")
    statements = ConflictStatementOutput(many=True)


class FactValueOutput(serializers.Serializer):
    label = serializers.CharField(help_text='The attribute as the document names it ("Height").')
    value = serializers.CharField(help_text='The value as written, e.g. "1.96 m".')
    chunk_id = serializers.IntegerField(help_text="The passage the fact was read from.")
    url = serializers.CharField(help_text="The document opened at that passage.")


class FactOutput(serializers.Serializer):
    entity = serializers.CharField(help_text="What the facts are about (a page's subject, a row).")
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    chunk_id = serializers.IntegerField()
    url = serializers.CharField()
    facts = FactValueOutput(many=True, help_text="The facts that satisfy the question.")


class AnswerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    conversation = serializers.IntegerField(allow_null=True)
    question = serializers.CharField()
    answer = serializers.CharField()
    mode = serializers.CharField()
    confidence = serializers.FloatField(
        help_text="0 to 1: how well the cited passages cover the question (docs/answers.md)."
    )
    confidence_label = serializers.CharField(help_text="high, medium or low")
    citations = CitationOutput(many=True)
    conflicts = ConflictOutput(
        many=True,
        help_text="Cited passages of different documents that state different values "
        "for the same thing; empty when they agree.",
    )
    facts = FactOutput(
        many=True,
        required=False,
        help_text='For a question about attributes and numbers ("which rowers are taller '
        'than 1.95 m?"): the entities whose facts satisfy it, read from the documents you '
        "may read, each fact with its passage; empty otherwise (docs/answers.md).",
    )
    model = serializers.CharField(help_text="The LLM that wrote the answer; empty if extractive.")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(
        max_digits=12, decimal_places=6, help_text="At the configured prices per token."
    )
    latency_ms = serializers.IntegerField()


class AskView(WorkspaceAPIView):
    """Ask a question; the answer cites numbered passages of your documents."""

    required_roles = {"POST": Role.VIEWER}
    required_scopes = {"POST": Scope.ASK}
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, EventStreamRenderer]

    @extend_schema(
        request=AskInput,
        responses={
            (200, "application/json"): AnswerOutput,
            (200, "text/event-stream"): str,
            402: QUOTA_ERROR,
            429: QUOTA_ERROR,
            503: UNAVAILABLE,
        },
        parameters=[
            RETRY_AFTER,
            OpenApiParameter(
                "stream",
                bool,
                description=(
                    "Stream the answer as server-sent events: `sources` first, then "
                    "`delta` pieces of text, then `done` with the final answer."
                ),
            ),
        ],
        examples=[
            OpenApiExample(
                "question",
                value={"question": "How do I reset my VPN token?"},
                request_only=True,
            ),
            OpenApiExample(
                "follow-up",
                value={"question": "And from abroad?", "conversation": 12},
                request_only=True,
            ),
            OpenApiExample(
                "answer",
                response_only=True,
                value={
                    "id": 41,
                    "conversation": 12,
                    "question": "How do I reset my VPN token?",
                    "answer": "Open the self-service portal and choose Reset token [1].",
                    "mode": "llm",
                    "confidence": 0.82,
                    "confidence_label": "high",
                    "citations": [
                        {
                            "number": 1,
                            "document_id": 7,
                            "document_title": "IT runbook",
                            "chunk_id": 88,
                            "heading_path": ["VPN", "Tokens"],
                            "text": "To reset a VPN token, open the self-service portal ...",
                            "url": "/documents/7/#chunk-88",
                        }
                    ],
                    "conflicts": [],
                    "facts": [],
                    "model": "gpt-4o-mini",
                    "prompt_tokens": 812,
                    "completion_tokens": 41,
                    "cost_usd": "0.000147",
                    "latency_ms": 1240,
                },
            ),
        ],
    )
    def post(self, request):
        data = AskInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = services.question_validate(data.validated_data["question"])
        arguments = {
            "user": request.user,
            "workspace": self.workspace,
            "question": question,
            "audit": audit_context(request),
            "conversation": conversation_for_ask(self, data),
            "fresh": data.validated_data["regenerate"],
        }
        if request.query_params.get("stream", "").lower() in {"1", "true", "yes"}:
            return sse_response(services.answer_question_stream(**arguments))
        record = services.answer_question(**arguments)
        payload = {**answer_payload(record), "facts": answer_facts(record, viewer=request.user)}
        return Response(AnswerOutput(payload).data)


class SearchResult(serializers.Serializer):
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    chunk_id = serializers.IntegerField()
    heading_path = serializers.ListField(child=serializers.CharField())
    text = serializers.CharField()
    score = serializers.FloatField()
    url = serializers.CharField()


class SearchView(WorkspaceAPIView):
    """The best passages for a query, without writing an answer."""

    required_roles = {"GET": Role.VIEWER}
    required_scopes = {"GET": Scope.SEARCH_READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="The search text."),
            OpenApiParameter("k", int, description="How many passages (1-50, default 10)."),
            OpenApiParameter("workspace", str, description="Workspace slug."),
        ],
        responses=inline_serializer(
            "SearchOutput",
            {"query": serializers.CharField(), "results": SearchResult(many=True)},
        ),
        examples=[
            OpenApiExample(
                "results",
                response_only=True,
                value={
                    "query": "vpn token",
                    "results": [
                        {
                            "document_id": 7,
                            "document_title": "IT runbook",
                            "chunk_id": 88,
                            "heading_path": ["VPN", "Tokens"],
                            "text": "To reset a VPN token, open the self-service portal ...",
                            "score": 0.0325,
                            "url": "/documents/7/#chunk-88",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request):
        query = services.question_validate(request.query_params.get("q", ""))
        try:
            k = int(request.query_params.get("k", 10))
        except ValueError:
            k = 0
        if not 1 <= k <= 50:
            return Response({"k": ["k must be a whole number from 1 to 50."]}, status=400)
        passages = services.search_audited(
            query,
            user=request.user,
            workspace=self.workspace,
            k=k,
            audit=audit_context(request),
        )
        results = [
            {
                "document_id": p.document_id,
                "document_title": p.document_title,
                "chunk_id": p.chunk_id,
                "heading_path": list(p.heading_path),
                "text": p.text,
                "score": p.score,
                "url": passage_url(p.document_id, p.chunk_id),
            }
            for p in passages
        ]
        return Response({"query": query, "results": SearchResult(results, many=True).data})
