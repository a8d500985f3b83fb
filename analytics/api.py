"""The analytics API (scope ``analytics:read``): what the analytics pages show, as JSON.

A workspace admin reads their workspace's figures; an owner may also ask for every
workspace at once (``scope=all``). Question text appears only in the groups of
questions, and only when the organization keeps it (``AUDIT_RECORD_QUESTION_TEXT``).
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.scopes import Scope
from analytics.groups import QuestionGroup, knowledge_gaps, top_questions
from analytics.models import GoldenQuestion
from analytics.period import Period, period_parse
from analytics.quality import quality_daily, runs_recent
from analytics.scope import AnalyticsScope, analytics_scope
from analytics.selectors import (
    Figures,
    analytics_by_channel,
    analytics_by_workspace,
    analytics_daily,
    analytics_totals,
    documents_most_cited,
    documents_never_cited,
    documents_stale,
    sources_failing,
)
from workspaces.api_base import WorkspaceAPIView
from workspaces.models import Role
from workspaces.readers import reader_scope


class AnalyticsFiguresOutput(serializers.Serializer):
    questions = serializers.IntegerField()
    people = serializers.IntegerField(help_text="Distinct people who asked.")
    answered = serializers.IntegerField()
    not_in_documents = serializers.IntegerField(help_text='Answered "not in the documents".')
    answered_rate = serializers.FloatField(allow_null=True)
    not_in_documents_rate = serializers.FloatField(allow_null=True)
    helpful = serializers.IntegerField(help_text="👍 given to these questions' answers.")
    unhelpful = serializers.IntegerField(help_text="👎 given to these questions' answers.")
    helpful_rate = serializers.FloatField(allow_null=True)
    unhelpful_rate = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.FloatField(allow_null=True)
    latency_p95_ms = serializers.FloatField(allow_null=True)
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost_usd = serializers.FloatField()


class AnalyticsDayOutput(AnalyticsFiguresOutput):
    day = serializers.DateField(help_text="The day, in the period's time zone.")


class AnalyticsChannelOutput(AnalyticsFiguresOutput):
    channel = serializers.CharField(help_text='portal, api, chat, mcp or "unknown".')


class AnalyticsWorkspaceFiguresOutput(AnalyticsFiguresOutput):
    workspace = serializers.CharField(help_text="The workspace's slug.")


class AnalyticsPeriodOutput(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    tz = serializers.CharField()


class AnalyticsSeriesOutput(serializers.Serializer):
    workspace = serializers.CharField(allow_null=True, help_text="Null with scope=all.")
    period = AnalyticsPeriodOutput()
    totals = AnalyticsFiguresOutput()
    days = AnalyticsDayOutput(many=True)
    channels = AnalyticsChannelOutput(many=True)
    workspaces = AnalyticsWorkspaceFiguresOutput(many=True, help_text="Only with scope=all.")


PERIOD_PARAMETERS = [
    OpenApiParameter("days", int, enum=[7, 30, 90], description="The last 7, 30 or 90 days."),
    OpenApiParameter("start", str, description="First day of a custom period (YYYY-MM-DD)."),
    OpenApiParameter("end", str, description="Last day of a custom period (YYYY-MM-DD)."),
    OpenApiParameter("tz", str, description="IANA time zone the days are counted in."),
    OpenApiParameter("scope", str, enum=["all"], description="Owners: every workspace together."),
]


def _figures(figures: Figures, **key) -> dict:
    return {**key, **figures.as_dict()}


class AnalyticsView(WorkspaceAPIView):
    """Base of the analytics reads: admin role, ``analytics:read``, a period and a scope."""

    required_roles = {"GET": Role.ADMIN}
    required_scopes = {"GET": Scope.ANALYTICS_READ}

    def scope_and_period(self, request) -> tuple[AnalyticsScope, Period]:
        period = period_parse(request.query_params)  # ValidationError: 400
        scope = analytics_scope(
            user=request.user,
            workspace=self.workspace,
            every=request.query_params.get("scope") == "all",
            readable=self.readable_workspaces(),
        )
        return scope, period


class SeriesView(AnalyticsView):
    """Questions, people, answer and feedback rates, latency, tokens and cost per day."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=AnalyticsSeriesOutput)
    def get(self, request):
        scope, period = self.scope_and_period(request)
        workspaces = scope.workspaces
        body = {
            "workspace": None if scope.all_workspaces else self.workspace.slug,
            "period": {"first": period.first, "last": period.last, "tz": period.tz.key},
            "totals": analytics_totals(workspaces=workspaces, period=period).as_dict(),
            "days": [
                _figures(row.figures, day=row.key)
                for row in analytics_daily(workspaces=workspaces, period=period)
            ],
            "channels": [
                _figures(row.figures, channel=row.key)
                for row in analytics_by_channel(workspaces=workspaces, period=period)
            ],
            "workspaces": (
                [
                    _figures(row.figures, workspace=row.key)
                    for row in analytics_by_workspace(workspaces=workspaces, period=period)
                ]
                if scope.all_workspaces
                else []
            ),
        }
        return Response(AnalyticsSeriesOutput(body).data)


