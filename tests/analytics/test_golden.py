"""Golden questions: the runner's metrics against hand-computed ones, whose documents a
run may search, the schedule, a drop's banner and audit event, the page and the API.

General holds three indexed documents (travel, leave, wifi) and one restricted to
``user:hannah@acme.example`` (salaries). With three or four documents every one of them
is among the ten found, so recall@10 is 1 wherever the expected document is readable,
and nDCG@10 is 1 / log2(rank + 1) for a single expected document found at ``rank``.
"""

from __future__ import annotations

import math

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from accounts.models import AuditEvent, User
from analytics.golden import (
    QUALITY_DROPPED,
    SKIPPED_AUTHOR,
    golden_add,
    golden_add_from_question,
    golden_adopt,
    golden_run_execute,
    golden_run_request,
    golden_runs_schedule,
)
from analytics.models import GoldenQuestion, GoldenRun, GoldenStatus, GoldenTrigger
from ingestion.models import Document
from search.models import AnswerMode, Question
from tests.analytics.conftest import member
from tests.conftest import portal_client, token_client
from workspaces.models import Membership, Role, Workspace

TRAVEL = b"# Travel\n\nThe daily meal allowance for domestic trips is 45 EUR.\n"
LEAVE = b"# Leave\n\nEmployees get 30 vacation days per year.\n"
WIFI = b"# Wifi\n\nThe guest wifi password changes every Monday.\n"
SALARIES = b"# Salaries\n\nThe salary bands are reviewed every April.\n"


@pytest.fixture
def corpus(acme, alice_api, upload_indexed):
    docs = {
        name: upload_indexed(alice_api, f"{name}.md", data)["id"]
        for name, data in (
            ("travel", TRAVEL),
            ("leave", LEAVE),
            ("wifi", WIFI),
            ("salaries", SALARIES),
        )
    }
    Document.objects.filter(pk=docs["salaries"]).update(readers=["user:hannah@acme.example"])
    return docs


def _general() -> Workspace:
    return Workspace.objects.get(slug="general")


def _alice() -> User:
    return User.objects.get(email="alice@acme.example")


def _run(workspace: Workspace, user: User | None = None) -> GoldenRun:
    run, new = golden_run_request(workspace=workspace, user=user)
    assert new
    return golden_run_execute(run_id=run.pk)


def test_a_run_scores_like_the_evaluation(corpus):
    general, alice = _general(), _alice()
    meal = golden_add(
        workspace=general,
        user=alice,
        text="What is the daily meal allowance for domestic trips?",
        documents=[corpus["travel"]],
    )
    # Deliberately judged against the wrong document: it ranks below the leave policy.
    leave = golden_add(
        workspace=general,
        user=alice,
        text="How many vacation days do employees get per year?",
        documents=[corpus["travel"]],
    )
    nothing = golden_add(
        workspace=general,
        user=alice,
        text="Which Kubernetes release runs the build cluster?",
        expect_answer=False,
    )
    run = _run(general, alice)
    assert run.status == GoldenStatus.DONE
    assert (run.total, run.done, run.skipped) == (3, 3, 0)
    results = {r["golden"]: r for r in run.results}

    first = results[meal.pk]
    assert first["found"][0] == corpus["travel"]
    assert (first["ndcg"], first["recall"]) == (1.0, 1.0)
    assert first["answered"]
    assert first["correct"]

    second = results[leave.pk]
    assert second["found"][0] == corpus["leave"]
    rank = second["found"].index(corpus["travel"]) + 1
    assert rank > 1
    assert second["ndcg"] == round(1 / math.log2(rank + 1), 4)
    assert second["recall"] == 1.0
    assert second["correct"]  # answered, as expected (the wrong document does not matter)

    third = results[nothing.pk]
    assert (third["ndcg"], third["recall"]) == (None, None)  # no documents: no retrieval score
    assert not third["answered"]
    assert third["correct"]

    assert run.ndcg == round((1.0 + second["ndcg"]) / 2, 4)
    assert run.recall == 1.0
    assert run.correct == 1.0
    assert run.model == "extractive"
    assert run.documents_indexed == 4
    assert run.drops == {}
    # A run is not a person's question: nothing in the query log.
    assert not Question.objects.exists()


