"""Document readers: a search never returns, counts or hints at a document the asker
may not read, and still returns k readable results.

The canary is a restricted document that is the best match for every question asked
here; alice (the owner, who reads everything) sees it first, which shows each check
against bob (an editor of Sales, no groups) could really fail.
"""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from accounts.audit import AuditContext
from accounts.models import AuditEvent, User
from ingestion.embedding import embed_texts
from ingestion.index import bm25_ranking, vector_ranking
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set
from search.retrieval import hybrid_search
from tests.conftest import PASSWORD, portal_client
from tests.fakes.openai_server import FakeOpenAIServer
from workspaces.models import Workspace
from workspaces.readers import ReaderScope, reader_scope
from workspaces.services import group_create, group_members_change

QUESTION = "What is the vault passphrase of the treasury?"
SECRET = "heliotrope"
CANARY = (
    b"# Treasury vault\n\nThe treasury vault passphrase is heliotrope. The vault passphrase "
    b"of the treasury changes each quarter; the treasury vault opens with the passphrase.\n"
)
READABLE = [
    b"# Vault visits\n\nVisitors to the vault sign the treasury visitor book first.\n",
    b"# Vault hours\n\nThe vault is open on weekdays; the treasury team keeps the keys.\n",
    b"# Passphrases\n\nA passphrase for shared accounts is stored in the password manager.\n",
    b"# Treasury\n\nThe treasury team reports to the finance director every quarter.\n",
]


def set_readers(document_id: int, readers: list[str], capture) -> None:
    with capture(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=document_id), readers=readers, audit=AuditContext()
        )


@pytest.fixture
def corpus(acme, alice_api, upload_indexed, django_capture_on_commit_callbacks):
    """Sales holds the readable notes and the canary, readable by group:finance only."""
    readable = [
        upload_indexed(alice_api, f"note{i}.md", text, workspace="sales")["id"]
        for i, text in enumerate(READABLE)
    ]
    canary = upload_indexed(alice_api, "vault.md", CANARY, workspace="sales")["id"]
    set_readers(canary, ["group:finance"], django_capture_on_commit_callbacks)
    return {"canary": canary, "readable": readable, "sales": Workspace.objects.get(slug="sales")}


def bob_scope(corpus) -> ReaderScope:
    return reader_scope(User.objects.get(email="bob@acme.example"), [corpus["sales"]])


def canary_chunks(corpus) -> set[int]:
    return set(Chunk.objects.filter(document_id=corpus["canary"]).values_list("pk", flat=True))


def test_chunks_carry_their_documents_readers(corpus):
    assert {tuple(c.readers) for c in Chunk.objects.filter(document_id=corpus["canary"])} == {
        ("group:finance",)
    }
    assert not Chunk.objects.filter(document_id__in=corpus["readable"]).exclude(readers=[])


def test_chunks_follow_any_update_of_their_documents_readers(corpus, bob_api):
    # A sync that sees new source permissions updates documents in bulk, not through
    # the readers service: the chunks must follow at once, not at the next re-index.
    opened = corpus["readable"][0]
    Document.objects.filter(pk=opened).update(readers=["group:finance"])
    chunks = list(Chunk.objects.filter(document_id=opened))
    assert chunks
    assert all(chunk.readers == ["group:finance"] for chunk in chunks)
    found = bob_api.get("/api/v1/search", {"q": "vault visitor book", "k": 5}).json()["results"]
    assert opened not in {r["document_id"] for r in found}
    assert found  # the other readable documents still answer


