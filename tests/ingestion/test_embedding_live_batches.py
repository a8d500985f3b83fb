"""Several processes embedding one organization: batches sharing a document run at once,
and a running batch's count is never taken for a dead one's (issue 17 item 4: with 4
worker processes the bench saw documents given up that no worker had died on).

A batch counts itself against its documents in Redis before it embeds and holds a
shared advisory lock on each of them until its transaction ends; a dead worker's lock
goes with its connection. Here a second database connection plays the running batch.
"""

from __future__ import annotations

import psycopg
from django.db import connection
from django_redis import get_redis_connection

from ingestion import embedding_queue
from ingestion.models import Document, DocumentStatus

GUIDE = (
    "# Travel guide\n\n## Trains\n\nSecond class on trains up to four hours; first class "
    "beyond.\n\n## Mileage\n\nPrivate cars are reimbursed at 30 cents per kilometre.\n"
)


def test_counts_of_running_batches_neither_isolate_nor_give_up_a_document(
    acme, alice_api, upload_written
):
    guide = upload_written(alice_api, "guide.md", GUIDE.encode())
    # Two batches holding chunks of the guide run in other processes: counted, locked.
    get_redis_connection("default").hincrby(embedding_queue._interruptions_key(), guide, 2)
    other = psycopg.connect(**connection.get_connection_params())
    try:
        other.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))",
            [embedding_queue._document_lock_key(guide)],
        )
        assert embedding_queue._live(guide)
        # A third batch embeds the guide's other chunks as usual.
        assert embedding_queue.embedding_batch(size=1) == 1
        assert Document.objects.get(pk=guide).error_message == ""
    finally:
        other.rollback()  # the batches end (or their worker dies): the locks go
        other.close()
    assert not embedding_queue._live(guide)
    # Their counts left behind are now dead batches': the guide is given up, as before.
    get_redis_connection("default").hincrby(embedding_queue._interruptions_key(), guide, 2)
    assert embedding_queue.embedding_batch() >= 1
    given_up = Document.objects.get(pk=guide)
    assert given_up.status == DocumentStatus.SEARCHABLE
    assert "given up" in given_up.error_message
