"""Grouping by meaning, on a known set of paraphrases, with the product's embeddings."""

from __future__ import annotations

import datetime as dt

from analytics.clustering import clusters_of
from analytics.groups import knowledge_gaps, top_questions
from analytics.models import GapResolution, QuestionVector
from analytics.scope import AnalyticsScope
from analytics.services import gap_resolve, question_vectors_ensure
from ingestion.embedding import embed_texts
from search.models import AnswerMode, Feedback
from tests.analytics.conftest import ask

LEAVE = [
    "How many vacation days do I get per year?",
    "What is my annual leave allowance?",
    "How much paid time off do employees have each year?",
]
VPN = [
    "How do I reset my VPN password?",
    "I forgot my VPN password, how can I change it?",
    "Steps to reset the password for the VPN",
]
HOTEL = [
    "What is the hotel limit per night on business trips?",
    "How much can I spend on a hotel room when travelling for work?",
]
ALONE = ["Where is the parking garage?", "Who approves expense reports?"]
KNOWN = [*LEAVE, *VPN, *HOTEL, *ALONE]


def test_paraphrases_group_together_and_nothing_else_does():
    clusters = clusters_of(embed_texts(KNOWN))
    groups = sorted(sorted(KNOWN[i] for i in c.members) for c in clusters)
    assert groups == sorted([sorted(LEAVE), sorted(VPN), sorted(HOTEL), [ALONE[0]], [ALONE[1]]])
    # Largest first, and the representative is a member of its group.
    assert [len(c.members) for c in clusters] == [3, 3, 2, 1, 1]
    assert all(c.medoid in c.members for c in clusters)


def test_the_grouping_is_the_same_every_time():
    vectors = embed_texts(KNOWN)
    first = [(c.members, c.medoid) for c in clusters_of(vectors)]
    assert [(c.members, c.medoid) for c in clusters_of(vectors)] == first


def _ask_known(history, *, modes=None):
    """The known questions in General on 2026-03-03, by ana, alice and vera in turn."""
    from accounts.models import User

    people = [
        User.objects.get(email=e)
        for e in ("ana@acme.example", "alice@acme.example", "vera@acme.example")
    ]
    made = []
    for i, text in enumerate(KNOWN):
        mode = (modes or {}).get(text, AnswerMode.LLM)
        made.append(
            ask(
                history.general,
                people[i % 3],
                f"2026-03-03T{10 + i}:00",
                text=text,
                mode=mode,
                confidence=0.0 if mode == AnswerMode.NO_ANSWER else 0.9,
            )
        )
    return made


def _scope(history, *, show_text=True):
    return AnalyticsScope([history.general], False, show_text)


def test_top_questions_of_the_period(history):
    _ask_known(history)
    grouping = top_questions(scope=_scope(history), period=history.period)
    # The seeded history's 5 questions ("question at ...") group among themselves.
    assert grouping.grouped == 15
    known = [g for g in grouping.groups if g.representative in KNOWN]
    first = known[0]
    assert first.questions == 3
    assert first.people == 3
    assert first.answered_rate == 1.0
    assert {first.representative, *first.examples} in (set(LEAVE), set(VPN))
    # Vectors are stored once, per question, and follow the question when it is deleted.
    assert QuestionVector.objects.filter(workspace=history.general).count() == 15
    history.questions["q1"].delete()
    assert QuestionVector.objects.filter(workspace=history.general).count() == 14


def test_question_text_is_hidden_when_the_organization_does_not_keep_it(history):
    _ask_known(history)
    grouping = top_questions(scope=_scope(history, show_text=False), period=history.period)
    assert all(g.representative is None and g.examples == [] for g in grouping.groups)


def test_knowledge_gaps_are_the_weak_questions_ranked_by_people(history):
    made = _ask_known(history, modes={t: AnswerMode.NO_ANSWER for t in VPN})
    hotel = made[KNOWN.index(HOTEL[0])]
    Feedback.objects.create(question=hotel, user=hotel.asked_by, helpful=False)
    gaps = knowledge_gaps(scope=_scope(history), period=history.period)
    texts = [{g.representative, *g.examples} for g in gaps.groups]
    assert texts[0] == set(VPN)  # three people asked it
    assert gaps.groups[0].people == 3
    assert gaps.groups[0].answered == 0
    assert gaps.groups[0].status == "open"
    assert {HOTEL[0]} in texts  # rated 👎; its paraphrase was fine
    assert not any(set(LEAVE) & t for t in texts)