def test_keyword_side_hides_the_canary_and_its_statistics(corpus, alice_api):
    sales = corpus["sales"]
    everything = bm25_ranking(
        QUESTION, workspace_ids=[sales.pk], readers=ReaderScope.everything([sales.pk]), limit=10
    )
    assert everything[0].chunk_id in canary_chunks(corpus)  # it is the best match
    bobs = bm25_ranking(QUESTION, workspace_ids=[sales.pk], readers=bob_scope(corpus), limit=3)
    assert len(bobs) == 3
    assert not {r.chunk_id for r in bobs} & canary_chunks(corpus)
    # Scores are what they would be if the canary did not exist: counts, mean length and
    # document frequencies leak nothing of it.
    Document.objects.filter(pk=corpus["canary"]).delete()
    without = bm25_ranking(QUESTION, workspace_ids=[sales.pk], readers=bob_scope(corpus), limit=3)
    assert [(r.chunk_id, pytest.approx(r.score)) for r in without] == [
        (r.chunk_id, r.score) for r in bobs
    ]


@pytest.mark.parametrize("strategy", ["exact", "hnsw"])
def test_vector_side_hides_the_canary_and_still_returns_k(
    corpus, alice_api, upload_indexed, django_capture_on_commit_callbacks, settings, strategy
):
    # Many restricted near-copies of the canary make the readers filter selective: an
    # index scan that filters afterwards would find few readable chunks among them.
    for i in range(8):
        copy = upload_indexed(
            alice_api, f"vault{i}.md", CANARY.replace(b"heliotrope", b"x%d" % i), workspace="sales"
        )["id"]
        set_readers(copy, ["user:alice@acme.example"], django_capture_on_commit_callbacks)
    sales = corpus["sales"]
    [vector] = embed_texts([QUESTION])
    if strategy == "hnsw":
        settings.VECTOR_EXACT_MAX_CHUNKS = 0
        settings.HNSW_EF_SEARCH = 1
    owner = vector_ranking(
        vector, workspace_ids=[sales.pk], readers=ReaderScope.everything([sales.pk]), limit=4
    )
    restricted = set(Chunk.objects.exclude(readers=[]).values_list("pk", flat=True))
    assert {r.chunk_id for r in owner} <= restricted  # the restricted copies win outright
    bobs = vector_ranking(vector, workspace_ids=[sales.pk], readers=bob_scope(corpus), limit=4)
    readable = set(Chunk.objects.filter(readers=[]).values_list("pk", flat=True))
    assert len(bobs) == 4
    assert {r.chunk_id for r in bobs} <= readable


def test_hybrid_search_returns_k_readable_passages(corpus):
    passages = hybrid_search(
        QUESTION, workspace_ids=[corpus["sales"].pk], readers=bob_scope(corpus), k=3
    )
    assert len(passages) == 3
    assert corpus["canary"] not in {p.document_id for p in passages}
    assert not any(SECRET in p.text for p in passages)