def test_a_run_searches_as_the_admin_who_defined_the_question(corpus, world):
    general, alice = _general(), _alice()
    ana = member("ana@acme.example", general, Role.ADMIN)
    salaries = golden_add(
        workspace=general,
        user=ana,
        text="When are the salary bands reviewed?",
        documents=[corpus["salaries"]],
    )
    # As an admin, ana reads the restricted document: the run finds it.
    run = _run(general)
    [result] = run.results
    assert result["found"][0] == corpus["salaries"]
    assert result["recall"] == 1.0

    # Demoted, ana may no longer read it: the question is not run with anyone's rights.
    Membership.objects.filter(user=ana, workspace=general).update(role=Role.EDITOR)
    run = _run(general)
    assert run.results == [{"golden": salaries.pk, "skipped": SKIPPED_AUTHOR}]
    assert run.skipped == 1
    assert run.ndcg is None
    page = portal_client(world.acme, "alice@acme.example").get(
        "/analytics/quality/", {"workspace": "general"}
    )
    assert "its author no longer administers" in page.content.decode()

    # An admin adopts it: it runs with what she may read.
    golden_adopt(workspace=general, golden_id=salaries.pk, user=alice)
    run = _run(general)
    assert run.results[0]["recall"] == 1.0


def test_documents_must_be_readable_and_of_the_workspace(corpus):
    general = _general()
    eddie = member("eddie@acme.example", general, Role.EDITOR)
    with pytest.raises(ValidationError, match=f"No document {corpus['salaries']}"):
        golden_add(
            workspace=general,
            user=eddie,
            text="When are the salary bands reviewed?",
            documents=[corpus["salaries"]],
        )
    sales = Workspace.objects.get(slug="sales")
    with pytest.raises(ValidationError, match="No document"):
        golden_add(
            workspace=sales, user=_alice(), text="Meal allowance?", documents=[corpus["travel"]]
        )
    with pytest.raises(ValidationError, match="Name the documents"):
        golden_add(workspace=general, user=_alice(), text="Meal allowance?")
    assert not GoldenQuestion.objects.exists()


def test_a_golden_question_from_an_answered_question(corpus, alice_api):
    body = alice_api.post(
        "/api/v1/ask",
        {
            "workspace": "general",
            "question": "What is the daily meal allowance for domestic trips?",
        },
    ).json()
    question = Question.objects.get(pk=body["id"])
    cited = list(dict.fromkeys(c["document_id"] for c in question.citations))
    assert corpus["travel"] in cited
    golden = golden_add_from_question(
        workspace=_general(), user=_alice(), question_id=question.pk, show_text=True
    )
    assert golden.text == question.text
    assert golden.documents == cited
    assert golden.expect_answer
    # The same question twice is refused; a question of another workspace is not found.
    with pytest.raises(ValidationError, match="already"):
        golden_add_from_question(
            workspace=_general(), user=_alice(), question_id=question.pk, show_text=True
        )
    with pytest.raises(ValidationError, match="No such question"):
        golden_add_from_question(
            workspace=Workspace.objects.get(slug="sales"),
            user=_alice(),
            question_id=question.pk,
            show_text=True,
        )


def test_a_drop_beyond_the_threshold_raises_a_banner_and_an_audit_event(corpus, world):
    general, alice = _general(), _alice()
    meal = golden_add(
        workspace=general,
        user=alice,
        text="What is the daily meal allowance for domestic trips?",
        documents=[corpus["travel"]],
    )
    leave = golden_add(
        workspace=general,
        user=alice,
        text="How many vacation days do employees get per year?",
        documents=[corpus["travel"]],
    )
    # The previous run found both expected documents first (and a question since removed).
    GoldenRun.objects.create(
        workspace=general,
        trigger=GoldenTrigger.SCHEDULE,
        status=GoldenStatus.DONE,
        finished_at="2026-01-01T00:00Z",
        results=[
            {"golden": meal.pk, "ndcg": 1.0, "recall": 1.0, "correct": True},
            {"golden": leave.pk, "ndcg": 1.0, "recall": 1.0, "correct": True},
            {"golden": 999999, "ndcg": 0.0, "recall": 0.0, "correct": False},
        ],
    )
    run = _run(general, alice)
    leave_ndcg = next(r["ndcg"] for r in run.results if r["golden"] == leave.pk)
    after = round((1.0 + leave_ndcg) / 2, 4)
    assert run.drops == {"ndcg": [1.0, after]}  # recall and correctness held
    event = AuditEvent.objects.get(action=QUALITY_DROPPED)
    assert event.target_id == str(run.pk)
    assert event.extra == {"workspace": "general", "drops": {"ndcg": [1.0, after]}}

    client = portal_client(world.acme, "alice@acme.example")
    page = client.get("/analytics/quality/", {"workspace": "general"}).content.decode()
    assert 'id="quality-drop"' in page
    assert "Answer quality dropped" in page
    usage = client.get("/analytics/", {"workspace": "general"}).content.decode()
    assert 'id="quality-drop-notice"' in usage

    # The next run scores the same: no drop against it, no banner, no second event.
    again = _run(general, alice)
    assert again.drops == {}
    assert AuditEvent.objects.filter(action=QUALITY_DROPPED).count() == 1
    page = client.get("/analytics/quality/", {"workspace": "general"}).content.decode()
    assert 'id="quality-drop"' not in page
    usage = client.get("/analytics/", {"workspace": "general"}).content.decode()
    assert 'id="quality-drop-notice"' not in usage


