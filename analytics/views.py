"""The analytics pages of the portal: workspace admins for their workspaces, owners for
all; anyone else gets the product's 403 page (``workspace_view``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics import dashboard
from analytics.digest import digest_subscribe, digest_subscribed
from analytics.exports import csv_response
from analytics.groups import knowledge_gaps, top_questions
from analytics.period import PRESETS, Period, period_parse
from analytics.quality import quality_daily, run_last_done
from analytics.scope import AnalyticsScope, analytics_scope, workspaces_administered
from analytics.selectors import (
    analytics_by_channel,
    analytics_by_workspace,
    analytics_daily,
    analytics_totals,
    documents_most_cited,
    documents_never_cited,
    documents_stale,
    sources_failing,
)
from analytics.services import gap_resolve
from workspaces.models import Role
from workspaces.portal import workspace_view
from workspaces.readers import reader_scope


def page_context(request, *, every: bool = True) -> tuple[AnalyticsScope, Period, dict]:
    """The scope, the period and the picker's context of an analytics page; ``every``:
    the page may show every workspace together (an owner's ``scope=all``)."""
    scope = analytics_scope(
        user=request.user,
        workspace=request.workspace,
        every=every and request.GET.get("scope") == "all",
        readable=request.workspaces,
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
    scope, period, context = page_context(request)
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
        # The answer-quality banner shows here too while the last golden run dropped.
        quality_last=None if scope.all_workspaces else run_last_done(workspace=request.workspace),
    )
    return render(request, "analytics/dashboard.html", context)


@workspace_view(Role.ADMIN)
def export_view(request, chart: str):
    """One chart's table (or a breakdown: ``channels``, ``workspaces``; or ``quality``,
    the workspace's golden-question means per day) as CSV."""
    scope, period, _context = page_context(request)
    if chart in dashboard.CHART_KEYS:
        spec = dashboard.CHARTS[dashboard.CHART_KEYS.index(chart)]
        table = dashboard.chart_table(
            spec, analytics_daily(workspaces=scope.workspaces, period=period)
        )
    elif chart == "quality":
        table = dashboard.quality_table(quality_daily(workspace=request.workspace, period=period))
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


@workspace_view(Role.ADMIN)
def questions_view(request):
    """The period's questions grouped by meaning, most asked first."""
    scope, period, context = page_context(request)
    context["grouping"] = top_questions(scope=scope, period=period)
    return render(request, "analytics/questions.html", context)


@workspace_view(Role.ADMIN)
def gaps_view(request):
    """What OPAA could not answer well, grouped and ranked; admins mark a gap resolved."""
    scope, period, context = page_context(request)
    readers = reader_scope(request.user, scope.workspaces)
    context["grouping"] = knowledge_gaps(scope=scope, period=period, readers=readers)
    context["subscribed"] = digest_subscribed(workspace=request.workspace, user=request.user)
    return render(request, "analytics/gaps.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def gap_resolve_view(request):
    """Mark the gap of the posted questions (of this workspace) resolved."""
    ids = [int(v) for v in request.POST.get("questions", "").split(",") if v.strip().isdigit()]
    try:
        gap_resolve(
            workspace=request.workspace,
            question_ids=ids,
            user=request.user,
            note=request.POST.get("note", ""),
        )
        messages.success(request, _("Marked resolved. Questions asked again will show if it is."))
    except ValueError as error:
        messages.error(request, str(error))
    back = request.POST.get("query", "")
    query = (
        back if back.startswith("workspace=") else urlencode({"workspace": request.workspace.slug})
    )
    return redirect(f"{reverse('analytics:gaps')}?{query}")


@require_POST
@workspace_view(Role.ADMIN)
def digest_view(request):
    """Turn the weekly email of new gaps on or off for the signed-in admin."""
    on = request.POST.get("on") == "1"
    digest_subscribe(
        workspace=request.workspace,
        user=request.user,
        base_url=request.build_absolute_uri("/"),
        on=on,
    )
    messages.success(
        request,
        _("You will get new gaps by email weekly.") if on else _("Weekly email turned off."),
    )
    return redirect(
        f"{reverse('analytics:gaps')}?{urlencode({'workspace': request.workspace.slug})}"
    )


@workspace_view(Role.ADMIN)
def documents_view(request):
    """The documents answers rest on, those never cited, stale ones, failing sources."""
    scope, period, context = page_context(request)
    never_count, never = documents_never_cited(workspaces=scope.workspaces, period=period)
    context.update(
        most_cited=documents_most_cited(workspaces=scope.workspaces, period=period),
        never_count=never_count,
        never=never,
        stale=documents_stale(workspaces=scope.workspaces, period=period),
        failing=sources_failing(workspaces=scope.workspaces),
    )
    return render(request, "analytics/documents.html", context)
