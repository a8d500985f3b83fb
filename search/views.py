"""The portal's ask page."""

from django.core.exceptions import ValidationError
from django.shortcuts import render

from search import services
from search.models import Question
from workspaces.models import Role
from workspaces.portal import workspace_view


@workspace_view(Role.VIEWER)
def ask(request):
    record = None
    error = ""
    question = ""
    if request.method == "POST":
        question = request.POST.get("question", "")
        try:
            record = services.answer_question(
                user=request.user, workspace=request.workspace, question=question
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    recent = Question.objects.filter(workspace=request.workspace, asked_by=request.user)[:10]
    return render(
        request,
        "search/ask.html",
        {"record": record, "error": error, "question": question, "recent": recent},
        status=400 if error else 200,
    )
