"""The analytics API (scope ``analytics:read``): the dashboard's series as JSON.

A workspace admin reads their workspace's figures; an owner may also ask for every
workspace at once (``scope=all``). Question text is never part of these series.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.scopes import Scope
from analytics.period import period_parse
from analytics.scope import analytics_scope
from analytics.selectors import (
    Figures,
    analytics_by_channel,
    analytics_by_workspace,
    analytics_daily,
    analytics_totals,
)
from workspaces.api_base import WorkspaceAPIView
from workspaces.models import Role


class FiguresOutput(serializers.Serializer):
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


class DayOutput(FiguresOutput):
    day = serializers.DateField(help_text="The day, in the period's time zone.")


class ChannelOutput(FiguresOutput):
    channel = serializers.CharField(help_text='portal, api, chat, mcp or "unknown".')


class WorkspaceFiguresOutput(FiguresOutput):
    workspace = serializers.CharField(help_text="The workspace's slug.")


class PeriodOutput(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    tz = serializers.CharField()


class SeriesOutput(serializers.Serializer):
    workspace = serializers.CharField(allow_null=True, help_text="Null with scope=all.")
    period = PeriodOutput()
    totals = FiguresOutput()
    days = DayOutput(many=True)
    channels = ChannelOutput(many=True)
    workspaces = WorkspaceFiguresOutput(many=True, help_text="Only with scope=all.")


PERIOD_PARAMETERS = [
    OpenApiParameter("days", int, enum=[7, 30, 90], description="The last 7, 30 or 90 days."),
    OpenApiParameter("start", str, description="First day of a custom period (YYYY-MM-DD)."),
    OpenApiParameter("end", str, description="Last day of a custom period (YYYY-MM-DD)."),
    OpenApiParameter("tz", str, description="IANA time zone the days are counted in."),
    OpenApiParameter("scope", str, enum=["all"], description="Owners: every workspace together."),
]


def _figures(figures: Figures, **key) -> dict:
    return {**key, **figures.as_dict()}


class SeriesView(WorkspaceAPIView):
    """Questions, people, answer and feedback rates, latency, tokens and cost per day."""

    required_roles = {"GET": Role.ADMIN}
    required_scopes = {"GET": Scope.ANALYTICS_READ}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=SeriesOutput)
    def get(self, request):
        try:
            period = period_parse(request.query_params)
        except ValidationError as invalid:
            return Response(invalid.message_dict, status=400)
        scope = analytics_scope(
            user=request.user,
            workspace=self.workspace,
            every=request.query_params.get("scope") == "all",
        )
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
        return Response(SeriesOutput(body).data)
