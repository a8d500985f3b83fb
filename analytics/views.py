"""The analytics pages of the portal: workspace admins for their workspaces, owners for
all; anyone else gets the product's 403 page (``workspace_view``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils.http import urlencode

from analytics import dashboard
from analytics.exports import csv_response
from analytics.period import PRESETS, Period, period_parse
from analytics.scope import AnalyticsScope, analytics_scope, workspaces_administered
from analytics.selectors import (
    analytics_by_channel,
    analytics_by_workspace,
    analytics_daily,
    analytics_totals,
)
from workspaces.models import Role
from workspaces.portal import workspace_view


def _context(request) -> tuple[AnalyticsScope, Period, dict]:
    scope = analytics_scope(
        user=request.user, workspace=request.workspace, every=request.GET.get("scope") == "all"
    )
    try:
        period = period_parse(request.GET)
        error = ""
    except ValidationError as invalid:
        period = period_parse({"tz": "UTC"})
        error = " ".join(m for messages in invalid.message_dict.values() for m in messages)
    query = {"workspace": request.workspace.slug, **period.query()}
    if scope.all_workspaces:
        query["scope"] = "all"
    return (
        scope,
        period,
        {
            "scope": scope,
            "period": period,
            "period_error": error,
            "presets": PRESETS,
            "administered": workspaces_administered(request.user),
            "query": urlencode(query),
        },
    )


@workspace_view(Role.ADMIN)
def dashboard_view(request):
    """Charts of the period's questions, each with its table and a CSV link."""
    scope, period, context = _context(request)
    days = analytics_daily(workspaces=scope.workspaces, period=period)
    charts = [
        {"chart": dashboard.chart_of(spec, days), "table": dashboard.chart_table(spec, days)}
        for spec in dashboard.CHARTS
    ]
    context.update(
        charts=charts,
        totals=analytics_totals(workspaces=scope.workspaces, period=period),
        channels=dashboard.breakdown_table(
            "Channel", analytics_by_channel(workspaces=scope.workspaces, period=period)
        ),
        by_workspace=(
            dashboard.breakdown_table(
                "Workspace", analytics_by_workspace(workspaces=scope.workspaces, period=period)
            )
            if scope.all_workspaces
            else None
        ),
    )
    return render(request, "analytics/dashboard.html", context)


@workspace_view(Role.ADMIN)
def export_view(request, chart: str):
    """One chart's table (or a breakdown: ``channels``, ``workspaces``) as CSV."""
    scope, period, _ = _context(request)
    if chart in dashboard.CHART_KEYS:
        spec = dashboard.CHARTS[dashboard.CHART_KEYS.index(chart)]
        table = dashboard.chart_table(
            spec, analytics_daily(workspaces=scope.workspaces, period=period)
        )
    elif chart == "channels":
        table = dashboard.breakdown_table(
            "Channel", analytics_by_channel(workspaces=scope.workspaces, period=period)
        )
    elif chart == "workspaces":
        table = dashboard.breakdown_table(
            "Workspace", analytics_by_workspace(workspaces=scope.workspaces, period=period)
        )
    else:
        raise Http404("No such chart.")
    name = "all" if scope.all_workspaces else request.workspace.slug
    return csv_response(table, filename=f"opaa-{chart}-{name}-{period.first}-{period.last}.csv")
