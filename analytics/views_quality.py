"""The answer-quality page: golden questions, their runs, and quality over time.

Workspace admins (and the owner) only, one workspace at a time (``workspace_view``);
the forms post back here and redirect, with what happened in a message.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics import dashboard
from analytics.golden import (
    MAX_GOLDEN,
    golden_add,
    golden_add_from_question,
    golden_adopt,
    golden_delete,
    golden_run_request,
)
from analytics.models import GoldenQuestion
from analytics.quality import (
    documents_choices,
    golden_rows,
    quality_daily,
    run_active,
    run_last_done,
    runs_recent,
)
from analytics.tasks import golden_run
from analytics.views import page_context
from workspaces.models import Role
from workspaces.portal import workspace_view


def _errors(invalid: ValidationError) -> str:
    if hasattr(invalid, "message_dict"):
        return " ".join(m for found in invalid.message_dict.values() for m in found)
    return " ".join(invalid.messages)


def _back(request):
    """Where a form returns: its safe ``next`` (the ask page's button), else this page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    query = urlencode({"workspace": request.workspace.slug})
    return redirect(f"{reverse('analytics:quality')}?{query}")


@workspace_view(Role.ADMIN)
def quality_view(request):
    """Golden questions, the last runs, and their means per day beside the feedback."""
    _scope, period, context = page_context(request, every=False)
    workspace = request.workspace
    days = quality_daily(workspace=workspace, period=period)
    last = run_last_done(workspace=workspace)
    active = run_active(workspace=workspace)
    context.update(
        chart={"chart": dashboard.quality_chart(days), "table": dashboard.quality_table(days)},
        last=last,
        active=active,
        runs=runs_recent(workspace=workspace),
        goldens=golden_rows(workspace=workspace, viewer=request.user, last=last),
        choices=documents_choices(workspace=workspace, viewer=request.user),
        threshold=settings.GOLDEN_DROP_THRESHOLD,
        max_golden=MAX_GOLDEN,
        workspace_query=urlencode({"workspace": workspace.slug}),
    )
    return render(request, "analytics/quality.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def golden_add_view(request):
    """Add a golden question: typed with its documents, or from a logged ``question``."""
    try:
        if request.POST.get("question"):
            scope, _period, _context = page_context(request)
            golden_add_from_question(
                workspace=request.workspace,
                user=request.user,
                question_id=int(request.POST["question"]),
                show_text=scope.show_text,
            )
        else:
            golden_add(
                workspace=request.workspace,
                user=request.user,
                text=request.POST.get("text", ""),
                documents=[int(d) for d in request.POST.getlist("documents") if d.isdigit()],
                expect_answer=request.POST.get("expect") != "none",
            )
        messages.success(request, _("Added to the golden questions."))
    except ValueError:
        messages.error(request, _("Give a question's number."))
    except ValidationError as invalid:
        messages.error(request, _errors(invalid))
    return _back(request)


def _golden_id(request) -> int:
    value = request.POST.get("golden", "")
    if not value.isdigit():
        raise ValidationError({"golden": ["Say which golden question."]})
    return int(value)


@require_POST
@workspace_view(Role.ADMIN)
def golden_delete_view(request):
    try:
        golden_delete(workspace=request.workspace, golden_id=_golden_id(request))
        messages.success(request, _("Golden question removed."))
    except ValidationError as invalid:
        messages.error(request, _errors(invalid))
    return _back(request)


@require_POST
@workspace_view(Role.ADMIN)
def golden_adopt_view(request):
    """The signed-in admin becomes the golden question's author: runs search as them."""
    try:
        golden_adopt(workspace=request.workspace, golden_id=_golden_id(request), user=request.user)
        messages.success(request, _("It now runs with what you may read."))
    except ValidationError as invalid:
        messages.error(request, _errors(invalid))
    return _back(request)


@require_POST
@workspace_view(Role.ADMIN)
def golden_run_view(request):
    """Run the golden questions now (a task; the page shows its progress)."""
    if not GoldenQuestion.objects.filter(workspace=request.workspace).exists():
        messages.error(request, _("Add a golden question first."))
        return _back(request)
    run, new = golden_run_request(workspace=request.workspace, user=request.user)
    if new:
        # Sent once the run is committed: the worker must find it.
        transaction.on_commit(lambda: golden_run.delay(run.pk))
        messages.success(request, _("Run started."))
    else:
        messages.info(request, _("A run is already in progress."))
    return _back(request)
