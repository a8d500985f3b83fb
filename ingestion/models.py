"""Documents, their chunks and the chunks' postings (the keyword index); connectors and
sources that bring documents in; sync runs."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _
from pgvector.django import HnswIndex, VectorField

from workspaces.models import Workspace


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    # Text, words and readers written: found by keyword search; the vectors follow
    # (``ingestion.embedding_queue``), and the document is "indexed" once all are in.
    SEARCHABLE = "searchable", _("Searchable, improving")
    INDEXED = "indexed", _("Indexed")
    FAILED = "failed", _("Failed")


# Parser metadata keys shown on a document's page, with their labels.
METADATA_SHOWN = (
    ("author", "Author"),
    ("to", "To"),
    ("date", "Date"),
    ("created", "Created"),
    ("modified", "Modified"),
    ("pages", "Pages"),
    ("truncated", "Truncated"),
)


class Document(models.Model):
    """One original file (or source item) and its indexing state."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500)
    # Where the document came from; uploads for now, connectors name themselves later.
    source = models.CharField(max_length=50, default="upload")
    # The name the user gave the file: shown, never used as a storage path.
    original_filename = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=500, unique=True)
    mime_type = models.CharField(max_length=200)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    error_message = models.TextField(blank=True)
    # The Postgres text-search configuration used for its words (stemming, stop words).
    language = models.CharField(max_length=32, default="english")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # Set for documents a connector brought in; ``external_id`` names the item in its source
    # (a file's path, an object key) and ``source_version`` is the source's own change
    # marker (mtime + size, an ETag) that lets a sync skip an item without reading it.
    synced_from = models.ForeignKey(
        "ingestion.Source",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="documents",
    )
    external_id = models.CharField(max_length=1024, blank=True)
    source_version = models.CharField(max_length=200, blank=True)
    # Replaced in place when its content changes (same id, so citations and links stay
    # valid); the number counts the contents it has had.
    version = models.PositiveIntegerField(default=1)
    # Who may read it, as the source reports (empty: every member of the workspace).
    readers = ArrayField(models.CharField(max_length=320), default=list, blank=True)
    # What the parser found (author, created, modified, date, language, truncated...),
    # rewritten at each indexing, and under "source" what the connector reported about
    # the item (its URL, path, mailbox folder...), rewritten at each sync of a new version.
    metadata = models.JSONField(default=dict, blank=True)
    # Not a column: the workspace it was opened through when it is shared there from its
    # own (``ingestion.selectors.document_for``; read-only there), else None.
    shared_into: Workspace | None = None

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["workspace", "sha256"], name="document_workspace_sha256"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["synced_from", "external_id"],
                condition=models.Q(synced_from__isnull=False),
                name="document_external_id_unique_per_source",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def error_shown(self) -> str:
        """Why indexing failed, in the active language (``indexing.reason_shown``: stored
        in English, a parser's reason with values translated with its values)."""
        from ingestion.indexing import reason_shown

        return reason_shown(self.error_message)

    @property
    def language_name(self) -> str:
        """The document's language by name, in the active language ("Deutsch")."""
        from ingestion.language import language_name

        return language_name(self.language) if self.language else ""

    @property
    def source_url(self) -> str:
        """The item's address in its source, if it is a web link (never another scheme)."""
        url = (self.metadata or {}).get("source", {}).get("url", "")
        if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
            return url
        return ""

    @property
    def metadata_shown(self) -> list[tuple[str, str]]:
        """(label, value) of the metadata people look for, in a fixed order."""
        metadata = self.metadata or {}
        return [
            (label, str(metadata[key]))
            for key, label in METADATA_SHOWN
            if metadata.get(key) not in (None, "")
        ]