def test_within_the_threshold_is_no_drop(corpus):
    general, alice = _general(), _alice()
    leave = golden_add(
        workspace=general,
        user=alice,
        text="How many vacation days do employees get per year?",
        documents=[corpus["travel"]],
    )
    first = _run(general, alice)
    ndcg = first.results[0]["ndcg"]
    GoldenRun.objects.filter(pk=first.pk).update(
        results=[{"golden": leave.pk, "ndcg": ndcg + 0.04, "recall": 1.0, "correct": True}]
    )
    assert _run(general, alice).drops == {}
    with override_settings(GOLDEN_DROP_THRESHOLD=0.03):
        GoldenRun.objects.filter(status=GoldenStatus.DONE).exclude(pk=first.pk).delete()
        assert set(_run(general, alice).drops) == {"ndcg"}


def test_the_schedule_runs_each_workspace_once_and_active_organizations_only(corpus, world):
    from django.db import connection

    from analytics.tasks import golden_runs_all
    from tenants.suspension import organization_resume, organization_suspend

    general, alice = _general(), _alice()
    golden_add(
        workspace=general,
        user=alice,
        text="What is the daily meal allowance for domestic trips?",
        documents=[corpus["travel"]],
    )
    organization = world.acme.organization
    organization_suspend(organization=organization)
    connection.set_schema_to_public()
    golden_runs_all.apply()  # beat's task; eager, the organization's tasks run too
    connection.set_tenant(organization)
    assert not GoldenRun.objects.exists()

    organization_resume(organization=organization)
    connection.set_schema_to_public()
    golden_runs_all.apply()
    golden_runs_all.apply()  # a second beat within the day adds no run
    connection.set_tenant(organization)
    [run] = GoldenRun.objects.all()
    assert (run.workspace, run.trigger, run.status) == (general, "schedule", "done")
    assert run.ndcg == 1.0
    # Sales has no golden questions: no run.
    assert golden_runs_schedule() == []


def test_beat_runs_the_golden_questions_nightly(settings):
    from analytics.tasks import golden_runs_all

    entry = settings.CELERY_BEAT_SCHEDULE["analytics-golden-runs"]
    assert entry["task"] == golden_runs_all.name == "analytics.tasks.golden_runs_all"
    assert entry["schedule"].hour == {4}


def test_run_now_without_golden_questions_says_so(acme, world):
    client = portal_client(world.acme, "alice@acme.example")
    response = client.post("/analytics/quality/run?workspace=general", follow=True)
    assert "Add a golden question first." in response.content.decode()
    assert not GoldenRun.objects.exists()


def test_run_now_makes_one_run_and_a_second_click_none(
    corpus, world, django_capture_on_commit_callbacks
):
    golden_add(
        workspace=_general(),
        user=_alice(),
        text="What is the daily meal allowance for domestic trips?",
        documents=[corpus["travel"]],
    )
    client = portal_client(world.acme, "alice@acme.example")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        first = client.post("/analytics/quality/run?workspace=general")
        second = client.post("/analytics/quality/run?workspace=general")
    assert first.status_code == second.status_code == 302
    assert len(sent) == 1
    [run] = GoldenRun.objects.all()
    assert run.status == "queued"
    assert run.requested_by == _alice()
    page = client.get("/analytics/quality/", {"workspace": "general"}).content.decode()
    assert "data-run-progress" in page
    sent[0]()  # the task, eagerly
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == ("done", 1, 1)


