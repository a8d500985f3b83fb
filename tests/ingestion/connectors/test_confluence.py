"""The Confluence connector against a loopback site answering like Atlassian's REST APIs.

Cloud (REST v2, cursor pagination, basic auth) and Data Center (``/rest/api/content``,
start/limit pagination, bearer token), synced through the real pipeline
(``ingestion.sync``): full sync, nothing changed, an edited page, a deleted page, a new
restriction, throttling, bad credentials.
"""

from __future__ import annotations

import logging
import time

import pytest
from django.core.exceptions import ValidationError

from ingestion import sources
from ingestion.connectors import confluence, http_client
from ingestion.models import ConnectorKind, Document, DocumentStatus, Source, SyncStatus
from tests.ingestion.connectors.confluence_server import (
    CLOUD_EMAIL,
    CLOUD_TOKEN,
    DC_TOKEN,
    ConfluenceServer,
    ConfluenceSite,
)
from tests.ingestion.connectors.conftest import snapshot
from workspaces.models import Workspace

HOME, POLICIES, TRAVEL, SALARY, SALARY_2026, ONCALL = (f"{n:020d}" for n in range(1001, 1007))
TRAVEL_PDF = f"{TRAVEL}/att2001"


@pytest.fixture
def cloud():
    with ConfluenceServer(ConfluenceSite.recorded("cloud")) as server:
        yield server


@pytest.fixture
def datacenter():
    with ConfluenceServer(ConfluenceSite.recorded("datacenter")) as server:
        yield server


def _source(url: str, *, flavour: str = "cloud", secrets=None, paths=("ENG",), **config):
    if flavour == "cloud":
        config = {"email": CLOUD_EMAIL} | config
        secrets = {"api_token": CLOUD_TOKEN} if secrets is None else secrets
    else:
        secrets = {"personal_access_token": DC_TOKEN} if secrets is None else secrets
    connector = sources.connector_create(
        name="Wiki",
        kind=ConnectorKind.CONFLUENCE,
        config={"base_url": url, "flavour": flavour, **config},
        secrets=secrets,
    )
    return sources.source_create(
        connector=connector,
        workspace=Workspace.objects.get(is_default=True),
        name="Engineering wiki",
        paths=list(paths),
    )


def _documents(source) -> dict[str, Document]:
    return {d.external_id: d for d in Document.objects.filter(synced_from=source)}


def test_cloud_full_sync_then_edit_delete_and_nothing_changed(
    acme, cloud, run_sync, embed_spy, alice_api
):
    source = _source(cloud.url)

    run = run_sync(source)

    assert (run.status, run.added, run.failed) == (SyncStatus.SUCCEEDED, 7, 0)
    documents = _documents(source)
    # Six pages and the PDF attachment; the PNG attachment is not a document.
    assert sorted(documents) == [HOME, POLICIES, TRAVEL, TRAVEL_PDF, SALARY, SALARY_2026, ONCALL]
    assert {d.status for d in documents.values()} == {DocumentStatus.INDEXED}
    travel = documents[TRAVEL]
    assert travel.title == "Engineering Home > Policies > Travel policy"
    text = "\n".join(travel.chunks.values_list("text", flat=True))
    assert "The per diem abroad is 60 euros." in text
    assert "Keep every receipt for the expense report." in text  # inside a macro
    assert "travel-desk@acme.example <bookings>" in text  # a code macro's CDATA
    assert "Receipts" not in text  # macro parameters are settings, not text
    assert [c.heading_path for c in travel.chunks.all()][:1] == [["Meals"]]
    assert documents[TRAVEL_PDF].title == "Holiday and Leave Policy"
    # Every listing followed the cursors (two results per response on this site).
    assert any("cursor" in query for query in cloud.site.asked("/wiki/api/v2/spaces/98305/pages"))

    # Readers: the page's restriction and, for the child, its ancestor's too.
    assert documents[TRAVEL].readers == []
    assert "user:alice@acme.example" in documents[SALARY].readers
    assert "group:hr-team" in documents[SALARY].readers
    assert documents[SALARY_2026].readers == ["group:hr-team"]

    hits = alice_api.get("/api/v1/search", {"q": "per diem abroad"}).json()["results"]
    assert hits[0]["document_title"] == "Engineering Home > Policies > Travel policy"
    hits = alice_api.get("/api/v1/search", {"q": "annual leave entitlement"}).json()["results"]
    assert hits[0]["document_title"] == "Holiday and Leave Policy"

    before = snapshot(source)
    embed_spy.calls.clear()
    cloud.site.requests.clear()
    run = run_sync(source)
    assert (run.unchanged, run.added, run.updated, run.deleted) == (7, 0, 0, 0)
    assert embed_spy.calls == []
    assert snapshot(source) == before
    assert cloud.site.asked("/wiki/api/v2/pages/1003") == []  # nothing was fetched

    cloud.site.page_update("1003", "<h2>Meals</h2><p>The per diem abroad is 75 euros.</p>")
    cloud.site.page_delete("1006")
    run = run_sync(source)
    assert (run.updated, run.deleted, run.unchanged) == (1, 1, 5)
    documents = _documents(source)
    assert ONCALL not in documents
    assert documents[TRAVEL].version == 2
    assert "75 euros" in documents[TRAVEL].chunks.get().text
    assert documents[TRAVEL].source_version.startswith("3:")