def test_search_api_hides_the_canary_from_bob_but_not_from_alice(corpus, alice_api, bob_api):
    seen_by_alice = alice_api.get("/api/v1/search", {"q": QUESTION, "workspace": "sales", "k": 3})
    assert seen_by_alice.json()["results"][0]["document_id"] == corpus["canary"]
    response = bob_api.get("/api/v1/search", {"q": QUESTION, "k": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 3
    assert corpus["canary"] not in {r["document_id"] for r in results}
    assert SECRET not in response.content.decode()


def test_group_membership_grants_reading_until_removed(corpus, bob_api):
    finance = group_create(name="Finance", audit=None)
    group_members_change(group=finance, add=["bob@acme.example"], audit=None)
    found = bob_api.get("/api/v1/search", {"q": QUESTION, "k": 3}).json()["results"]
    assert found[0]["document_id"] == corpus["canary"]
    assert bob_api.get(f"/api/v1/documents/{corpus['canary']}").status_code == 200
    # Removed from the group: no access from the very next request.
    group_members_change(group=finance, remove=["bob@acme.example"], audit=None)
    found = bob_api.get("/api/v1/search", {"q": QUESTION, "k": 3}).json()["results"]
    assert corpus["canary"] not in {r["document_id"] for r in found}
    assert bob_api.get(f"/api/v1/documents/{corpus['canary']}").status_code == 404


def test_a_reader_named_by_email_reads_it(corpus, bob_api, django_capture_on_commit_callbacks):
    set_readers(corpus["canary"], ["Bob@Acme.example"], django_capture_on_commit_callbacks)
    assert Document.objects.get(pk=corpus["canary"]).readers == ["user:bob@acme.example"]
    found = bob_api.get("/api/v1/search", {"q": QUESTION, "k": 3}).json()["results"]
    assert found[0]["document_id"] == corpus["canary"]


def test_ask_api_never_cites_or_quotes_the_canary(corpus, bob_api):
    response = bob_api.post("/api/v1/ask", {"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert body["citations"]
    assert corpus["canary"] not in {c["document_id"] for c in body["citations"]}
    assert SECRET not in json.dumps(body)


def test_streamed_answer_never_sends_the_canary(corpus, bob_api):
    response = bob_api.post("/api/v1/ask?stream=true", {"question": QUESTION})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "event: sources" in body
    assert "event: done" in body
    assert SECRET not in body
    assert f'"document_id":{corpus["canary"]}' not in body


def test_portal_ask_never_shows_the_canary(world, corpus):
    bob = portal_client(world.acme, "bob@acme.example")
    response = bob.post("/ask/?workspace=sales", {"question": QUESTION}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Vault" in page  # readable passages are cited
    assert SECRET not in page
    assert f"/documents/{corpus['canary']}/" not in page


def test_cached_answer_is_not_served_to_someone_who_may_not_read_its_sources(
    corpus, alice_api, bob_api, django_capture_on_commit_callbacks
):
    with (
        FakeOpenAIServer() as server,
        override_settings(LLM_API_BASE=server.base_url, LLM_MODEL="m1"),
    ):
        ask = {"question": QUESTION, "workspace": "sales"}
        assert SECRET in alice_api.post("/api/v1/ask", ask).json()["answer"]
        bobs = bob_api.post("/api/v1/ask", ask).json()
        assert len(server.chat_requests()) == 2  # bob's answer was not alice's cached one
        assert SECRET not in json.dumps(server.chat_requests()[-1].body)  # nor in his prompt
    assert SECRET not in json.dumps(bobs)
    assert bobs["mode"] == "llm"


def test_cache_scope_is_shared_by_people_who_read_the_same(corpus):
    sales = corpus["sales"]
    carl = User.objects.create_user("carl@acme.example", PASSWORD)
    bob = User.objects.get(email="bob@acme.example")
    assert reader_scope(carl, [sales]).cache_key(sales.pk) == bob_scope(corpus).cache_key(sales.pk)
    finance = group_create(name="Finance", audit=None)
    group_members_change(group=finance, add=[carl.email], audit=None)
    assert reader_scope(carl, [sales]).cache_key(sales.pk) == "all"
    assert reader_scope(bob, [sales]).cache_key(sales.pk) != "all"


def test_document_list_hides_and_detail_404s(world, corpus, bob_api):
    listed = bob_api.get("/api/v1/documents").json()["results"]
    assert {d["id"] for d in listed} == set(corpus["readable"])
    assert bob_api.get(f"/api/v1/documents/{corpus['canary']}").status_code == 404
    assert bob_api.delete(f"/api/v1/documents/{corpus['canary']}").status_code == 404
    bob = portal_client(world.acme, "bob@acme.example")
    page = bob.get("/documents/?workspace=sales").content.decode()
    assert "vault.md" not in page
    status = bob.get("/documents/status?workspace=sales").json()["documents"]
    assert corpus["canary"] not in {d["id"] for d in status}
    for path in ("", "original"):
        assert bob.get(f"/documents/{corpus['canary']}/{path}").status_code == 404


@pytest.fixture
def finance_and_carl(acme):
    """The group and the member the reader lists below name: readers must exist."""
    group_create(name="Finance", audit=None)
    User.objects.create_user("carl@acme.example", PASSWORD)


def test_admins_set_readers_through_the_api_audited(corpus, finance_and_carl, alice_api, bob_api):
    document_id = corpus["readable"][0]
    url = f"/api/v1/documents/{document_id}"
    response = alice_api.patch(
        url, {"readers": ["group:finance", "carl@acme.example"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["readers"] == ["group:finance", "user:carl@acme.example"]
    assert not Chunk.objects.filter(document_id=document_id, readers=[]).exists()
    event = AuditEvent.objects.filter(action="document.readers_changed").latest("id")
    assert event.target_id == str(document_id)
    assert event.extra["readers"] == ["group:finance", "user:carl@acme.example"]
    assert bob_api.get(url).status_code == 404  # bob no longer reads it
    # An editor may not change readers; bad readers are a 400 naming them.
    readable = f"/api/v1/documents/{corpus['readable'][1]}"
    assert bob_api.patch(readable, {"readers": []}, format="json").status_code == 403
    bad = alice_api.patch(url, {"readers": ["not a reader!"]}, format="json")
    assert bad.status_code == 400
    assert "not a reader" in bad.content.decode()
    assert alice_api.patch(url, {"readers": "group:x"}, format="json").status_code == 400
    # Empty readers: every member of the workspace again.
    assert alice_api.patch(url, {"readers": []}, format="json").status_code == 200
    assert bob_api.get(url).status_code == 200


def test_admins_set_readers_in_the_portal(world, corpus, finance_and_carl, alice_portal):
    document_id = corpus["readable"][0]
    page = alice_portal.get(f"/documents/{document_id}/").content.decode()
    assert 'name="readers"' in page
    response = alice_portal.post(
        f"/documents/{document_id}/readers", {"readers": "group:finance\nuser:carl@acme.example"}
    )
    assert response.status_code == 302
    assert Document.objects.get(pk=document_id).readers == [
        "group:finance",
        "user:carl@acme.example",
    ]
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.post(f"/documents/{corpus['readable'][1]}/readers", {"readers": ""}).status_code == (
        403
    )
    assert 'name="readers"' not in bob.get(f"/documents/{corpus['readable'][1]}/").content.decode()


def test_shared_conversation_withholds_sources_the_viewer_may_not_read(
    world, corpus, alice_api, bob_api
):
    conversation = alice_api.post("/api/v1/conversations", {"workspace": "sales"}).json()["id"]
    asked = alice_api.post(
        "/api/v1/ask", {"question": QUESTION, "workspace": "sales", "conversation": conversation}
    ).json()
    assert corpus["canary"] in {c["document_id"] for c in asked["citations"]}
    token = alice_api.patch(
        f"/api/v1/conversations/{conversation}", {"shared": True}, format="json"
    ).json()["share_token"]
    # alice still sees her answer in full.
    mine = alice_api.get(f"/api/v1/conversations/{conversation}").json()
    assert SECRET in json.dumps(mine)
    shared = bob_api.get(f"/api/v1/conversations/shared/{token}")
    assert shared.status_code == 200
    assert SECRET not in shared.content.decode()
    [turn] = shared.json()["turns"]
    assert corpus["canary"] not in {c["document_id"] for c in turn["citations"]}
    bob_portal = portal_client(world.acme, "bob@acme.example")
    page = bob_portal.get(f"/ask/shared/{token}").content.decode()
    assert SECRET not in page
    assert "hidden" in page


def test_own_conversation_and_export_follow_current_readers(
    world, corpus, bob_api, django_capture_on_commit_callbacks
):
    set_readers(corpus["canary"], [], django_capture_on_commit_callbacks)
    conversation = bob_api.post("/api/v1/conversations", {}).json()["id"]
    asked = bob_api.post("/api/v1/ask", {"question": QUESTION, "conversation": conversation})
    assert SECRET in asked.content.decode()
    set_readers(corpus["canary"], ["group:finance"], django_capture_on_commit_callbacks)
    detail = bob_api.get(f"/api/v1/conversations/{conversation}").content.decode()
    assert SECRET not in detail
    export = bob_api.get(f"/api/v1/conversations/{conversation}/export").content.decode()
    assert SECRET not in export
    assert "Treasury vault" not in export  # the canary's title is not listed as a source


def test_admins_set_readers_in_the_django_admin(corpus, alice_portal):
    from django.forms.models import model_to_dict

    User.objects.filter(email="alice@acme.example").update(is_staff=True, is_superuser=True)
    document = Document.objects.get(pk=corpus["readable"][0])
    url = f"/admin/ingestion/document/{document.pk}/change/"
    assert alice_portal.get(url).status_code == 200
    form = {
        name: value
        for name, value in model_to_dict(document).items()
        if value is not None and name not in ("storage_key", "sha256", "size_bytes", "mime_type")
    }
    form["readers"] = "not a reader!"
    refused = alice_portal.post(url, form)
    assert refused.status_code == 200  # the form again, with the error
    assert "not a reader" in refused.content.decode()
    form["readers"] = "Finance,carl@acme.example"
    assert alice_portal.post(url, form).status_code == 302
    readers = ["group:finance", "user:carl@acme.example"]
    assert Document.objects.get(pk=document.pk).readers == readers
    assert all(c.readers == readers for c in Chunk.objects.filter(document_id=document.pk))
    assert AuditEvent.objects.filter(
        action="document.readers_changed", target_id=str(document.pk)
    ).exists()


def test_readers_that_are_no_member_or_group_are_refused_by_name(
    world, corpus, finance_and_carl, alice_portal, alice_api
):
    """Issue 16: "finance team" became two groups that do not exist, and an outside email
    was accepted: either hid the document from everyone."""
    document_id = corpus["readable"][0]
    typed = "finance team\nout@elsewhere.example\ncarl@acme.example"
    response = alice_portal.post(f"/documents/{document_id}/readers", {"readers": typed})
    page = alice_portal.get(response["Location"]).content.decode()
    assert "Nothing was saved" in page
    assert "&#x27;finance team&#x27; is not a group of this organization" in page
    assert "&#x27;out@elsewhere.example&#x27; is not a member of this organization" in page
    assert "carl@acme.example&#x27;" not in page  # a member: not named as a problem
    assert Document.objects.get(pk=document_id).readers == []

    url = f"/api/v1/documents/{document_id}"
    bad = alice_api.patch(url, {"readers": ["group:nobody", "carl@acme.example"]}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"readers": ["'group:nobody' is not a group of this organization."]}
    assert Document.objects.get(pk=document_id).readers == []


def test_a_group_is_named_by_its_name_and_the_page_says_what_each_reader_is(
    world, corpus, acme, alice_portal
):
    group_create(name="Finance team", audit=None)
    User.objects.create_user("carl@acme.example", PASSWORD, full_name="Carl Jung")
    document_id = corpus["readable"][0]
    saved = alice_portal.post(
        f"/documents/{document_id}/readers", {"readers": "Finance team, CARL@acme.example"}
    )
    assert saved.status_code == 302
    assert Document.objects.get(pk=document_id).readers == [
        "group:finance-team",
        "user:carl@acme.example",
    ]
    page = alice_portal.get(f"/documents/{document_id}/")
    html = page.content.decode()
    assert "Readers saved: Finance team (group), Carl Jung (person)." in html
    assert page.context["readers_text"] == "Finance team\ncarl@acme.example"
    kinds = [(r.kind, r.name) for r in page.context["readers_shown"]]
    assert kinds == [("group", "Finance team"), ("person", "Carl Jung")]
    # The picker completes over the organization's members and groups.
    choices = {c["principal"]: c["kind"] for c in page.context["reader_choices"]}
    assert choices["group:finance-team"] == "group"
    assert choices["user:bob@acme.example"] == "person"
    assert 'id="reader-choices-data"' in html
    # Saved again unchanged, a reader the organization does not know (an erased person's
    # stand-in) is kept, not refused.
    Document.objects.filter(pk=document_id).update(readers=["user:x@erased.invalid"])
    again = alice_portal.post(
        f"/documents/{document_id}/readers", {"readers": "user:x@erased.invalid\nFinance team"}
    )
    assert again.status_code == 302
    assert Document.objects.get(pk=document_id).readers == [
        "group:finance-team",
        "user:x@erased.invalid",
    ]