def test_the_page_adds_and_removes_golden_questions(corpus, world):
    ana = member("ana@acme.example", _general(), Role.ADMIN)
    client = portal_client(world.acme, ana.email)
    response = client.post(
        "/analytics/quality/golden?workspace=general",
        {"text": "What is the meal allowance?", "documents": [str(corpus["travel"])]},
    )
    assert response.status_code == 302
    golden = GoldenQuestion.objects.get()
    assert (golden.documents, golden.created_by) == ([corpus["travel"]], ana)
    # From the ask page's button: a question's id, and back to where it was.
    question = Question.objects.create(
        workspace=_general(),
        asked_by=ana,
        text="Kubernetes?",
        answer="-",
        mode=AnswerMode.NO_ANSWER,
    )
    response = client.post(
        "/analytics/quality/golden?workspace=general",
        {"question": str(question.pk), "next": "/ask/?workspace=general"},
    )
    assert response["Location"] == "/ask/?workspace=general"
    assert GoldenQuestion.objects.get(text="Kubernetes?").expect_answer is False
    # An unsafe "next" is not followed.
    response = client.post(
        "/analytics/quality/golden/delete?workspace=general",
        {"golden": str(golden.pk), "next": "https://evil.example/"},
    )
    assert response["Location"].startswith("/analytics/quality/")
    assert not GoldenQuestion.objects.filter(pk=golden.pk).exists()
    page = client.get("/analytics/quality/", {"workspace": "general"}).content.decode()
    assert "Kubernetes?" in page


def test_viewers_and_other_workspaces_see_nothing(corpus, world):
    member("vera@acme.example", _general(), Role.VIEWER)
    vera = portal_client(world.acme, "vera@acme.example")
    assert vera.get("/analytics/quality/", {"workspace": "general"}).status_code == 403
    assert vera.post("/analytics/quality/run?workspace=general").status_code == 403
    sam = member("sam@acme.example", Workspace.objects.get(slug="sales"), Role.ADMIN)
    client = portal_client(world.acme, sam.email)
    assert client.get("/analytics/quality/", {"workspace": "general"}).status_code == 404
    assert (
        client.post("/analytics/quality/golden?workspace=general", {"text": "x"}).status_code == 404
    )


def test_the_api_returns_the_series(corpus, world, make_token):
    general, alice = _general(), _alice()
    golden_add(
        workspace=general,
        user=alice,
        text="What is the daily meal allowance for domestic trips?",
        documents=[corpus["travel"]],
    )
    run = _run(general, alice)
    secret = make_token(world.acme, "alice@acme.example", scopes=["analytics:read"])
    client = token_client(world.acme, secret)
    body = client.get("/api/v1/analytics/quality", {"workspace": "general", "days": 7}).json()
    assert body["golden_questions"] == 1
    assert len(body["days"]) == 7
    assert body["days"][-1]["ndcg"] == 1.0
    assert body["runs"][0]["id"] == run.pk
    assert body["runs"][0]["drops"] == {}
    assert body["threshold"] == 0.05
    bad = client.get("/api/v1/analytics/quality", {"workspace": "general", "days": 5})
    assert bad.status_code == 400
    ask_only = token_client(world.acme, make_token(world.acme, alice.email, scopes=["ask"]))
    assert ask_only.get("/api/v1/analytics/quality", {"workspace": "general"}).status_code == 403


def test_the_page_and_the_api_read_in_a_fixed_number_of_queries(corpus, world, make_token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    general, alice = _general(), _alice()
    client = portal_client(world.acme, alice.email)
    api = token_client(world.acme, make_token(world.acme, alice.email, scopes=["analytics:read"]))

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert client.get("/analytics/quality/", {"workspace": "general"}).status_code == 200
        with CaptureQueriesContext(connection) as series:
            response = api.get("/api/v1/analytics/quality", {"workspace": "general"})
            assert response.status_code == 200
        return len(page), len(series)

    # The token's first use is recorded (last used, audit): not a query of the list.
    api.get("/api/v1/analytics/quality", {"workspace": "general"})
    for text in ("What is the daily meal allowance?", "How many vacation days?"):
        golden_add(workspace=general, user=alice, text=text, documents=[corpus["travel"]])
    _run(general, alice)
    one = queries()
    for text in ("When does the wifi password change?", "What are the salary bands?"):
        golden_add(workspace=general, user=alice, text=text, documents=[corpus["wifi"]])
    _run(general, alice)
    _run(general, alice)
    assert queries() == one