class AnalyticsGroupOutput(serializers.Serializer):
    questions = serializers.IntegerField()
    people = serializers.IntegerField()
    answered = serializers.IntegerField()
    answered_rate = serializers.FloatField()
    helpful = serializers.IntegerField()
    unhelpful = serializers.IntegerField()
    representative = serializers.CharField(
        allow_null=True, help_text="Null when the organization does not keep question text."
    )
    examples = serializers.ListField(child=serializers.CharField())
    first_asked = serializers.DateTimeField()
    last_asked = serializers.DateTimeField()


class AnalyticsPassageOutput(serializers.Serializer):
    document_id = serializers.IntegerField(allow_null=True)
    document_title = serializers.CharField()
    text = serializers.CharField()
    times = serializers.IntegerField(
        help_text="How many of the group's answers cited it; 0: found by a search now."
    )


class AnalyticsGapOutput(AnalyticsGroupOutput):
    status = serializers.ChoiceField(choices=["open", "resolved", "reopened"])
    resolved_at = serializers.DateTimeField(allow_null=True)
    weak_since_resolved = serializers.IntegerField()
    passages = AnalyticsPassageOutput(many=True)


class AnalyticsGroupsOutput(serializers.Serializer):
    grouped = serializers.IntegerField(help_text="Questions grouped.")
    truncated = serializers.BooleanField(help_text="Only the most recent were grouped.")
    pending = serializers.IntegerField(
        help_text="Questions left out until they are embedded in the background."
    )
    groups = AnalyticsGroupOutput(many=True)


class AnalyticsGapsOutput(AnalyticsGroupsOutput):
    groups = AnalyticsGapOutput(many=True)


def _group(group: QuestionGroup) -> dict:
    return {
        "questions": group.questions,
        "people": group.people,
        "answered": group.answered,
        "answered_rate": group.answered_rate,
        "helpful": group.helpful,
        "unhelpful": group.unhelpful,
        "representative": group.representative,
        "examples": group.examples,
        "first_asked": group.first_asked,
        "last_asked": group.last_asked,
        "status": group.status,
        "resolved_at": group.resolution.resolved_at if group.resolution else None,
        "weak_since_resolved": group.weak_since_resolved,
        "passages": group.passages,
    }


class TopQuestionsView(AnalyticsView):
    """The period's questions grouped by meaning, most asked first."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=AnalyticsGroupsOutput)
    def get(self, request):
        scope, period = self.scope_and_period(request)
        grouping = top_questions(scope=scope, period=period)
        body = {
            "grouped": grouping.grouped,
            "truncated": grouping.truncated,
            "pending": grouping.pending,
            "groups": [_group(g) for g in grouping.groups],
        }
        return Response(AnalyticsGroupsOutput(body).data)


class GapsView(AnalyticsView):
    """Knowledge gaps: the period's weak questions grouped, ranked by people."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=AnalyticsGapsOutput)
    def get(self, request):
        scope, period = self.scope_and_period(request)
        readers = reader_scope(request.user, scope.workspaces)
        grouping = knowledge_gaps(scope=scope, period=period, readers=readers)
        body = {
            "grouped": grouping.grouped,
            "truncated": grouping.truncated,
            "pending": grouping.pending,
            "groups": [_group(g) for g in grouping.groups],
        }
        return Response(AnalyticsGapsOutput(body).data)


class AnalyticsDocumentLoadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    workspace = serializers.CharField(help_text="The workspace's name.")
    questions = serializers.IntegerField(help_text="Questions of the period citing it.")
    last_cited = serializers.DateTimeField(allow_null=True)
    indexed_at = serializers.DateTimeField(allow_null=True)


class AnalyticsFailingSourceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    workspace = serializers.CharField()
    consecutive_failures = serializers.IntegerField()
    last_error = serializers.CharField()
    last_failed_at = serializers.DateTimeField(allow_null=True)


class AnalyticsDocumentsOutput(serializers.Serializer):
    most_cited = AnalyticsDocumentLoadOutput(many=True)
    stale = AnalyticsDocumentLoadOutput(many=True)
    never_cited_count = serializers.IntegerField()
    never_cited = AnalyticsDocumentLoadOutput(many=True, help_text="The oldest of them.")
    failing_sources = AnalyticsFailingSourceOutput(many=True)


class DocumentsView(AnalyticsView):
    """Documents that carry the load: most cited, stale, never cited; failing sources."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=AnalyticsDocumentsOutput)
    def get(self, request):
        scope, period = self.scope_and_period(request)
        workspaces = scope.workspaces
        count, never = documents_never_cited(workspaces=workspaces, period=period)
        body = {
            "most_cited": documents_most_cited(workspaces=workspaces, period=period),
            "stale": documents_stale(workspaces=workspaces, period=period),
            "never_cited_count": count,
            "never_cited": never,
            "failing_sources": sources_failing(workspaces=workspaces),
        }
        return Response(AnalyticsDocumentsOutput(body).data)


class QualityDayOutput(serializers.Serializer):
    day = serializers.DateField()
    ndcg = serializers.FloatField(allow_null=True, help_text="nDCG@10 of the day's last run.")
    recall = serializers.FloatField(allow_null=True, help_text="Recall@10 of that run.")
    correct = serializers.FloatField(
        allow_null=True, help_text="Share of golden questions answered (or not) as expected."
    )
    helpful_rate = serializers.FloatField(allow_null=True, help_text="The day's 👍 share.")


class QualityRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    trigger = serializers.CharField(help_text="schedule or manual.")
    status = serializers.CharField(help_text="queued, running, done or failed.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    ndcg = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)
    correct = serializers.FloatField(allow_null=True)
    model = serializers.CharField()
    embedder = serializers.CharField()
    documents_indexed = serializers.IntegerField()
    drops = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="Metrics that fell beyond the threshold: {metric: [before, after]}.",
    )


class QualityOutput(serializers.Serializer):
    workspace = serializers.CharField()
    period = AnalyticsPeriodOutput()
    threshold = serializers.FloatField(help_text="GOLDEN_DROP_THRESHOLD.")
    golden_questions = serializers.IntegerField()
    days = QualityDayOutput(many=True)
    runs = QualityRunOutput(many=True, help_text="The most recent runs, newest first.")


class QualityView(AnalyticsView):
    """Answer quality: golden-question runs' means per day beside the feedback rate, and
    the recent runs (one workspace; ``scope=all`` does not apply)."""

    @extend_schema(parameters=PERIOD_PARAMETERS[:4], responses=QualityOutput)
    def get(self, request):
        period = period_parse(request.query_params)  # ValidationError: 400
        workspace = self.workspace
        body = {
            "workspace": workspace.slug,
            "period": {"first": period.first, "last": period.last, "tz": period.tz.key},
            "threshold": settings.GOLDEN_DROP_THRESHOLD,
            "golden_questions": GoldenQuestion.objects.filter(workspace=workspace).count(),
            "days": [asdict(d) for d in quality_daily(workspace=workspace, period=period)],
            "runs": runs_recent(workspace=workspace),
        }
        return Response(QualityOutput(body).data)
