"""Ask and search API."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from opaa.api import WorkspaceAPIView
from search import services
from search.retrieval import hybrid_search
from workspaces.models import Role


def passage_url(document_id: int, chunk_id: int) -> str:
    return f"{reverse('ingestion:document', args=[document_id])}#chunk-{chunk_id}"


class AskInput(serializers.Serializer):
    question = serializers.CharField(max_length=services.MAX_QUESTION_CHARS, trim_whitespace=True)
    workspace = serializers.SlugField(required=False)


class CitationOutput(serializers.Serializer):
    number = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    chunk_id = serializers.IntegerField()
    heading_path = serializers.ListField(child=serializers.CharField())
    text = serializers.CharField()
    url = serializers.CharField()


class AnswerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField()
    answer = serializers.CharField()
    mode = serializers.CharField()
    citations = CitationOutput(many=True)
    latency_ms = serializers.IntegerField()


class AskView(WorkspaceAPIView):
    """Ask a question; the answer cites numbered passages of your documents."""

    required_roles = {"POST": Role.VIEWER}

    @extend_schema(
        request=AskInput,
        responses=AnswerOutput,
        examples=[OpenApiExample("question", value={"question": "How do I reset my VPN token?"})],
    )
    def post(self, request):
        data = AskInput(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.answer_question(
            user=request.user, workspace=self.workspace, question=data.validated_data["question"]
        )
        citations = [
            {**c, "url": passage_url(c["document_id"], c["chunk_id"])} for c in record.citations
        ]
        return Response(
            AnswerOutput(
                {
                    "id": record.pk,
                    "question": record.text,
                    "answer": record.answer,
                    "mode": record.mode,
                    "citations": citations,
                    "latency_ms": record.latency_ms,
                }
            ).data
        )


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

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="The search text."),
            OpenApiParameter("k", int, description="How many passages (1-50, default 10)."),
            OpenApiParameter("workspace", str, description="Workspace slug."),
        ],
        responses=SearchResult(many=True),
    )
    def get(self, request):
        query = services.question_validate(request.query_params.get("q", ""))
        try:
            k = int(request.query_params.get("k", 10))
        except ValueError:
            k = 0
        if not 1 <= k <= 50:
            return Response({"k": ["k must be a whole number from 1 to 50."]}, status=400)
        passages = hybrid_search(query, workspace_ids=[self.workspace.pk], k=k)
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
