"""Nothing lives here any more: uploads, indexing, queueing and erasure each have their
module (``ingestion.uploads``, ``ingestion.indexing``, ``ingestion.enqueue``,
``ingestion.erasure``; the index itself is ``ingestion.index``).

The names below are kept only for the callers not yet switched to those modules
(``ingestion.api``, ``ingestion.views``, ``ingestion.source_views``,
``tests/faults/test_s3_outage.py``); delete this module once they are. Names that tests
monkeypatch (``embed_texts``, ``chunks_embed``, ``document_index``) are deliberately not
re-exported: a spy set on a stale copy here would count nothing, and its test would
pass vacuously; without them, ``monkeypatch.setattr`` fails loudly instead.
"""

from ingestion.enqueue import document_reindex
from ingestion.erasure import document_delete
from ingestion.uploads import UploadOutcome, UploadRejected, upload_receive

__all__ = [
    "UploadOutcome",
    "UploadRejected",
    "document_delete",
    "document_reindex",
    "upload_receive",
]
