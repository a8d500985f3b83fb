"""S3 unavailable while people upload, while documents are indexed and while they are
erased: clear 503s with Retry-After, no row without its object, and after recovery the
bucket and the rows match (no orphan either way).

The S3 service is a moto server of the test's own on a fixed loopback port, stopped
(connections refused, as when the service or its network is down) and started again on
the same port; moto keeps its buckets in the test process, so what was stored before
the outage is there after it, as with a real service coming back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection

from ingestion.models import Document, DocumentStatus
from ingestion.storage import organization_prefix, originals_sweep
from tests.conftest import Bucket, free_port, named_file, originals_in_s3

pytestmark = pytest.mark.faults

HANDBOOK = b"# Handbook\n\n## Keys\n\nSpare keys to the archive are kept in safe 12 at reception.\n"
BADGES = b"# Badge policy\n\nReport a lost badge to reception within a day.\n"
PARKING = b"# Parking\n\nVisitors park on level -2; ask reception for a ticket.\n"


class S3Service:
    """A moto S3 server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server_class = ThreadedMotoServer
        self.server = None
        self.up()

    def up(self) -> None:
        self.server = self._server_class(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def down(self) -> None:
        self.server.stop()
        self.server = None


@pytest.fixture
def s3(settings) -> Iterator[tuple[S3Service, Bucket]]:
    """Originals in a new bucket on an S3 service of the test's own; running afterwards."""
    service = S3Service()
    try:
        yield service, originals_in_s3(settings, service.endpoint)
    finally:
        if service.server is not None:
            service.down()


def _consistent(bucket: Bucket) -> None:
    """Every document's original is in the bucket, and every object belongs to one."""
    prefix = organization_prefix(connection.schema_name)
    keys = set(Document.objects.values_list("storage_key", flat=True))
    assert set(bucket.keys(prefix)) == keys
    for document in Document.objects.all():
        import hashlib

        assert hashlib.sha256(bucket.read(document.storage_key)).hexdigest() == document.sha256


def _upload(client, name: str, data: bytes):
    return client.post("/api/v1/documents", {"file": named_file(name, data)}, format="multipart")


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "30"


def test_uploads_while_s3_is_down_answer_503_and_leave_no_row(
    s3, acme, alice_api, alice_portal, django_capture_on_commit_callbacks
):
    service, bucket = s3
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(alice_api, "parking.md", PARKING).status_code == 201
    before = Document.objects.count()

    service.down()
    # The single upload, the batch (nothing received), the portal's script and a browser.
    response = _upload(alice_api, "handbook.md", HANDBOOK)
    _assert_unavailable(response)
    assert response.json()["detail"].startswith("The document storage is unavailable")
    response = alice_api.post(
        "/api/v1/documents/batch",
        {"file": [named_file("handbook.md", HANDBOOK), named_file("badges.md", BADGES)]},
        format="multipart",
    )
    _assert_unavailable(response)
    response = alice_portal.post(
        "/documents/",
        {"files": [named_file("handbook.md", HANDBOOK)]},
        HTTP_ACCEPT="application/json",
    )
    _assert_unavailable(response)
    assert response.json()["code"] == "storage_unavailable"
    response = alice_portal.post(
        "/documents/",
        {"files": [named_file("handbook.md", HANDBOOK)]},
        HTTP_ACCEPT="text/html,application/xhtml+xml",
    )
    _assert_unavailable(response)
    assert "Storage unavailable" in response.content.decode()
    # A batch whose first file is already here: that one is reported as received.
    response = alice_api.post(
        "/api/v1/documents/batch",
        {"file": [named_file("parking-copy.md", PARKING), named_file("badges.md", BADGES)]},
        format="multipart",
    )
    _assert_unavailable(response)
    assert "Received before it failed: parking-copy.md" in response.json()["detail"]
    # A new version of a document already here: refused, the current version kept.
    parking = Document.objects.get()
    _assert_unavailable(_upload(alice_api, "parking.md", PARKING + b"Level -3 too.\n"))
    assert Document.objects.get().sha256 == parking.sha256
    # Reading an original while S3 is down: 503 too, not a server error.
    _assert_unavailable(alice_portal.get(f"/documents/{parking.pk}/original"))
    assert Document.objects.count() == before  # no row points to a missing object

    service.up()
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(alice_api, "handbook.md", HANDBOOK).status_code == 201
        response = alice_api.post(
            "/api/v1/documents/batch",
            {"file": [named_file("parking-copy.md", PARKING), named_file("badges.md", BADGES)]},
            format="multipart",
        )
    assert [r["outcome"] for r in response.json()["results"]] == ["duplicate", "created"]
    assert set(Document.objects.values_list("status", flat=True)) == {DocumentStatus.INDEXED}
    assert Document.objects.count() == before + 2
    _consistent(bucket)


def test_indexing_while_s3_is_down_fails_clearly_and_succeeds_after_recovery(
    s3, acme, alice_api, django_capture_on_commit_callbacks
):
    from ingestion.enqueue import document_reindex
    from ingestion.indexing import STORAGE_UNAVAILABLE_REASON
    from ingestion.tasks import index_document
    from opaa.celery import app

    service, bucket = s3
    response = _upload(alice_api, "handbook.md", HANDBOOK)  # committed, not yet indexed
    assert response.status_code == 201
    document = Document.objects.get(pk=response.json()["id"])

    service.down()
    # The task retries (eagerly here, one try after the other) and then gives up.
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    try:
        result = index_document.apply((document.pk,))
    finally:
        app.conf.task_eager_propagates = propagates
    assert result.failed()
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED  # not stuck in "processing"
    assert document.error_message == STORAGE_UNAVAILABLE_REASON
    assert not document.chunks.exists()

    service.up()
    _consistent(bucket)  # the original was kept
    with django_capture_on_commit_callbacks(execute=True):
        document_reindex(document=document)  # what the Retry button does
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED
    assert document.chunks.exists()


def test_erasure_while_s3_is_down_succeeds_and_the_sweep_deletes_the_original_later(
    s3, acme, alice_api, django_capture_on_commit_callbacks, settings
):
    from ingestion.tasks import originals_sweep_all
    from workspaces.rls import no_scope

    service, bucket = s3
    with django_capture_on_commit_callbacks(execute=True):
        kept = _upload(alice_api, "parking.md", PARKING).json()
        erased = _upload(alice_api, "handbook.md", HANDBOOK).json()
    erased_key = Document.objects.get(pk=erased["id"]).storage_key

    service.down()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/api/v1/documents/{erased['id']}")
    assert response.status_code == 204  # erased: the row, its chunks, its citations
    assert not Document.objects.filter(pk=erased["id"]).exists()
    assert alice_api.get(f"/api/v1/documents/{erased['id']}").status_code == 404
    with pytest.raises(Exception, match="storage is unavailable"):
        originals_sweep(grace=timedelta(0))  # still down: the next sweep tries again

    service.up()
    assert erased_key in bucket.keys("org/")  # what the outage left behind
    assert originals_sweep() == []  # younger than the grace period: maybe an upload
    settings.ORIGINALS_SWEEP_GRACE_S = 0
    with no_scope():  # as beat runs it: the sweep must see every workspace's documents
        assert originals_sweep_all() == 1
    assert erased_key not in bucket.keys("org/")
    assert Document.objects.filter(pk=kept["id"]).exists()
    _consistent(bucket)