def test_a_new_restriction_reaches_the_document_without_a_new_version(acme, cloud, run_sync):
    source = _source(cloud.url)
    run_sync(source)
    stored = {key: d.storage_key for key, d in _documents(source).items()}
    cloud.site.restrictions["1003"] = cloud.site.restrictions["1005"]

    run = run_sync(source)

    # Same content: nothing is stored again, but the readers change (and are re-indexed).
    assert (run.updated, run.unchanged, run.added) == (0, 7, 0)
    documents = _documents(source)
    assert {key: d.storage_key for key, d in documents.items()} == stored
    assert documents[TRAVEL].readers == ["group:hr-team"]
    assert documents[TRAVEL_PDF].readers == ["group:hr-team"]


def test_a_429_is_retried_after_the_time_it_asks_for(acme, cloud, run_sync):
    source = _source(cloud.url)
    cloud.site.throttle("/wiki/api/v2/spaces/98305/pages", retry_after="1")

    started = time.monotonic()
    run = run_sync(source)

    assert run.status == SyncStatus.SUCCEEDED
    assert run.added == 7
    assert time.monotonic() - started >= 1.0


def test_endless_throttling_fails_the_run_and_deletes_nothing(acme, cloud, run_sync, monkeypatch):
    source = _source(cloud.url)
    run_sync(source)
    monkeypatch.setattr(http_client, "MAX_ATTEMPTS", 2)
    cloud.site.throttle("/pages", retry_after="0", times=100)

    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert "kept throttling requests (HTTP 429)" in run.error_message
    assert len(_documents(source)) == 7


def test_a_throttling_server_asking_for_too_long_a_wait_fails_fast(acme, cloud, run_sync):
    source = _source(cloud.url)
    cloud.site.throttle("/wiki/api/v2/spaces", retry_after="3600")

    started = time.monotonic()
    run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert "HTTP 429" in run.error_message
    assert time.monotonic() - started < 10


def test_bad_credentials_fail_the_run_readably_without_leaking_them(acme, cloud, run_sync, caplog):
    source = _source(cloud.url, secrets={"api_token": "wrong-token-never-logged"})

    with caplog.at_level(logging.DEBUG):
        run = run_sync(source)

    assert run.status == SyncStatus.FAILED
    assert run.error_message == (
        "Confluence refused the credentials (HTTP 401): check the email and token."
    )
    assert "wrong-token-never-logged" not in caplog.text
    assert not _documents(source)


def test_an_unknown_space_fails_the_run_and_deletes_nothing(acme, cloud, run_sync):
    source = _source(cloud.url, paths=("ENG", "NOPE"))
    run = run_sync(source)
    assert run.status == SyncStatus.FAILED
    assert run.error_message == (
        "The Confluence space NOPE does not exist or the account cannot see it."
    )


def test_a_resumed_listing_starts_after_its_checkpoint(acme, cloud):
    source = _source(cloud.url)
    spec = sources.source_spec(source)
    connector = confluence.ConfluenceConnector()

    ids = [item.external_id for item in connector.items(spec, after=TRAVEL)]

    assert ids == [TRAVEL_PDF, SALARY, SALARY_2026, ONCALL]
    # Pages before the checkpoint are not asked for their attachments again.
    assert cloud.site.asked("/wiki/api/v2/pages/1001/attachments") == []


def test_globs_match_the_page_breadcrumb(acme, cloud):
    source = _source(cloud.url)
    source.include_globs = ["Engineering Home/Policies/*"]
    source.exclude_globs = ["*/Salary bands*"]
    spec = sources.source_spec(source)

    items = list(confluence.ConfluenceConnector().items(spec))

    assert [item.name for item in items] == ["Travel policy.html", "leave-policy.pdf"]
    assert items[0].metadata["url"] == f"{cloud.url}/wiki/spaces/ENG/pages/1003/Travel+policy"


