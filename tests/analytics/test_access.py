"""Who sees analytics: admins of the workspace, owners for all; nobody else."""

from __future__ import annotations

import csv
import io

from accounts.scopes import Scope
from tests.analytics.conftest import member
from tests.conftest import portal_client, token_client
from workspaces.models import Role, Workspace

PERIOD = {"start": "2026-03-01", "end": "2026-03-07", "tz": "Europe/Berlin"}


def test_a_viewer_gets_the_403_page(history, world):
    vera = portal_client(world.acme, "vera@acme.example")
    response = vera.get("/analytics/", {"workspace": "general"})
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]


def test_the_workspace_admin_sees_the_dashboard(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    response = ana.get("/analytics/", {"workspace": "general", **PERIOD})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<dd id="total-questions">5</dd>' in body
    assert "<svg" in body
    assert "Questions per day" in body
    # Not an owner: no "every workspace" view, and only her workspace in the picker.
    assert 'name="scope"' not in body
    assert ">Sales<" not in body


def test_the_admin_of_another_workspace_sees_nothing_of_this_one(history, world):
    sam = member("sam@acme.example", Workspace.objects.get(slug="sales"), Role.ADMIN)
    client = portal_client(world.acme, sam.email)
    assert client.get("/analytics/", {"workspace": "general"}).status_code == 404
    assert (
        client.get("/analytics/export/questions.csv", {"workspace": "general"}).status_code == 404
    )
    # His own dashboard counts Sales only (one question), even when he asks for "all".
    own = client.get("/analytics/", {"workspace": "sales", "scope": "all", **PERIOD})
    assert own.status_code == 200
    assert '<dd id="total-questions">1</dd>' in own.content.decode()
    assert "General" not in own.content.decode()


def test_the_owner_sees_every_workspace(history, world):
    alice = portal_client(world.acme, "alice@acme.example")
    response = alice.get("/analytics/", {"workspace": "general", "scope": "all", **PERIOD})
    body = response.content.decode()
    assert '<dd id="total-questions">6</dd>' in body
    assert "By workspace" in body
    assert "Sales" in body
    assert "Gone" not in body


def test_csv_of_a_chart_is_its_table(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    response = ana.get("/analytics/export/latency.csv", {"workspace": "general", **PERIOD})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Day", "p50", "p95"]
    assert rows[1] == ["2026-03-01", "100.0", "100.0"]
    assert rows[2][:2] == ["2026-03-02", "300.0"]
    assert float(rows[2][2]) == 390.0
    assert rows[3] == ["2026-03-03", "", ""]  # no questions: no latency
    assert len(rows) == 8
    channels = ana.get("/analytics/export/channels.csv", {"workspace": "general", **PERIOD})
    table = list(csv.reader(io.StringIO(channels.content.decode())))
    assert [row[:2] for row in table[1:]] == [["API", "3"], ["Portal", "2"]]
    assert ana.get("/analytics/export/nothing.csv", {"workspace": "general"}).status_code == 404


def test_a_bad_period_is_said_not_crashed(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    response = ana.get(
        "/analytics/", {"workspace": "general", "start": "2026-03-09", "end": "2026-03-01"}
    )
    assert response.status_code == 200
    assert "The end comes before the start." in response.content.decode()


def test_api_series_needs_the_analytics_scope(history, world, make_token):
    without = make_token(world.acme, "ana@acme.example", scopes=[Scope.ASK])
    refused = token_client(world.acme, without).get(
        "/api/v1/analytics/series", {"workspace": "general", **PERIOD}
    )
    assert refused.status_code == 403
    secret = make_token(world.acme, "ana@acme.example", scopes=[Scope.ANALYTICS_READ])
    response = token_client(world.acme, secret).get(
        "/api/v1/analytics/series", {"workspace": "general", **PERIOD}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["workspace"] == "general"
    assert body["period"] == {"first": "2026-03-01", "last": "2026-03-07", "tz": "Europe/Berlin"}
    assert body["totals"]["questions"] == 5
    assert [d["questions"] for d in body["days"]] == [1, 3, 0, 0, 1, 0, 0]
    assert body["days"][1]["latency_p95_ms"] == 390.0
    assert {c["channel"]: c["questions"] for c in body["channels"]} == {"api": 3, "portal": 2}
    assert body["workspaces"] == []


def test_api_series_refuses_viewers_and_outsiders(history, world, make_token):
    vera = make_token(world.acme, "vera@acme.example", scopes=[Scope.ANALYTICS_READ])
    assert (
        token_client(world.acme, vera)
        .get("/api/v1/analytics/series", {"workspace": "general"})
        .status_code
        == 403
    )
    bob = make_token(world.acme, "bob@acme.example", scopes=[Scope.ANALYTICS_READ])
    assert (
        token_client(world.acme, bob)
        .get("/api/v1/analytics/series", {"workspace": "general"})
        .status_code
        == 404
    )
    bad = token_client(world.acme, make_token(world.acme, "alice@acme.example")).get(
        "/api/v1/analytics/series", {"days": "12"}
    )
    assert bad.status_code == 400
    assert "days" in bad.json()


def test_api_series_of_every_workspace_for_the_owner(history, world, make_token):
    secret = make_token(world.acme, "alice@acme.example", scopes=[Scope.ANALYTICS_READ])
    body = (
        token_client(world.acme, secret)
        .get("/api/v1/analytics/series", {"scope": "all", **PERIOD})
        .json()
    )
    assert body["workspace"] is None
    assert body["totals"]["questions"] == 6
    assert {w["workspace"]: w["questions"] for w in body["workspaces"]} == {
        "general": 5,
        "sales": 1,
    }


def test_the_other_pages_for_the_admin_and_not_for_the_viewer(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    vera = portal_client(world.acme, "vera@acme.example")
    for page in ("/analytics/questions/", "/analytics/gaps/", "/analytics/documents/"):
        response = ana.get(page, {"workspace": "general", **PERIOD})
        assert response.status_code == 200, page
        assert vera.get(page, {"workspace": "general"}).status_code == 403, page
    gaps = ana.get("/analytics/gaps/", {"workspace": "general", **PERIOD}).content.decode()
    # q2 and q5: "not in the documents"; the seeded questions have low confidence.
    assert "Mark resolved" in gaps
    assert history.questions["q2"].text in gaps


def test_marking_a_gap_resolved(history, world):
    from analytics.models import GapResolution
    from analytics.services import question_vectors_ensure

    q2 = history.questions["q2"]
    question_vectors_ensure(
        questions=[{"pk": q2.pk, "workspace_id": q2.workspace_id, "text": q2.text}]
    )
    ana = portal_client(world.acme, "ana@acme.example")
    response = ana.post(
        "/analytics/gaps/resolve?workspace=general",
        {"questions": str(q2.pk), "note": "added the guide"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/analytics/gaps/?workspace=general")
    resolution = GapResolution.objects.get()
    assert (resolution.note, resolution.questions, resolution.workspace.slug) == (
        "added the guide",
        1,
        "general",
    )
    # Sales' question named at General's address is not General's: nothing resolved.
    sales = history.questions["sales"]
    ana.post("/analytics/gaps/resolve?workspace=general", {"questions": str(sales.pk)})
    assert GapResolution.objects.count() == 1


def test_api_groups_and_documents(history, world, make_token, settings):
    secret = make_token(world.acme, "ana@acme.example", scopes=[Scope.ANALYTICS_READ])
    client = token_client(world.acme, secret)
    query = {"workspace": "general", **PERIOD}
    questions = client.get("/api/v1/analytics/questions", query)
    assert questions.status_code == 200, questions.content
    assert questions.json()["grouped"] == 5
    gaps = client.get("/api/v1/analytics/gaps", query).json()
    shown = {t for g in gaps["groups"] for t in [g["representative"], *g["examples"]]}
    assert history.questions["q2"].text in shown
    assert all(g["status"] == "open" for g in gaps["groups"])
    documents = client.get("/api/v1/analytics/documents", query).json()
    assert documents["most_cited"] == []
    assert documents["failing_sources"] == []
    # An organization that does not keep question text: none in the groups.
    settings.AUDIT_RECORD_QUESTION_TEXT = False
    hidden = client.get("/api/v1/analytics/questions", query).json()
    assert all(g["representative"] is None and g["examples"] == [] for g in hidden["groups"])
    for path in ("questions", "gaps", "documents"):
        refused = client.get(f"/api/v1/analytics/{path}", {"workspace": "general", "days": "5"})
        assert refused.status_code == 400


def test_an_owners_token_sees_all_of_its_workspaces_only(history, world, make_token):
    secret = make_token(
        world.acme, "alice@acme.example", scopes=[Scope.ANALYTICS_READ], workspaces=["general"]
    )
    body = (
        token_client(world.acme, secret)
        .get("/api/v1/analytics/series", {"scope": "all", **PERIOD})
        .json()
    )
    assert [w["workspace"] for w in body["workspaces"]] == ["general"]
    assert body["totals"]["questions"] == 5


def test_tables_show_percentages_and_thousands_separators(history, world):
    from analytics.dashboard import cell_text

    ana = portal_client(world.acme, "ana@acme.example")
    body = ana.get("/analytics/", {"workspace": "general", **PERIOD}).content.decode()
    # By channel: the API's answered rate is 2 of 3 questions.
    assert '<td class="num">66.7%</td>' in body
    assert "0.6667" not in body
    csv_body = ana.get("/analytics/export/channels.csv", {"workspace": "general", **PERIOD})
    assert "0.6667" in csv_body.content.decode()  # the CSV keeps the raw figure
    assert cell_text(1234567, "count") == "1,234,567"
    assert cell_text(1234.4, "ms") == "1,234"
    assert cell_text(0.00162, "usd") == "$0.0016"
    assert cell_text(1234.5, "usd") == "$1,234.50"
    assert cell_text(None, "rate") == "—"
