"""The organization's embedding model, and moving its passages to another one.

An organization's passage vectors (``Chunk.embedding``) all come from one model, the
``active_model`` of its ``EmbeddingIndex`` row, and its questions are embedded with the
same one (``ingestion.embedding.embed_texts``). The model it should use is the admin's
choice (``chosen_model``) or else the installation's ``EMBEDDING_MODEL``. When the two
differ, a move runs in the background:

1. ``embedding_move_due`` sets ``target_model`` and empties ``Chunk.embedding_next``
   (an organization without chunks switches at once: nothing to re-embed);
2. the task ``ingestion.tasks.embedding_move`` fills ``embedding_next`` batch by batch
   (``embedding_move_step``), each batch committed with the progress shown to the admin.
   Searches keep using ``embedding`` and the active model meanwhile; a document indexed
   during the move is embedded with both models (``ingestion.indexing``);
3. once every chunk has its new vector, ``embedding_move_switch`` copies
   ``embedding_next`` into ``embedding`` and makes the target active, in one
   transaction: a search sees either the old model's vectors or the new one's.

A worker killed mid-way loses at most the batch in hand: the vectors already written
stay, and the redelivered task (or beat's ``embedding_moves_due_all``, every 5 minutes)
goes on with the chunks that still have none. Two runs at once split the batches
(``SKIP LOCKED``); an advisory lock keeps it to one per organization anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from infra.celery import app
from ingestion.embedding import embed_with, installation_model, model_choices
from ingestion.index import index_changed
from ingestion.models import Chunk, EmbeddingIndex
from workspaces.rls import organization_scope

logger = logging.getLogger(__name__)

# Chunks embedded and committed at a time by the move: small enough that a killed
# worker loses little and a re-index waiting on a locked chunk waits briefly.
MOVE_BATCH = 32
# One task runs for at most this long, then sends the next one: far inside the broker's
# visibility timeout, so a long move is never handed to a second worker while it runs.
MOVE_TASK_SECONDS = 240.0


@dataclass(frozen=True)
class EmbeddingStatus:
    """What the admin sees: the model in use, the one wanted, the move's progress."""

    active_model: str
    wanted_model: str
    target_model: str
    done: int
    total: int
    error: str

    @property
    def moving(self) -> bool:
        return bool(self.target_model)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


def embedding_index_row(*, lock: bool = False) -> EmbeddingIndex:
    """The organization's row (made, with the installation's model, if missing)."""
    rows = EmbeddingIndex.objects.order_by("pk")
    if lock:
        rows = rows.select_for_update()
    row = rows.first()
    if row is None:
        row = EmbeddingIndex.objects.create(active_model=installation_model())
    return row


def embedding_index_shared() -> EmbeddingIndex:
    """The row, locked FOR SHARE until the transaction ends: a switch waits for the
    writes that embedded with the models it names (call inside a transaction)."""
    rows = list(EmbeddingIndex.objects.raw(_SHARE_SQL))
    return rows[0] if rows else embedding_index_row()


_SHARE_SQL = "SELECT * FROM ingestion_embeddingindex ORDER BY id LIMIT 1 FOR SHARE"


def wanted_model(row: EmbeddingIndex) -> str:
    """The admin's choice if it is still offered, else the installation's model."""
    offered = {name for name, _ in model_choices()}
    return row.chosen_model if row.chosen_model in offered else installation_model()


def embedding_status() -> EmbeddingStatus:
    row = embedding_index_row()
    return EmbeddingStatus(
        active_model=row.active_model,
        wanted_model=wanted_model(row),
        target_model=row.target_model,
        done=row.target_done,
        total=row.target_total,
        error=row.error,
    )