def test_datacenter_full_sync_with_offsets_bearer_token_and_restrictions(
    acme, datacenter, run_sync
):
    source = _source(datacenter.url, flavour="datacenter", email_domain="acme.example")

    run = run_sync(source)

    assert (run.status, run.added, run.failed) == (SyncStatus.SUCCEEDED, 5, 0)
    documents = _documents(source)
    assert sorted(documents) == [HOME, POLICIES, TRAVEL, TRAVEL_PDF, SALARY]
    assert documents[TRAVEL].title == "Engineering Home > Policies > Travel policy"
    assert documents[TRAVEL_PDF].status == DocumentStatus.INDEXED
    assert documents[SALARY].readers == ["group:hr-team", "user:alice@acme.example"]
    listing = datacenter.site.asked("/rest/api/content")
    assert {query.get("start") for query in listing if query.get("spaceKey")} == {"0", "2"}
    assert "restrictions.read.restrictions.user" in listing[0]["expand"]

    datacenter.site.page_delete("1004")
    run = run_sync(source)
    assert (run.deleted, run.unchanged) == (1, 4)


def test_datacenter_refuses_a_wrong_token(acme, datacenter, run_sync):
    source = _source(
        datacenter.url, flavour="datacenter", secrets={"personal_access_token": "nope"}
    )
    run = run_sync(source)
    assert run.status == SyncStatus.FAILED
    assert "HTTP 401" in run.error_message


@pytest.mark.parametrize(
    ("config", "secrets", "paths", "message"),
    [
        ({"base_url": "ftp://wiki", "flavour": "cloud"}, {}, ["ENG"], "base URL"),
        ({"base_url": "https://w.example", "flavour": "server"}, {}, ["ENG"], "flavour"),
        ({"base_url": "https://w.example", "flavour": "cloud"}, {}, ["ENG"], "API token"),
        ({"base_url": "https://w.example", "flavour": "datacenter"}, {}, ["ENG"], "personal"),
        (
            {"base_url": "https://w.example", "flavour": "datacenter"},
            {"personal_access_token": "t"},
            ["ENG/../x"],
            "not a Confluence space key",
        ),
    ],
)
def test_a_source_that_can_never_work_is_refused(acme, config, secrets, paths, message):
    connector = sources.connector_create(
        name="Wiki", kind=ConnectorKind.CONFLUENCE, config=config, secrets=secrets
    )
    with pytest.raises(ValidationError, match=message):
        sources.source_create(
            connector=connector,
            workspace=Workspace.objects.get(is_default=True),
            name="Wiki",
            paths=paths,
        )


def test_admin_adds_a_confluence_source_from_the_portal(acme, alice_portal):
    page = alice_portal.get("/sources/new?kind=confluence").content.decode()
    assert 'name="config_base_url"' in page
    assert 'name="secret_api_token"' in page

    response = alice_portal.post(
        "/sources/new?kind=confluence",
        {
            "name": "Engineering wiki",
            "config_base_url": "https://acme.atlassian.net",
            "config_flavour": "cloud",
            "config_email": CLOUD_EMAIL,
            "secret_api_token": CLOUD_TOKEN,
            "paths": "ENG\nHR\n",
            "schedule": "0 * * * *",
        },
    )

    assert response.status_code == 302
    source = Source.objects.select_related("connector").get(name="Engineering wiki")
    assert (source.connector.kind, source.paths) == ("confluence", ["ENG", "HR"])
    assert CLOUD_TOKEN not in source.connector.secrets_encrypted
    assert sources.connector_secrets(source.connector) == {"api_token": CLOUD_TOKEN}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"flavour": "datacenter"}, "needs a personal access token"),
        ({"flavour": "server"}, "must be one of cloud, datacenter"),
        ({"base_url": "wiki.acme.example"}, "needs a base URL"),
    ],
)
def test_the_api_refuses_a_confluence_source_that_cannot_work(acme, alice_api, change, message):
    body = {
        "kind": "confluence",
        "name": "Wiki",
        "config": {"base_url": "https://acme.atlassian.net", "flavour": "cloud"} | change,
        "secrets": {"api_token": CLOUD_TOKEN},
        "paths": ["ENG"],
    }
    body["config"]["email"] = CLOUD_EMAIL

    response = alice_api.post("/api/v1/sources", body, format="json")

    assert response.status_code == 400
    assert message in str(response.json()["config"])
    assert CLOUD_TOKEN not in response.content.decode()
    assert not Source.objects.exists()


def test_credentials_are_never_sent_to_a_link_on_another_site(acme, cloud, run_sync):
    with ConfluenceServer(ConfluenceSite.recorded("cloud")) as elsewhere:
        attachment = cloud.site.attachments["1003"][0]
        attachment["downloadLink"] = f"{elsewhere.url}/wiki/download/attachments/1003/x.pdf"
        source = _source(cloud.url)

        run = run_sync(source)

        assert elsewhere.site.requests == []
    assert (run.status, run.added, run.failed) == (SyncStatus.SUCCEEDED, 6, 1)
    assert run.item_errors == [
        {"item": TRAVEL_PDF, "error": "The attachment's download link points at another site."}
    ]
