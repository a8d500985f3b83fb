"""Conversations, feedback and batch questions API."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from accounts.audit import audit_context
from accounts.scopes import Scope
from search import conversations, selectors, services
from search.api import AnswerOutput
from search.fact_answers import answer_facts
from search.models import Conversation, Question, SourceReason
from search.streaming import answer_payload
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import QUOTA_ERROR, RETRY_AFTER, UNAVAILABLE
from workspaces.models import Role

MAX_BATCH_QUESTIONS = 20


class ConversationOutput(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    shared = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "workspace", "title", "shared", "share_token", "created_at", "updated_at"]

    def get_shared(self, conversation) -> bool:
        return bool(conversation.share_token)


class ConversationDetailOutput(ConversationOutput):
    turns = serializers.SerializerMethodField()

    class Meta(ConversationOutput.Meta):
        fields = [*ConversationOutput.Meta.fields, "turns"]

    @extend_schema_field(AnswerOutput(many=True))
    def get_turns(self, conversation) -> list[dict]:
        """Each turn as ``POST /api/v1/ask`` answered it, for whoever reads it now: the
        citations and facts (of a follow-up: its standalone question's) they may read."""
        viewer = self.context["request"].user
        turns = conversations.conversation_turns(conversation, viewer=viewer)
        return [{**answer_payload(q), "facts": answer_facts(q, viewer=viewer)} for q in turns]


class ConversationInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    shared = serializers.BooleanField(required=False)
    workspace = serializers.SlugField(required=False)


class ConversationListView(WorkspaceAPIView):
    """Your conversations in a workspace; POST starts a new one."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.VIEWER}
    required_scopes = {"GET": Scope.ASK, "POST": Scope.ASK}
    pagination_class = LimitOffsetPagination

    def scoped_queryset(self):
        return Conversation.objects.filter(owner=self.request.user).select_related("workspace")

    @extend_schema(responses=ConversationOutput(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(ConversationOutput(page, many=True).data)

    @extend_schema(request=ConversationInput, responses={201: ConversationOutput})
    def post(self, request):
        data = ConversationInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversations.conversation_create(
            user=request.user, workspace=self.workspace, title=data.validated_data.get("title", "")
        )
        return Response(ConversationOutput(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailView(WorkspaceAPIView):
    """One of your conversations with its turns; PATCH renames or shares it."""

    required_roles = {"GET": Role.VIEWER, "PATCH": Role.VIEWER, "DELETE": Role.VIEWER}
    required_scopes = {"GET": Scope.ASK, "PATCH": Scope.ASK, "DELETE": Scope.ASK}
    workspace_from_request = False

    def scoped_queryset(self):
        # Your own: someone else's conversation is a 404, as an unknown id is.
        return Conversation.objects.filter(owner=self.request.user).select_related("workspace")

    @extend_schema(responses=ConversationDetailOutput)
    def get(self, request, pk: int):
        conversation = self.get_object(pk=pk)
        return Response(ConversationDetailOutput(conversation, context={"request": request}).data)

    @extend_schema(request=ConversationInput, responses=ConversationOutput)
    def patch(self, request, pk: int):
        conversation = self.get_object(pk=pk)
        data = ConversationInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "title" in data.validated_data:
            conversations.conversation_rename(
                conversation=conversation, title=data.validated_data["title"]
            )
        if "shared" in data.validated_data:
            conversations.conversation_share(
                conversation=conversation, shared=data.validated_data["shared"]
            )
        return Response(ConversationOutput(conversation).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        conversations.conversation_delete(conversation=self.get_object(pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationExportView(ConversationDetailView):
    """The conversation as a Markdown file."""

    required_roles = {"GET": Role.VIEWER}
    required_scopes = {"GET": Scope.ASK}

    @extend_schema(responses={(200, "text/markdown"): str})
    def get(self, request, pk: int):
        conversation = self.get_object(pk=pk)
        return conversations.conversation_export_response(conversation, viewer=request.user)


class SharedConversationView(WorkspaceAPIView):
    """A conversation shared by link, for members of its workspace."""

    required_roles = {"GET": Role.VIEWER}
    required_scopes = {"GET": Scope.ASK}
    workspace_from_request = False

    def scoped_queryset(self):
        return Conversation.objects.exclude(share_token=None).select_related("workspace", "owner")

    @extend_schema(responses=ConversationDetailOutput)
    def get(self, request, token: str):
        conversation = self.get_object(share_token=token)
        return Response(ConversationDetailOutput(conversation, context={"request": request}).data)


class FlaggedSource(serializers.Serializer):
    number = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=SourceReason.choices)


class FeedbackInput(serializers.Serializer):
    question = serializers.IntegerField(help_text="The id of the answered question.")
    helpful = serializers.BooleanField()
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    sources = FlaggedSource(many=True, required=False)


class UnhelpfulAnswerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    question = serializers.CharField(source="text")
    answer = serializers.CharField(source="answer_shown")
    citations = serializers.JSONField()
    feedback = serializers.SerializerMethodField()
    flagged_sources = serializers.SerializerMethodField()

    def get_feedback(self, question) -> list[dict]:
        return [{"helpful": f.helpful, "comment": f.comment} for f in question.feedback.all()]

    def get_flagged_sources(self, question) -> list[dict]:
        return [
            {"number": s.citation_number, "document_id": s.document_id, "reason": s.reason}
            for s in question.source_feedback.all()
        ]


class FeedbackView(WorkspaceAPIView):
    """POST: 👍/👎 on an answer, with a comment and flagged sources. GET: admins review
    the answers people found unhelpful."""

    required_roles = {"GET": Role.ADMIN, "POST": Role.VIEWER}
    required_scopes = {"GET": Scope.AUDIT_READ, "POST": Scope.ASK}
    pagination_class = LimitOffsetPagination

    def scoped_queryset(self):
        # GET: the workspace's (``get_queryset``); POST: the rated answer (``get_object``).
        if self.request.method == "POST":
            return Question.objects.select_related("conversation", "workspace")
        return conversations.questions_rated_unhelpful()

    def object_readable(self, obj: Question) -> bool:
        return selectors.question_rateable(self.request.user, obj)

    @extend_schema(responses=UnhelpfulAnswerOutput(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(UnhelpfulAnswerOutput(page, many=True).data)

    @extend_schema(
        request=FeedbackInput,
        responses={201: inline_serializer("FeedbackOutput", {"detail": serializers.CharField()})},
        examples=[
            OpenApiExample(
                "unhelpful",
                value={
                    "question": 7,
                    "helpful": False,
                    "comment": "Outdated",
                    "sources": [{"number": 2, "reason": "wrong"}],
                },
            )
        ],
    )
    def post(self, request):
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = self.get_object(pk=data.validated_data["question"])
        conversations.feedback_submit(
            user=request.user,
            question=question,
            helpful=data.validated_data["helpful"],
            comment=data.validated_data.get("comment", ""),
            flagged=[(s["number"], s["reason"]) for s in data.validated_data.get("sources", [])],
        )
        return Response({"detail": "Thank you for the feedback."}, status=status.HTTP_201_CREATED)


class BatchInput(serializers.Serializer):
    questions = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_QUESTION_CHARS),
        min_length=1,
        max_length=MAX_BATCH_QUESTIONS,
    )
    workspace = serializers.SlugField(required=False)


# The example of a batch answer whose question sets a condition on a number.
BATCH_FACTS_ANSWER = {
    "id": 52,
    "conversation": None,
    "question": "Which rowers are taller than 1.95 m?",
    "answer": "Ann Lind is 1.96 m tall [1].",
    "mode": "extractive",
    "confidence": 0.71,
    "confidence_label": "medium",
    "citations": [
        {
            "number": 1,
            "document_id": 31,
            "document_title": "Ann Lind",
            "chunk_id": 402,
            "heading_path": ["Ann Lind"],
            "text": "Ann Lind is a Danish rower. Height: 1.96 m",
            "url": "/documents/31/#chunk-402",
        }
    ],
    "conflicts": [],
    "facts": [
        {
            "entity": "Ann Lind",
            "document_id": 31,
            "document_title": "Ann Lind",
            "chunk_id": 402,
            "url": "/documents/31/#chunk-402",
            "facts": [
                {
                    "label": "Height",
                    "value": "1.96 m",
                    "chunk_id": 402,
                    "url": "/documents/31/#chunk-402",
                }
            ],
        }
    ],
    "model": "",
    "prompt_tokens": 0,
    "completion_tokens": 0,
    "cost_usd": "0.000000",
    "latency_ms": 184,
}


class BatchAskView(WorkspaceAPIView):
    """Many questions in one request (at most 20), answered in order: each answer as
    ``POST /api/v1/ask`` gives it, with the ``facts`` you may read."""

    required_roles = {"POST": Role.VIEWER}
    required_scopes = {"POST": Scope.ASK}

    @extend_schema(
        request=BatchInput,
        responses={
            200: inline_serializer("BatchOutput", {"answers": AnswerOutput(many=True)}),
            402: QUOTA_ERROR,
            429: QUOTA_ERROR,
            503: UNAVAILABLE,
        },
        parameters=[RETRY_AFTER],
        examples=[
            OpenApiExample(
                "two questions",
                request_only=True,
                value={"questions": ["What is the per diem abroad?", "Who approves travel?"]},
            ),
            OpenApiExample(
                "a question about numbers",
                response_only=True,
                value={"answers": [BATCH_FACTS_ANSWER]},
            ),
        ],
    )
    def post(self, request):
        data = BatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        questions = [services.question_validate(q) for q in data.validated_data["questions"]]
        answers = []
        for question in questions:
            record = services.answer_question(
                user=request.user,
                workspace=self.workspace,
                question=question,
                audit=audit_context(request),
            )
            # As POST /api/v1/ask: the facts the asker may read (search.fact_answers).
            answers.append(
                {**answer_payload(record), "facts": answer_facts(record, viewer=request.user)}
            )
        return Response({"answers": AnswerOutput(answers, many=True).data})