def test_a_resolved_gap_stays_resolved_until_it_fails_again(history):
    from accounts.models import User

    _ask_known(history, modes={t: AnswerMode.NO_ANSWER for t in VPN})
    gaps = knowledge_gaps(scope=_scope(history), period=history.period)
    vpn = gaps.groups[0]
    alice = User.objects.get(email="alice@acme.example")
    resolution = gap_resolve(
        workspace=history.general,
        question_ids=vpn.question_ids,
        user=alice,
        note="Added the VPN guide",
    )
    GapResolution.objects.filter(pk=resolution.pk).update(
        resolved_at=dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    )
    after = knowledge_gaps(scope=_scope(history), period=history.period)
    resolved = next(g for g in after.groups if g.question_ids == vpn.question_ids)
    assert resolved.status == "resolved"
    assert after.groups[-1] is resolved  # resolved gaps come last
    # Asked again on the 6th, and still not in the documents: reopened.
    again = ask(
        history.general,
        alice,
        "2026-03-06T09:00",
        text="How can I reset the VPN password?",
        mode=AnswerMode.NO_ANSWER,
    )
    reopened = knowledge_gaps(scope=_scope(history), period=history.period)
    group = next(g for g in reopened.groups if again.pk in g.question_ids)
    assert group.status == "reopened"
    assert group.weak_since_resolved == 1


def test_gap_resolve_only_takes_the_workspaces_questions(history):
    import pytest

    from accounts.models import User

    sales_question = history.questions["sales"]
    question_vectors_ensure(
        questions=[
            {
                "pk": sales_question.pk,
                "workspace_id": sales_question.workspace_id,
                "text": sales_question.text,
            }
        ]
    )
    with pytest.raises(ValueError, match="None of these"):
        gap_resolve(
            workspace=history.general,
            question_ids=[sales_question.pk],
            user=User.objects.get(email="alice@acme.example"),
        )


def test_a_page_embeds_a_few_and_leaves_the_rest_to_the_task(
    history, monkeypatch, django_capture_on_commit_callbacks
):
    from analytics import groups
    from analytics.services import question_vectors_fill

    monkeypatch.setattr(groups, "INLINE_EMBED_MAX", 2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grouping = top_questions(scope=_scope(history), period=history.period)
    assert (grouping.grouped, grouping.pending) == (2, 3)
    assert len(callbacks) == 1  # the task is sent once the request's transaction commits
    assert QuestionVector.objects.count() == 2
    pending = [
        q.pk for key, q in history.questions.items() if key in ("q1", "q2", "q3", "q4", "q5")
    ]
    assert question_vectors_fill(question_ids=pending) == 3
    assert question_vectors_fill(question_ids=pending) == 0  # twice: nothing more
    again = top_questions(scope=_scope(history), period=history.period)
    assert (again.grouped, again.pending) == (5, 0)


def test_a_gap_without_citations_shows_what_a_search_finds(history, alice_api, upload_indexed):
    from accounts.models import User
    from workspaces.readers import reader_scope

    upload_indexed(
        alice_api,
        "vpn.md",
        b"# VPN\n\nTo reset the VPN password, open the self-service portal and choose Reset.\n",
        workspace="general",
    )
    _ask_known(history, modes={t: AnswerMode.NO_ANSWER for t in VPN})
    alice = User.objects.get(email="alice@acme.example")
    readers = reader_scope(alice, [history.general])
    gaps = knowledge_gaps(scope=_scope(history), period=history.period, readers=readers)
    vpn = gaps.groups[0]
    assert vpn.passages
    assert vpn.passages[0]["document_title"].lower().startswith("vpn")
    assert vpn.passages[0]["times"] == 0  # found now, not cited then