def embedding_move_due(*, send: bool = True) -> bool:
    """Start (or cancel) the move the organization's choice implies; True while one runs.

    Idempotent and cheap when nothing changed (one row read under lock). The move's
    task is sent once the transaction commits (unless ``send`` is false: the task
    itself asks). Works on the whole organization, also
    when called from work scoped to one workspace.
    """
    with organization_scope(), transaction.atomic():
        row = embedding_index_row(lock=True)
        wanted = wanted_model(row)
        if wanted == row.active_model:
            if row.target_model:  # chosen back while moving: drop the half-made vectors
                _next_clear()
                _row_save(row, target_model="", target_done=0, target_total=0, error="")
            return False
        if row.target_model == wanted:
            if send:
                transaction.on_commit(embedding_move_send)
            return True
        if not Chunk.objects.exists():
            _row_save(
                row,
                active_model=wanted,
                target_model="",
                target_done=0,
                target_total=0,
                switched_at=timezone.now(),
                error="",
            )
            return False
        _next_clear()
        _row_save(
            row,
            target_model=wanted,
            target_done=0,
            target_total=Chunk.objects.count(),
            started_at=timezone.now(),
            error="",
        )
        logger.info("embedding move started: %s -> %s", row.active_model, wanted)
        if send:
            transaction.on_commit(embedding_move_send)
        return True


def embedding_move_send() -> None:
    """Send the move's task (found by name: the tasks module imports this one)."""
    app.tasks["ingestion.tasks.embedding_move"].delay()


def _next_clear() -> None:
    Chunk.objects.filter(embedding_next__isnull=False).update(embedding_next=None)


def _row_save(row: EmbeddingIndex, **values) -> None:
    for field, value in values.items():
        setattr(row, field, value)
    row.save(update_fields=[*values, "updated_at"])


def embedding_text(title: str, heading_path: tuple[str, ...] | list[str], text: str) -> str:
    """What is embedded for a chunk: its title and heading path for context, then its
    text. The heading path's first entry is left out when it repeats the title (a
    Markdown document's ``# Title``), so the title is embedded once."""
    path = list(heading_path)
    if path and path[0].strip() == title.strip():
        path = path[1:]
    return " > ".join([title, *path]) + "\n" + text


def embedding_move_step(*, batch: int = MOVE_BATCH) -> int:
    """Embed the next ``batch`` chunks without a vector by the target model; returns how
    many (0: none left, or no move running)."""
    with organization_scope(), transaction.atomic():
        row = embedding_index_shared()
        if not row.target_model:
            return 0
        chunks = list(
            Chunk.objects.filter(embedding_next__isnull=True)
            .select_related("document")
            .only("id", "text", "heading_path", "document__title")
            .order_by("id")
            .select_for_update(skip_locked=True, of=("self",))[:batch]
        )
        if not chunks:
            return 0
        texts = [
            embedding_text(chunk.document.title, chunk.heading_path, chunk.text) for chunk in chunks
        ]
        vectors = embed_with(row.target_model, texts, kind="passage")
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk.embedding_next = vector
        Chunk.objects.bulk_update(chunks, ["embedding_next"])
        EmbeddingIndex.objects.filter(pk=row.pk).update(
            target_done=F("target_done") + len(chunks), updated_at=timezone.now()
        )
        return len(chunks)


def embedding_move_switch() -> bool:
    """Make the target model active if every chunk has its vector; True if switched."""
    with organization_scope(), transaction.atomic():
        row = embedding_index_row(lock=True)
        if not row.target_model:
            return False
        if Chunk.objects.filter(embedding_next__isnull=True).exists():
            return False
        Chunk.objects.update(embedding=F("embedding_next"), embedding_next=None)
        total = Chunk.objects.count()
        logger.info("embedding move done: %s -> %s", row.active_model, row.target_model)
        _row_save(
            row,
            active_model=row.target_model,
            target_model="",
            target_done=total,
            target_total=total,
            switched_at=timezone.now(),
            error="",
        )
        # Cached answers were found with the old vectors.
        for workspace_id in Chunk.objects.values_list("workspace_id", flat=True).distinct():
            index_changed(workspace_id=workspace_id)
        return True


def _advisory_key() -> str:
    return f"embedding-move:{connection.schema_name}"


def embedding_move_run(*, seconds: float | None = None) -> bool:
    """Run the organization's move for up to ``seconds`` (None: to the end); True when
    nothing is left to do (switched, or no move), False when time ran out or another
    run holds the move."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_advisory_key()])
        if not cursor.fetchone()[0]:
            return False
    try:
        started = time.monotonic()
        while embedding_move_step():
            if seconds is not None and time.monotonic() - started > seconds:
                return False
        embedding_move_switch()
        return True
    except Exception as exc:
        EmbeddingIndex.objects.filter(target_model__gt="").update(
            error=f"{type(exc).__name__}: the move stopped and is tried again",
            updated_at=timezone.now(),
        )
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [_advisory_key()])