class Chunk(models.Model):
    """A passage of a document: its text, its place in the headings, its vector."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = ArrayField(models.TextField(), default=list, blank=True)
    token_count = models.PositiveIntegerField()
    # Empty until the embedding queue reaches the chunk (``ingestion.embedding_queue``):
    # a chunk is written, and found by keyword, before its vector exists.
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True, blank=True)
    # While the organization moves to another embedding model (``EmbeddingIndex``), the
    # chunk's vector by that model; the switch copies it into ``embedding``. Never searched.
    embedding_next = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True, blank=True)
    search_vector = SearchVectorField(null=True)
    # Number of indexed words (with repeats): the document length in BM25 scoring.
    lexeme_count = models.PositiveIntegerField(default=0)
    # A copy of its document's readers (``workspaces.readers``), so retrieval filters by
    # them inside the SQL. The database keeps it equal to the document's: it is filled
    # from the document row on every insert (migration 0009, whatever readers the writer
    # passes) and follows every change of the document's readers (migration 0007).
    readers = ArrayField(models.CharField(max_length=320), default=list, blank=True)
    # SHA-256 of the embedding model's name and the exact text it embedded: a re-index
    # reuses the vector of a chunk with the same hash instead of embedding it again.
    content_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_ordinal_unique")
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(name="chunk_search_vector_gin", fields=["search_vector"]),
            # Lets BM25 read a workspace's chunk count and mean length from the index alone.
            models.Index(name="chunk_workspace_length", fields=["workspace", "lexeme_count"]),
            # Serves ``readers && ARRAY[...]`` and ``readers = '{}'`` in retrieval.
            GinIndex(name="chunk_readers_gin", fields=["readers"]),
            # The embedding cache's lookup (``ingestion.indexing.chunks_embed``).
            models.Index(name="chunk_workspace_content", fields=["workspace", "content_sha256"]),
            # The chunks still waiting for their vector, oldest first (the embedding queue).
            models.Index(
                name="chunk_embedding_pending",
                fields=["id"],
                condition=models.Q(embedding__isnull=True),
            ),
            # BM25's read of the readable chunks, an index-only scan (``ingestion.index``):
            # every column the readers predicate and the chunks' row-level security
            # policy read. Created by migrations 0011 and 0014 in SQL; declared here
            # (0017, state only) so that the model names every index the table has.
            models.Index(
                name="chunk_workspace_bm25",
                fields=["workspace", "id"],
                include=["lexeme_count", "readers", "document"],
            ),
            # The chunks some readers may not read, for BM25's readable chunks of a large
            # scope (``ingestion.index._readable``): what an asker is not named on, read
            # from this index alone (20% of the bench's chunks: tens of ms at 500k).
            models.Index(
                name="chunk_workspace_restricted",
                fields=["workspace", "id"],
                include=["readers", "document"],
                condition=~models.Q(readers=[]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class PostingList(models.Model):
    """One word's postings in one workspace, for a range of chunk ids: the inverted index
    BM25 scores from (``ingestion.index``; docs/scaling.md, "Keyword side").

    A row holds the postings of the chunks whose id lies in ``segment``'s range
    (``chunk id >> POSTING_SEGMENT_BITS``) as three packed arrays of ``postings``
    big-endian integers, in the order written: the chunk ids (8 bytes each), how often
    the word occurs in each chunk (title and headings included; 2 bytes) and each
    chunk's length in words (2 bytes). Packed, not Postgres arrays: numpy reads them as
    stored, where ``array_send`` of a million postings took a quarter of a second.

    BM25 fetches a question's words' rows and scores them in numpy; a write appends to
    the rows of its words (``ingestion.index.postings_write``); deleting chunks removes
    their postings from their rows in the same statement (a trigger on the chunk table,
    ingestion migration 0018), so no word of a deleted or erased chunk stays behind.
    Replaces one row per (chunk, word) (``search_posting``), which took 10.2 kB a chunk
    at a million chunks (bench/RESULTS.md).
    """

    pk = models.CompositePrimaryKey("workspace", "lexeme", "segment")
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    lexeme = models.TextField()
    segment = models.IntegerField()
    postings = models.IntegerField()
    chunk_ids = models.BinaryField()
    tfs = models.BinaryField()
    lengths = models.BinaryField()

    class Meta:
        db_table = "ingestion_posting_list"

    def __str__(self) -> str:
        return f"{self.lexeme}@{self.workspace_id}/{self.segment}"


class ConnectorKind(models.TextChoices):
    FILESYSTEM = "filesystem", _("File system")
    S3 = "s3", _("S3 bucket")
    IMAP = "imap", _("IMAP mailbox")
    CONFLUENCE = "confluence", "Confluence"
    WEB = "web", _("Web directory")


class Connector(models.Model):
    """How to reach a system that holds documents: its kind, settings and credentials.

    ``config`` holds what is not secret (an endpoint, a region, a bucket, a key id);
    ``secrets_encrypted`` holds the secrets as one Fernet token of a JSON object
    (``infra.crypto``), read and written only through ``ingestion.sources``.
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=ConnectorKind.choices)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Source(models.Model):
    """What to sync from a connector into one workspace, and when."""

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="sources")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    # Root directories (file system) or key prefixes (S3).
    paths = ArrayField(models.CharField(max_length=1024), default=list)
    include_globs = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    exclude_globs = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    # Who may read what this source brings in (empty: every member of the workspace).
    readers = ArrayField(models.CharField(max_length=320), default=list, blank=True)
    schedule = models.CharField(max_length=100, default="0 * * * *", help_text="cron")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Set after 3 failed runs in a row; cleared by the next successful run.
    flagged = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["enabled", "next_run_at"])]

    def __str__(self) -> str:
        return self.name


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual")
    WEBHOOK = "webhook", "Webhook"
    REINDEX = "reindex", _("Full re-index")


class SyncStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class SyncRun(models.Model):
    """One sync of a source: what started it, how far it got, what it changed."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    # A full re-index treats every item as changed.
    full = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every checkpoint: a running run whose heartbeat is old was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    seen = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Items listed so far and in all (the total is known once listing ends).
    total = models.PositiveIntegerField(null=True, blank=True)
    # The last external id fully processed (items come in id order): a resumed run
    # continues after it.
    checkpoint = models.CharField(max_length=1024, blank=True)
    # [{"item": external id, "error": reason}] for items that failed alone.
    item_errors = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["source", "status"])]

    def __str__(self) -> str:
        return f"{self.source} run {self.pk}"


class Fact(models.Model):
    """One attribute of one entity as a document states it, with its value normalised.

    Read at indexing time from tables, ``Key: value`` lines, bullet infoboxes, profile
    lines and spreadsheet rows (``ingestion.facts``), and replaced with the document's
    chunks. ``number`` is in the attribute's base unit (metres, kilograms, square
    metres, a year, a count, an amount in ``unit``'s currency). A fact points at the
    chunk it was read from, for the citation; it goes with that chunk and with its
    document inside the database (ON DELETE CASCADE, migration 0012), so bulk deletes of
    chunks never load facts into Python. It is read through its document's readers
    (``workspaces.readers.ReaderScope``), like chunks.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        Document, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    chunk = models.ForeignKey(
        Chunk, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # The page's subject or the row's key, as written.
    entity = models.CharField(max_length=300)
    # The normalised attribute name ("height", "price", "birth_year"); ``label`` as written.
    attribute = models.CharField(max_length=100)
    label = models.CharField(max_length=200)
    value_text = models.CharField(max_length=500)
    # "length", "weight", "area", "money", "year", "count", "number" or "text".
    kind = models.CharField(max_length=16)
    number = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                name="fact_workspace_attribute", fields=["workspace", "attribute", "number"]
            ),
            models.Index(name="fact_document", fields=["document"]),
            models.Index(name="fact_chunk", fields=["chunk"]),
        ]

    def __str__(self) -> str:
        return f"{self.entity}: {self.attribute} = {self.value_text}"


class EmbeddingIndex(models.Model):
    """Which embedding model the organization's passage vectors come from, and the move
    to another one while it runs (``ingestion.embedding_index``).

    One row per organization schema. ``chosen_model`` is the admin's choice (empty: the
    installation's ``EMBEDDING_MODEL``); ``active_model`` made every ``Chunk.embedding``
    and embeds the questions; ``target_model``, while set, is being written into
    ``Chunk.embedding_next`` in the background, and replaces the active one in one
    transaction once every chunk has its vector.
    """

    chosen_model = models.CharField(
        "embedding model",
        max_length=200,
        blank=True,
        help_text="Empty: the installation's default. Changing it re-embeds every passage in "
        "the background; searches use the current model until the new vectors are complete.",
    )
    active_model = models.CharField(max_length=200, editable=False)
    target_model = models.CharField(max_length=200, blank=True, editable=False)
    target_done = models.PositiveIntegerField(default=0, editable=False)
    target_total = models.PositiveIntegerField(default=0, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    switched_at = models.DateTimeField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "embedding model"
        verbose_name_plural = "embedding model"

    def __str__(self) -> str:
        return "Embedding model"


class DocumentShare(models.Model):
    """A document shared into another workspace (``workspace``, the target): one copy,
    its chunks readable there too (``ingestion.sharing``, docs/sharing.md).

    The row belongs to both workspaces: row-level security shows it where the target or
    the document's own workspace (``source_workspace``) is in scope
    (``workspaces.rls.policies``). It goes with its document inside the database (ON
    DELETE CASCADE, migration 0014), so erasing a document ends its shares whoever's
    scope erases it. A share is honoured only while ``shared_by`` is an editor of both
    workspaces (``ingestion.sharing.shares_effective``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    source_workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        Document, on_delete=models.DO_NOTHING, db_constraint=False, related_name="shares"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "workspace"], name="document_share_once_per_workspace"
            )
        ]
        indexes = [
            models.Index(name="share_workspace", fields=["workspace", "document"]),
            models.Index(name="share_source_workspace", fields=["source_workspace"]),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} shared into {self.workspace_id}"


class ShareNotice(models.Model):
    """Tells a member of the target workspace that a document was shared into it; shown
    in the portal until they dismiss it. Goes with its share (ON DELETE CASCADE)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    share = models.ForeignKey(
        DocumentShare, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(name="share_notice_user", fields=["user", "workspace"])]

    def __str__(self) -> str:
        return f"share {self.share_id} for {self.user_id}"
