"""The index of a workspace's documents: written here, read by search.

This module owns what search reads: the chunks (text, heading path, vector, readers),
each chunk's ``search_vector``, the postings (``ingestion.models.PostingList``, the
inverted index BM25 scores from) and the workspace's index version (part of every
answer cache key). It also holds the two queries that read them, BM25 and the nearest
vectors, each returning :class:`Ranked` chunks; search fuses, reranks and answers.

The write half and the read half agree on this:

- ``search_vector`` holds a chunk's words as Postgres' text search stems them
  (``to_tsvector``: Snowball stemming and stop words): title and heading path in the
  document's language (weight B, repeated in each of the document's chunks) and the
  chunk's text paragraph by paragraph, each in its own language (weight D;
  ``ingestion.language``). BM25 ignores the weights; a question is stemmed in each
  language of the readable documents searched, and a word that is a stop word in any
  of them is dropped in all.
- A posting is one (chunk, word): an entry of the word's list for the chunk's segment
  of ids, written in the transaction that wrote the chunk and removed by the database
  when the chunk is deleted (a trigger, ingestion migration 0018). Its ``tf`` is the
  number of positions of the word in ``search_vector``, whatever their weight (capped
  at 32767, far above the positions Postgres keeps per word).
- A chunk's ``lexeme_count``, its length in BM25, is the sum of its postings' ``tf``.
- Every write of a workspace's chunks or of their readers calls ``index_changed``, so
  answers cached from the old index are never served again.
- A chunk's vector may come after its text (``ingestion.embedding_queue``): BM25 finds
  a chunk once it is written, the vector ranking once it has a vector, and a document's
  words count from the moment it is ``searchable``.

Every query is restricted to the workspaces passed in and to the chunks the asker may
read (``workspaces.readers.ReaderScope``): the vector query inside its SQL; BM25 by
scoring only the postings of the chunks the asker may read (read in SQL with the same
predicate) and checking its results against the chunk table once more. BM25's
collection statistics (chunk count, mean length, document frequencies) are counted
over exactly those chunks: an unreadable document changes neither the candidates nor
any score, so its existence cannot be inferred from the results. In a scope of more
than ``BM25_EXACT_MAX_CHUNKS`` chunks the readable chunks are kept per reader for
``BM25_STATISTICS_SECONDS``: a chunk the reader may no longer read is filtered out of
the results at once, one they were newly given is found at once too (the readers
version ``index_changed`` moves on makes the asker's part be read again).

About 900 lines, on purpose: the writes and the queries above must agree on
those conventions, and they are kept in one module so that they are changed together.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingestion.chunking import ChunkDraft
from ingestion.language import paragraphs_by_language
from ingestion.models import Chunk, Document, DocumentShare
from workspaces.readers import ReaderScope
from workspaces.rls.parallel import run_beside

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

# Okapi BM25 parameters: the values of Robertson et al. that most systems use
# (Lucene, Anserini, bm25s); term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75

# Postings are kept per word, workspace and segment: the chunks whose id lies in the same
# range of 2 ** POSTING_SEGMENT_BITS (``PostingList``). A write appends to its words'
# rows, so the range bounds what one append rewrites (a frequent word's row holds about
# half the range's ids: 12 kB) and a question reads a frequent word in a 500k-chunk
# workspace as a few hundred rows (docs/scaling.md, "Keyword side").
POSTING_SEGMENT_BITS = 11
# Scopes (the workspaces searched) of at most this many chunks have their readable chunks
# read every question; a larger scope's are kept per reader (``_readable``).
BM25_EXACT_MAX_CHUNKS = 20_000
# How long a large scope's readable chunks, the languages of the readable documents and
# the scope's size are reused (Redis).
BM25_STATISTICS_SECONDS = 300


@dataclass(frozen=True)
class Ranked:
    """A chunk and its score in one ranking (BM25, cosine similarity, fused)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class WordStatistics:
    """What BM25 counted for a question, for another use of the same words
    (``ingestion.coverage``): the readable chunks of the scope, and each of the question's
    words' document frequency among them (0 for a word none holds)."""

    chunks: float
    frequencies: dict[str, float]
    # Which of the words each of some chunks holds (``chunk id -> words``, the chunks
    # readable in the scope only), from the postings BM25 scored; None when not kept
    # (``ingestion.coverage`` then reads the chunks' ``search_vector``).
    matched: Callable[[Sequence[int]], dict[int, list[str]]] | None = field(
        default=None, compare=False, repr=False
    )


# --- Writing: chunks, their words, the postings, the version -------------------------


def chunks_write(
    *,
    document: Document,
    drafts: list[ChunkDraft],
    vectors: Sequence[Sequence[float] | None],
    keys: list[str] | None = None,
    next_vectors: Sequence[Sequence[float] | None] | None = None,
) -> list[tuple[int, str]]:
    """Replace the document's chunks in one transaction (the caller holds it); returns
    the new chunks' ids and texts, in order.

    ``vectors`` are by the organization's active embedding model; ``next_vectors``, while
    it moves to another one (``ingestion.embedding_index``), by that one. A vector may be
    None: the embedding queue makes it later (``ingestion.embedding_queue``). The
    document's ``title`` and ``language`` must be saved already (its chunks' words are
    stemmed from them).
    """
    chunks = chunks_replace(
        document=document, drafts=drafts, vectors=vectors, keys=keys, next_vectors=next_vectors
    )
    postings_write(document_id=document.pk)
    index_changed(workspace_id=document.workspace_id)
    return chunks


def _lexeme_count(words: str) -> str:
    """SQL for a chunk's length in BM25: the positions of the words in ``words`` (a
    tsvector expression), as ``chunks_replace`` and ``search_vector_write`` store it."""
    return f"COALESCE((SELECT sum(cardinality(t.positions)) FROM unnest({words}) AS t), 0)"  # noqa: S608


# Chunks per INSERT: a statement of a few hundred kB at most.
CHUNKS_PER_INSERT = 500


def _search_parts(texts: list[str], language: str) -> list[list[tuple[str, str]]]:
    """Each text's paragraphs by text search configuration, in the order its
    ``search_vector`` joins them: the document's ``language`` first, then the others
    in the order they first occur in the document (``search_vector_write``'s order)."""
    splits = [paragraphs_by_language(text, default=language) for text in texts]
    order: dict[str, int] = {language: 0}
    for split in splits:
        for config in split:
            order.setdefault(config, len(order))
    return [sorted(split.items(), key=lambda part: order[part[0]]) for split in splits]


def chunks_replace(
    *,
    document: Document,
    drafts: list[ChunkDraft],
    vectors: Sequence[Sequence[float] | None],
    keys: list[str] | None = None,
    next_vectors: Sequence[Sequence[float] | None] | None = None,
) -> list[tuple[int, str]]:
    """Delete the document's chunks and insert ``drafts`` with their ``vectors`` (and
    ``next_vectors``, the next embedding model's, when given) and their words
    (``search_vector`` and ``lexeme_count``, as ``search_vector_write`` sets them, from
    the document's saved ``title`` and ``language``); returns the new chunks' ids and
    texts, in the drafts' order."""
    # One DELETE: through the ORM, a delete first reads every old chunk whole (vectors
    # and text) to send signals none of them has (a receiver django-tenants connects
    # for every model makes Django collect). Their postings go by trigger.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Chunk._meta.db_table} WHERE document_id = %s",  # noqa: S608
            [document.pk],
        )
    if not drafts:
        return []
    vector_field = Chunk._meta.get_field("embedding")
    nexts = next_vectors or [None] * len(drafts)
    hashes = keys or [""] * len(drafts)
    parts = _search_parts([draft.text for draft in drafts], document.language)
    ids: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(drafts), CHUNKS_PER_INSERT):
            rows, params = [], []
            for i in range(start, min(start + CHUNKS_PER_INSERT, len(drafts))):
                draft = drafts[i]
                words = " || ".join(
                    "setweight(to_tsvector(%s::regconfig, %s), 'D')" for _ in parts[i]
                )
                rows.append(
                    "(%s::integer, %s::text, %s::text[], %s::integer, %s::vector, %s::vector,"
                    " %s::varchar, title.words"
                    " || setweight(to_tsvector(%s::regconfig, %s), 'B') || " + words + ")"
                )
                params += [
                    draft.ordinal,
                    draft.text,
                    list(draft.heading_path),
                    draft.token_count,
                    vector_field.get_db_prep_save(vectors[i], connection),
                    vector_field.get_db_prep_save(nexts[i], connection),
                    hashes[i],
                    # ``array_to_string(heading_path, ' ')``, as ``search_vector_write``.
                    document.language,
                    " ".join(draft.heading_path),
                ]
                for config, body in parts[i]:
                    params += [config, body]
            # Readers: the database copies the document's current ones into every chunk
            # it inserts (ingestion migration 0009), so readers set while this document
            # was being embedded are the ones its chunks get. A chunk's length in BM25
            # is the number of positions of its words (``postings_write``).
            cursor.execute(
                f"""
                INSERT INTO {Chunk._meta.db_table}
                       (workspace_id, document_id, ordinal, text, heading_path, token_count,
                        embedding, embedding_next, content_sha256, readers, search_vector,
                        lexeme_count)
                SELECT %s, %s, v.ordinal, v.text, v.heading_path, v.token_count, v.embedding,
                       v.embedding_next, v.content_sha256, '{{}}', v.words,
                       {_lexeme_count("v.words")}
                  FROM (SELECT setweight(to_tsvector(%s::regconfig, %s), 'B')) AS title(words),
                       LATERAL (VALUES {", ".join(rows)})
                       AS v(ordinal, text, heading_path, token_count, embedding, embedding_next,
                            content_sha256, words)
                RETURNING id, ordinal
                """,  # noqa: S608 - the table's name and placeholders only
                [document.workspace_id, document.pk, document.language, document.title, *params],
            )
            ids.update((ordinal, pk) for pk, ordinal in cursor.fetchall())
    return [(ids[draft.ordinal], draft.text) for draft in drafts]


def search_vector_write(
    *, document_id: int, language: str | None = None, chunks: list[tuple[int, str]] | None = None
) -> None:
    """Set the words keyword search sees on each of the document's chunks, and their
    lengths in BM25 (``lexeme_count``), anew (``chunks_replace`` sets them as it inserts
    the chunks: this is for chunks written before, e.g. stemmed otherwise).

    Title and heading path (repeated in each chunk) are stemmed in the document's
    language (weight B); the chunk's text (weight D) paragraph by paragraph, each in
    its own language (``ingestion.language.paragraphs_by_language``): a translated
    paragraph keeps its stop words out and its neighbours keep theirs out too.

    ``language`` (the document's) and ``chunks`` (its chunks' ids and texts), when the
    caller has them, are not read again.
    """
    if language is None:
        language = Document.objects.only("language").get(pk=document_id).language
    if chunks is None:
        chunks = list(Chunk.objects.filter(document_id=document_id).values_list("id", "text"))
    groups: dict[str, tuple[list[int], list[str]]] = {}
    for chunk_id, text in chunks:
        split = paragraphs_by_language(text, default=language)
        for config, body in split.items():
            ids, bodies = groups.setdefault(config, ([], []))
            ids.append(chunk_id)
            bodies.append(body)
    if not groups:
        return
    ids, bodies = groups.pop(language)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE ingestion_chunk AS c
               SET search_vector =
                   setweight(to_tsvector(d.language::regconfig, d.title), 'B')
                || setweight(
                       to_tsvector(d.language::regconfig, array_to_string(c.heading_path, ' ')), 'B'
                   )
                || setweight(to_tsvector(d.language::regconfig, p.body), 'D')
              FROM ingestion_document AS d,
                   unnest(%(ids)s::bigint[], %(bodies)s::text[]) AS p(id, body)
             WHERE d.id = c.document_id AND c.document_id = %(doc)s AND c.id = p.id
            """,
            {"doc": document_id, "ids": ids, "bodies": bodies},
        )
        for config, (ids, bodies) in groups.items():
            cursor.execute(
                """
                UPDATE ingestion_chunk AS c
                   SET search_vector = c.search_vector
                    || setweight(to_tsvector(%(config)s::regconfig, p.body), 'D')
                  FROM unnest(%(ids)s::bigint[], %(bodies)s::text[]) AS p(id, body)
                 WHERE c.document_id = %(doc)s AND c.id = p.id
                """,
                {"doc": document_id, "config": config, "ids": ids, "bodies": bodies},
            )
        cursor.execute(
            "UPDATE ingestion_chunk AS c"  # noqa: S608 - a fixed fragment only
            f" SET lexeme_count = {_lexeme_count('c.search_vector')}"
            " WHERE c.document_id = %(doc)s",
            {"doc": document_id},
        )


def postings_write(*, document_id: int) -> None:
    """Index the words of ``document_id``'s chunks (their ``search_vector`` and
    ``lexeme_count`` must be set: ``chunks_replace``, ``search_vector_write``).

    Each word's postings are appended to its
    row for the chunks' segment (``PostingList``), under the workspace's posting lock
    (held to the end of the transaction: documents of one workspace written at the same
    time wait for each other here). Call once, inside the transaction that wrote the
    chunks (``chunks_write``): a second call would append their postings again. A
    chunk's words change only with a new chunk: deleting the old one takes its postings
    with it.
    """
    with connection.cursor() as cursor:
        # One writer of a workspace's lists at a time, until the transaction ends: rows
        # appended to here and rows a chunk delete rewrites (the trigger of migration
        # 0018, which takes the same lock) would otherwise be locked in different orders
        # by two documents re-indexed at once, and one of them would fail on a deadlock.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':postings:'"
            " || w.id, 0)) FROM (SELECT DISTINCT c.workspace_id AS id FROM ingestion_chunk AS c"
            " WHERE c.document_id = %(doc)s ORDER BY 1) AS w",
            {"doc": document_id},
        )
        cursor.execute(
            f"""
            INSERT INTO ingestion_posting_list AS l
                   (workspace_id, lexeme, segment, postings, chunk_ids, tfs, lengths)
            SELECT c.workspace_id, t.lexeme, (c.id >> {POSTING_SEGMENT_BITS})::integer,
                   count(*), string_agg(int8send(c.id), ''::bytea ORDER BY c.id),
                   string_agg(int2send(LEAST(cardinality(t.positions), 32767)::smallint),
                              ''::bytea ORDER BY c.id),
                   string_agg(int2send(LEAST(c.lexeme_count, 32767)::smallint), ''::bytea
                              ORDER BY c.id)
              FROM ingestion_chunk AS c, unnest(c.search_vector) AS t
             WHERE c.document_id = %(doc)s
          GROUP BY 1, 2, 3
          ORDER BY 1, 2, 3
            ON CONFLICT (workspace_id, lexeme, segment) DO UPDATE
               SET chunk_ids = l.chunk_ids || excluded.chunk_ids,
                   tfs = l.tfs || excluded.tfs,
                   lengths = l.lengths || excluded.lengths,
                   postings = l.postings + excluded.postings
            """,  # noqa: S608 - module constants only
            {"doc": document_id},
        )


def _version_key(workspace_id: int) -> str:
    return f"index-version:{connection.schema_name}:{workspace_id}"


def index_version(workspace_id: int) -> int:
    """The workspace's index version (Redis); raises while Redis is unavailable."""
    return int(cache.get(_version_key(workspace_id), 0))


def _readers_version_key() -> str:
    return f"bm25:{connection.schema_name}:readers-version"


def index_changed(*, workspace_id: int, readers: bool = False) -> None:
    """Invalidate the workspace's cached answers once the current transaction commits,
    and those of the workspaces its documents are shared into (``ingestion.sharing``:
    a shared document's chunks are part of their answers too). The shares are read now,
    before a caller deletes them.

    ``readers``: a document's readers changed in place (its chunks kept): the
    organization's readers version moves on too, so BM25 reads each restricted asker's
    hidden chunks again (``_readable``) and a document newly opened to them is found at
    once, not once their kept set expires."""
    readers_key = _readers_version_key() if readers else None
    targets = set(
        DocumentShare.objects.filter(source_workspace_id=workspace_id)
        .values_list("workspace_id", flat=True)
        .distinct()
    )

    def bump() -> None:
        if readers_key is not None:
            with contextlib.suppress(*_REDIS_DOWN):  # kept sets expire in minutes anyway
                cache.add(readers_key, 0, timeout=None)
                cache.incr(readers_key)
        for changed in sorted({workspace_id, *targets}):
            key = _version_key(changed)
            try:
                cache.add(key, 0, timeout=None)
                cache.incr(key)
            except _REDIS_DOWN as exc:
                # Committed already: failing now would only hide the change from its
                # caller. Cached answers are checked against readers when served, so
                # none leaks.
                logger.warning(
                    "cached answers of workspace %s not invalidated (Redis unavailable: %s)",
                    changed,
                    exc,
                )

    transaction.on_commit(bump)


# --- Reading: BM25 and the nearest vectors ------------------------------------------


def _languages_sql(readers: ReaderScope) -> str:
    """The languages of the readable documents searched: the question is stemmed in each."""
    return f"""
        SELECT DISTINCT d.language::regconfig::text
          FROM ingestion_document AS d
         WHERE {readers.within_sql("d", document_column="id")}
           AND d.status IN ('searchable', 'indexed')
           AND {readers.sql("d")}
      ORDER BY 1
    """  # noqa: S608 - fixed aliases


# The question's words, stemmed in each of ``%(languages)s``. Each word of the question
# as each language stems it, by its position in the question (the same in every
# language: one parser; a stop word keeps its position but yields no lexeme). A stop
# word of any of those languages is dropped in all of them: otherwise "who" or "about",
# kept by the French stemmer, would match only the odd text indexed as French, with the
# huge weight of a rare word.
_TERMS_SQL = """
    WITH languages AS (
        SELECT cfg FROM unnest(%(languages)s::text[]::regconfig[]) AS l(cfg)
    ),
    words AS MATERIALIZED (
        SELECT languages.cfg, t.lexeme, w.position
          FROM languages,
               unnest(to_tsvector(languages.cfg, %(text)s)) AS t,
               unnest(t.positions) AS w(position)
    )
    SELECT DISTINCT words.lexeme
      FROM words
     WHERE words.position IN (
               SELECT kept.position FROM words AS kept
            GROUP BY kept.position
              HAVING count(DISTINCT kept.cfg) = (SELECT count(*) FROM languages)
           )
  ORDER BY words.lexeme
"""


def bm25_ranking(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> list[Ranked]:
    """The ``limit`` best chunks of ``workspace_ids`` that ``readers`` may read, by BM25
    (``bm25_search`` without its statistics)."""
    return bm25_search(query, workspace_ids=workspace_ids, readers=readers, limit=limit)[0]


def bm25_search(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> tuple[list[Ranked], WordStatistics | None]:
    """The ``limit`` best chunks of ``workspace_ids`` that ``readers`` may read, by Okapi
    BM25, and the statistics it scored them with (None when nothing matched), so that
    the question's coverage (``ingestion.coverage``) does not count them a second time.

    1. The question's words, stemmed in the languages of the readable documents.
    2. The chunks the asker may read (``_readable``): their ids and lengths, hence the
       collection's size and mean length.
    3. Each word's postings (``_postings``): its ``PostingList`` rows in the workspaces
       searched, and for documents shared into them, their chunks' words.
    4. numpy scores every posting of a readable chunk; a word's document frequency is
       its readable postings. Exact BM25 over exactly the chunks the asker may read.
    5. The best are checked once more against the chunk table's readers
       (``_readers_check``): a chunk deleted or no longer readable since a large scope's
       readable set was kept never comes back.

    Equal scores come back by chunk id (scores rounded to 9 places first).
    """
    if not query.strip() or not workspace_ids:
        return [], None
    params = {"text": query, "workspaces": list(workspace_ids), **readers.params()}
    with connection.cursor() as cursor:
        scored = _scored(cursor, params, readers)
        if scored is None or not any(scored[2].frequencies.values()):
            return [], None
        readable, scores, counted = scored
        return _best(cursor, params, readers, readable, scores, limit), counted


def bm25_question_statistics(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope
) -> tuple[float, dict[str, float]] | None:
    """What BM25 would count for ``query``: the readable chunks' count and each of the
    question's words' document frequency among them (0 for a word none holds). None
    when the question has no word the index knows or nothing is readable."""
    if not query.strip() or not workspace_ids:
        return None
    params = {"text": query, "workspaces": list(workspace_ids), **readers.params()}
    with connection.cursor() as cursor:
        scored = _scored(cursor, params, readers)
    return None if scored is None else (scored[2].chunks, scored[2].frequencies)


def _scored(
    cursor, params: dict, readers: ReaderScope
) -> tuple[_Readable, np.ndarray, WordStatistics] | None:
    """Steps 1-4 of ``bm25_search``: the readable chunks, their scores, and what was
    counted; None when the question has no word the index knows or nothing is readable."""
    statistics = _Statistics(params, readers)
    lexemes = _question_words(cursor, params, readers, statistics)
    if not lexemes:
        return None
    readable = _readable(cursor, params, readers, statistics)
    if not len(readable.ids):
        return None
    scores, held = _scores(readable, _postings(cursor, params, readers, lexemes))
    counted = WordStatistics(
        float(len(readable.ids)),
        {lexeme: float(len(held.get(lexeme, ()))) for lexeme in lexemes},
        matched=functools.partial(_matched, readable, held),
    )
    return readable, scores, counted


def _matched(
    readable: _Readable, held: dict[str, np.ndarray], chunk_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Which of the words each of ``chunk_ids`` holds (``held``: each word's readable
    chunks, as slots), for those of them that are readable: what the chunks'
    ``search_vector`` would say, without reading it."""
    ids = np.unique(np.asarray(chunk_ids, dtype=np.int64))
    where = _slots_of(readable, ids)
    ids, where = ids[where >= 0], where[where >= 0]
    found: dict[int, list[str]] = {int(chunk_id): [] for chunk_id in ids}
    for lexeme, slots in held.items():
        holds = np.zeros(len(readable.ids), bool)
        holds[slots] = True
        for chunk_id in ids[holds[where]]:
            found[int(chunk_id)].append(lexeme)
    return found


class _Statistics:
    """What BM25 reuses for ``BM25_STATISTICS_SECONDS`` (Redis), per organization, scope
    and reader: fetched in one round trip per question (most of a question's time on a
    loaded machine is waiting for its turn, once per round trip). Computed each time
    while Redis is unavailable."""

    def __init__(self, params: dict, readers: ReaderScope) -> None:
        scope = ",".join(str(w) for w in sorted(params["workspaces"]))
        who = hashlib.sha256(
            repr(
                (
                    sorted(readers.principals),
                    sorted(readers.all_in_workspaces),
                    sorted(readers.shared_documents),
                )
            ).encode()
        ).hexdigest()[:24]
        self.prefix = f"bm25:{connection.schema_name}:{scope}"
        self.reader = who
        names = ("scope", "languages", "readers-version")
        self.values = self._get_many({name: self.key(name) for name in names})
        self.fetched = set(names)

    def key(self, name: str) -> str:
        if name == "readers-version":  # the organization's (``index_changed``)
            return _readers_version_key()
        if name in ("scope", "chunks", "chunks-reading"):  # the same for every asker
            return f"{self.prefix}:{name}"
        return f"{self.prefix}:{self.reader}:{name}"

    @staticmethod
    def _get_many(keys: dict[str, str]) -> dict:
        try:
            found = cache.get_many(list(keys.values()))
        except _REDIS_DOWN:
            return {}
        return {name: found[key] for name, key in keys.items() if key in found}

    def get(self, name: str, compute):
        """The value kept under ``name`` (fetched with the others, or now), else
        ``compute()``, kept."""
        if name not in self.values:
            found = None
            if name not in self.fetched:  # not asked for with the others
                found = self._get_many({name: self.key(name)}).get(name)
            if found is None:
                found = compute()
                self.put(name, found)
            self.values[name] = found
        return self.values[name]

    def put(self, name: str, value) -> None:
        # The scope's chunks are served up to twice as long, while they are read again
        # beside the questions (``_readable``).
        timeout = BM25_STATISTICS_SECONDS * (2 if name == "chunks" else 1)
        with contextlib.suppress(*_REDIS_DOWN):
            cache.set(self.key(name), value, timeout=timeout)


def _scope_chunks(statistics: _Statistics, params: dict) -> int:
    """How many chunks the scope holds, counted up to one more than the larger of the
    two exact-search thresholds and reused (``BM25_STATISTICS_SECONDS``) by both
    rankings: counting 20k index entries took 6 ms a question at 1M chunks."""
    at_most = max(BM25_EXACT_MAX_CHUNKS, settings.VECTOR_EXACT_MAX_CHUNKS) + 1
    return statistics.get("scope", lambda: scope_size(params["workspaces"], at_most=at_most))


def _large(statistics: _Statistics, params: dict) -> bool:
    """Whether the scope holds more than ``BM25_EXACT_MAX_CHUNKS`` chunks (reused)."""
    return _scope_chunks(statistics, params) > BM25_EXACT_MAX_CHUNKS


def _question_words(
    cursor, params: dict, readers: ReaderScope, statistics: _Statistics
) -> list[str]:
    """The question's words, stemmed in the languages of the readable documents (in a
    large scope, those languages reused from ``statistics``; in a small one counted each
    time, so a workspace's first German document is searched in German at once)."""

    def languages() -> list[str]:
        cursor.execute(_languages_sql(readers), params)
        return [row[0] for row in cursor.fetchall()]

    found = statistics.get("languages", languages) if _large(statistics, params) else languages()
    cursor.execute(_TERMS_SQL, {**params, "languages": found})
    return [row[0] for row in cursor.fetchall()]


class _Readable:
    """The chunks a reader may read in a scope: their ids (ascending, unique) and
    lengths in words (16 bits: a large scope's set is kept in each process), the mean
    length (at least 1), and each id's slot (its index in ``ids``) when the ids lie
    close together (computed once per set)."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        self.ids = ids
        self.lengths = lengths
        self.avgdl = max(float(lengths.mean()), 1.0) if len(lengths) else 1.0
        self._slots: tuple[int, np.ndarray] | None = None
        self._norms: np.ndarray | None = None

    def norms(self) -> np.ndarray:
        """Each chunk's length part of BM25's saturation, ``k1 * (1 - b + b * dl /
        avgdl)`` (computed once per set)."""
        if self._norms is None:
            lengths = self.lengths.astype(np.float64)
            self._norms = BM25_K1 * (1 - BM25_B + BM25_B * lengths / self.avgdl)
        return self._norms

    def slots(self) -> tuple[int, np.ndarray] | None:
        """(lowest id, a slot per id from it, -1 for an id not in the set), or None when
        the ids are spread too thin for that (then ``np.searchsorted``)."""
        n = len(self.ids)
        if self._slots is None and n:
            low, high = int(self.ids[0]), int(self.ids[-1])
            if high - low < 16 * n:  # a workspace's chunks, mostly
                dense = np.full(high - low + 1, -1, np.int32)
                dense[self.ids - low] = np.arange(n, dtype=np.int32)
                self._slots = (low, dense)
        return self._slots


# Large scopes' readable chunks kept in this process too (besides Redis, which every
# process shares): a 500k-chunk scope's set is 5 MB, which took 8-13 ms a question to
# fetch and unpack. Keyed like Redis; each entry expires when its Redis copy does.
_KEPT: dict[str, tuple[float, int, _Readable]] = {}
_KEPT_MAX = 8


def _readable_sql(readers: ReaderScope, *, above: bool) -> str:
    """The readable chunks' ids and lengths, each as one packed ``bytea`` (8- and 2-byte
    big-endian integers, by id): of the workspaces searched and of the documents shared
    into them; with ``above``, only those of id above ``%(above)s``."""
    newer = " AND c.id > %(above)s" if above else ""
    shared = ""
    if readers.shared_documents:
        shared = f"""
            UNION ALL
            SELECT c.id, c.lexeme_count
              FROM ingestion_chunk AS c
             WHERE c.document_id = ANY(%(shared_documents)s::bigint[])
               AND NOT (c.workspace_id = ANY(%(workspaces)s)) AND {readers.sql("c")}{newer}"""  # noqa: S608
    return f"""
        SELECT string_agg(int8send(r.id), ''::bytea ORDER BY r.id),
               string_agg(int2send(LEAST(r.lexeme_count, 32767)::smallint), ''::bytea
                          ORDER BY r.id)
          FROM (
                SELECT c.id, c.lexeme_count
                  FROM ingestion_chunk AS c
                 WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}{newer}
                {shared}
               ) AS r
    """  # noqa: S608 - fixed aliases


def _rows_binary(cursor, sql: str, params: dict) -> list[tuple]:
    """The rows of ``sql`` in Postgres' binary format, through the connection's execute
    wrappers (row-level security) like any statement. Django's cursors bind parameters
    on the client, which returns every value as text: a ``bytea`` as hex, twice its
    size, encoded by the server and decoded here. The packed postings of a question's
    frequent words at 1M chunks (2.4 MB) came three times faster in binary
    (bench/RESULTS.md)."""
    db = cursor.db

    def execute(sql, params, *ignored_wrapper_args):  # as Django's CursorWrapper._execute
        db.validate_no_broken_transaction()
        with db.wrap_database_errors, psycopg.Cursor(db.connection) as raw:
            # Parameters bound by the server; never a named prepared statement (a
            # transaction pooler may switch servers).
            raw.execute(sql, params, binary=True, prepare=False)
            return raw.fetchall()

    # Django's own chain of the connection's execute wrappers, this executor at its end.
    return cursor._execute_with_wrappers(sql, params, False, execute)


def _readable_fetch(cursor, params: dict, readers: ReaderScope, *, above: int | None) -> _Readable:
    [(ids, lengths)] = _rows_binary(
        cursor, _readable_sql(readers, above=above is not None), {**params, "above": above or 0}
    )
    if ids is None:
        return _Readable(np.zeros(0, np.int64), np.zeros(0, np.int16))
    return _Readable(
        np.frombuffer(ids, ">i8").astype(np.int64),
        np.frombuffer(lengths, ">i2").astype(np.int16),
    )


# A large scope's restricted chunks the asker is not named on (nor reads all of their
# workspace), up to a chunk id: what they may not read of the scope's chunks kept. Read
# from the partial index ``chunk_workspace_restricted`` alone.
def _hidden_sql(readers: ReaderScope) -> str:
    return f"""
        SELECT string_agg(int8send(c.id), ''::bytea ORDER BY c.id)
          FROM ingestion_chunk AS c
         WHERE c.workspace_id = ANY(%(workspaces)s) AND c.readers <> '{{}}'
           AND c.id <= %(upto)s AND NOT {readers.sql("c")}
    """  # noqa: S608 - a fixed alias


def _every_chunk(cursor, params: dict, now: float) -> tuple[float, bytes, bytes]:
    """Every chunk of the scope, as kept: (when, ids, lengths). Read with the readers
    predicate's own parameters: the asker's would make this the asker's readable chunks,
    and every other asker would miss what it lacks."""
    everyone = ReaderScope.everything(params["workspaces"])
    found = _readable_fetch(cursor, {**params, **everyone.params()}, everyone, above=None)
    return (now, found.ids.astype("<i8").tobytes(), found.lengths.astype("<i2").tobytes())


def _every_chunk_again(statistics: _Statistics, params: dict) -> None:
    """Read the scope's chunks again on another connection (``run_beside``), for the
    questions after this one, which is answered from the stale set meanwhile: one process
    at a time (a Redis lock); nothing when no connection is free (then a later question
    starts it, or once the set has expired, one reads it)."""
    lock = statistics.key("chunks-reading")
    try:
        if not cache.add(lock, 1, timeout=60):
            return
    except _REDIS_DOWN:
        return

    def read() -> None:
        try:
            with connection.cursor() as cursor:
                statistics.put("chunks", _every_chunk(cursor, params, time.time()))
        finally:
            with contextlib.suppress(*_REDIS_DOWN):
                cache.delete(lock)

    if not run_beside(read):
        with contextlib.suppress(*_REDIS_DOWN):
            cache.delete(lock)


def _readable(cursor, params: dict, readers: ReaderScope, statistics: _Statistics) -> _Readable:
    """The chunks ``readers`` may read in the workspaces searched and the documents
    shared into them.

    A scope of at most ``BM25_EXACT_MAX_CHUNKS`` chunks is read each question (one
    index-only scan of ``chunk_workspace_bm25``). In a larger one, what is read is kept
    for ``BM25_STATISTICS_SECONDS`` (Redis, and this process: ``_KEPT``):

    - every chunk of the scope, once for every asker (250 ms at 500k chunks); once it
      is ``BM25_STATISTICS_SECONDS`` old it is read again on another connection
      (``_every_chunk_again``) while the questions meanwhile are answered from it (it
      is kept up to twice as long), so no asker waits for that read but the first;
    - for an asker who may not read all of it, the restricted chunks they are not named
      on, up to the same chunk (``chunk_workspace_restricted``, tens of ms), which are
      taken out;
    - and each question adds the readable chunks written since (ids above the highest
      kept: a range scan), so a new document is found as soon as it is written.

    What the kept set may still hold that changed since (a chunk deleted, its readers
    narrowed) is filtered out of the results by ``_readers_check``; a chunk whose
    readers were widened since is found at the asker's next question: a document's
    readers changed in place move the organization's readers version on
    (``index_changed(readers=True)``), and the asker's part is read again. Documents
    shared into the scope: everything read for the asker each question (rare, small).
    """
    if not _large(statistics, params) or readers.shared_documents:
        return _readable_fetch(cursor, params, readers, above=None)
    reads_all = set(params["workspaces"]) <= set(readers.all_in_workspaces)
    key = statistics.key("readable-all" if reads_all else "readable")
    # Readers changed in place since the asker's hidden chunks were read: read again.
    version = 0 if reads_all else int(statistics.values.get("readers-version", 0))
    now = time.time()
    local = _KEPT.get(key)
    if local is None or local[0] <= now or local[1] != version:
        _KEPT.pop(key, None)

        kept_at, ids, lengths = statistics.get("chunks", lambda: _every_chunk(cursor, params, now))
        stale = now - kept_at >= BM25_STATISTICS_SECONDS
        if stale:
            _every_chunk_again(statistics, params)
        chunks = _Readable(
            np.frombuffer(ids, "<i8").astype(np.int64),
            np.frombuffer(lengths, "<i2"),
        )
        if not reads_all and len(chunks.ids):

            def hidden() -> tuple[float, int, bytes]:
                [(packed,)] = _rows_binary(
                    cursor, _hidden_sql(readers), {**params, "upto": int(chunks.ids[-1])}
                )
                return (kept_at, version, bytes(packed or b""))

            hidden_at, hidden_version, packed = statistics.get("hidden-readers", hidden)
            # Taken out of another copy of the scope's chunks, or before readers changed.
            if (hidden_at, hidden_version) != (kept_at, version):
                hidden_at, hidden_version, packed = hidden()
                statistics.put("hidden-readers", (hidden_at, hidden_version, packed))
            gone = np.frombuffer(packed, ">i8").astype(np.int64)
            if len(gone):
                keep = ~np.isin(chunks.ids, gone, assume_unique=True)
                chunks = _Readable(chunks.ids[keep], chunks.lengths[keep])
        # A stale set is looked for again in Redis soon (read again meanwhile).
        local = (now + 15 if stale else kept_at + BM25_STATISTICS_SECONDS, version, chunks)
        while len(_KEPT) >= _KEPT_MAX:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[key] = local
    kept = local[2]
    above = int(kept.ids[-1]) if len(kept.ids) else 0
    newer = _readable_fetch(cursor, params, readers, above=above)
    if not len(newer.ids):
        return kept
    return _Readable(
        np.concatenate([kept.ids, newer.ids]), np.concatenate([kept.lengths, newer.lengths])
    )


_POSTINGS_SQL = """
    SELECT l.lexeme, l.chunk_ids, l.tfs
      FROM ingestion_posting_list AS l
     WHERE l.workspace_id = ANY(%(workspaces)s) AND l.lexeme = ANY(%(lexemes)s::text[])
"""


def _shared_postings_sql(readers: ReaderScope) -> str:
    """The question's words in the chunks of documents shared into the workspaces
    searched, read from the chunks' ``search_vector`` (their lists lie in workspaces the
    asker may not search), packed as the lists are."""
    return f"""
        SELECT t.lexeme, string_agg(int8send(c.id), ''::bytea),
               string_agg(int2send(LEAST(cardinality(t.positions), 32767)::smallint), ''::bytea)
          FROM ingestion_chunk AS c, unnest(c.search_vector) AS t
         WHERE c.document_id = ANY(%(shared_documents)s::bigint[])
           AND NOT (c.workspace_id = ANY(%(workspaces)s)) AND {readers.sql("c")}
           AND t.lexeme = ANY(%(lexemes)s::text[])
      GROUP BY t.lexeme
    """  # noqa: S608 - a fixed alias


def _postings(
    cursor, params: dict, readers: ReaderScope, lexemes: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each word's postings in the scope: chunk ids (native 64-bit) and term frequencies
    (big-endian 16-bit, as stored). Their chunks' lengths come from the readable chunks
    (``_Readable.lengths``): the lists' copy of them is not read."""
    parts: dict[str, tuple[list, list]] = {}
    wanted = {"lexemes": list(lexemes), "workspaces": params["workspaces"]}
    rows = _rows_binary(cursor, _POSTINGS_SQL, wanted)
    if readers.shared_documents:
        rows += _rows_binary(cursor, _shared_postings_sql(readers), {**params, **wanted})
    for lexeme, ids, tfs in rows:
        found = parts.setdefault(lexeme, ([], []))
        found[0].append(ids)
        found[1].append(tfs)
    return {
        lexeme: (
            np.frombuffer(b"".join(ids), ">i8").astype(np.int64),
            np.frombuffer(b"".join(tfs), ">i2"),
        )
        for lexeme, (ids, tfs) in parts.items()
    }


def _slots_of(readable: _Readable, chunk_ids: np.ndarray) -> np.ndarray:
    """Each of ``chunk_ids``' slot in ``readable.ids`` (its index there), -1 for an id
    not in it."""
    slotted = readable.slots()
    if slotted is not None:
        low, dense = slotted
        offsets = chunk_ids - low
        if len(offsets) and offsets.min() >= 0 and offsets.max() < len(dense):
            return dense[offsets]  # the usual case: a word's postings in the scope's range
        inside = offsets.view(np.uint64) < len(dense)  # 0 <= offset < len(dense)
        slots = np.full(len(chunk_ids), -1, np.int32)
        slots[inside] = dense[offsets[inside]]
        return slots
    ids = readable.ids
    at = np.minimum(np.searchsorted(ids, chunk_ids), max(len(ids) - 1, 0))
    return np.where(ids[at] == chunk_ids, at, -1)


def _scores(
    readable: _Readable, postings: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, dict[str, int]]:
    """Each readable chunk's BM25 score (aligned with ``readable.ids``) and each word's
    readable chunks (their slots; as many as its document frequency), for the words
    some readable chunk holds."""
    n = len(readable.ids)
    norms = readable.norms()
    held: dict[str, np.ndarray] = {}
    every_part = []
    for lexeme, (chunk_ids, tfs) in postings.items():
        slots = _slots_of(readable, chunk_ids)
        keep = slots >= 0
        slots = slots[keep]
        df = len(slots)
        if not df:
            continue
        held[lexeme] = slots
        tf = tfs[keep].astype(np.float64)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        every_part.append(idf * tf * (BM25_K1 + 1) / (tf + norms[slots]))
    if not held:
        return np.zeros(n), held
    # Each chunk's parts summed in one pass (in the words' order, as one would add them).
    scores = np.bincount(
        np.concatenate(list(held.values())), weights=np.concatenate(every_part), minlength=n
    )
    return scores, held


def _best(
    cursor,
    params: dict,
    readers: ReaderScope,
    readable: _Readable,
    scores: np.ndarray,
    limit: int,
) -> list[Ranked]:
    """The ``limit`` best scored chunks that ``_readers_check`` confirms, best first,
    equal scores by chunk id (rounded to 9 places: the sum's last bits depend on the
    order the words were added in)."""
    matched = int(np.count_nonzero(scores))
    wanted = min(limit, matched)
    taken = 0
    found: list[Ranked] = []
    while len(found) < wanted and taken < matched:
        taken = min(matched, max(2 * taken, limit + 10))
        if taken < len(scores):
            # Every chunk scoring as much as the last one taken: a tie is broken by id
            # below, not by where the partition happened to cut it.
            cut = float(scores[np.argpartition(-scores, taken - 1)[taken - 1]])
            top = np.flatnonzero(scores >= cut) if cut > 0 else np.flatnonzero(scores > 0)
        else:
            top = np.flatnonzero(scores > 0)
        # By score, then id (numpy's sort: a tie can hold thousands of chunks), the
        # first ``taken`` of them checked.
        order = top[np.lexsort((readable.ids[top], -np.round(scores[top], 9)))][:taken].tolist()
        allowed = _readers_check(cursor, params, readers, [int(readable.ids[i]) for i in order])
        found = [
            Ranked(int(readable.ids[i]), float(scores[i]))
            for i in order
            if int(readable.ids[i]) in allowed
        ]
    return found[:limit]


def _readers_check(cursor, params: dict, readers: ReaderScope, chunk_ids: list[int]) -> set[int]:
    """Those of ``chunk_ids`` that exist and ``readers`` may read, in the chunk table."""
    cursor.execute(
        f"""
        SELECT c.id FROM ingestion_chunk AS c
         WHERE c.id = ANY(%(ids)s::bigint[]) AND {readers.within_sql("c")} AND {readers.sql("c")}
        """,  # noqa: S608 - fixed aliases
        {**params, "ids": chunk_ids},
    )
    return {row[0] for row in cursor.fetchall()}


@dataclass(frozen=True)
class ChunkShown:
    """What a passage shows of a chunk (``chunks_shown``)."""

    chunk_id: int
    document_id: int
    document_title: str
    heading_path: tuple[str, ...]
    text: str


def chunks_shown(chunk_ids: Sequence[int], *, readers: ReaderScope) -> dict[int, ChunkShown]:
    """Those of ``chunk_ids`` that ``readers`` may read, by id: text, heading path and
    document title. One query, not the ORM, whose compiling and model instances (the
    chunk and its document) were 5 of the 7 ms it took per question at 1M chunks."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id, c.document_id, d.title, c.heading_path, c.text
              FROM ingestion_chunk AS c JOIN ingestion_document AS d ON d.id = c.document_id
             WHERE c.id = ANY(%(ids)s::bigint[]) AND {readers.sql("c")}
            """,  # noqa: S608 - a fixed alias
            {"ids": list(chunk_ids), **readers.params()},
        )
        return {
            row[0]: ChunkShown(row[0], row[1], row[2], tuple(row[3]), row[4])
            for row in cursor.fetchall()
        }


# HNSW breadth per result asked for: with k = 50 the index is searched 800 deep. The
# pgvector in use (0.6) filters the workspace and readers after the index scan, so the
# breadth must leave k readable among the candidates. In a workspace holding half of
# 100k chunks (bench/retrieval_scale.py) a breadth of 100 left fewer than 50 for 21-31
# of 40 questions; 200 and 400 for none. Recall@10 at 300k chunks was 0.975 with 400;
# at 1M, 400 found none of the true ten for 4 of 100 questions (recall 0.950: the
# search stuck in another cluster of the graph); 600, 800 and 1,000 for none (0.993,
# 0.993, 0.994 on 100 other questions; p95 28, 36 and 40 ms): 800 keeps a margin on
# both sides (bench/RESULTS.md, docs/scaling.md).
HNSW_EF_PER_RESULT = 16
# pgvector's largest hnsw.ef_search; a starved search is retried once at this breadth.
HNSW_EF_SEARCH_MAX = 1000
# The first pgvector with iterative index scans (hnsw.iterative_scan).
ITERATIVE_SCANS_SINCE = (0, 8, 0)
# Whether each database's pgvector has them, asked once per process and database.
_iterative_scans_known: dict[tuple, bool] = {}


def pgvector_version(text: str) -> tuple[int, ...]:
    """``extversion``'s numbers ("0.8.5" -> (0, 8, 5)); () for an unexpected form."""
    parts = text.split(".")
    return tuple(int(part) for part in parts) if all(p.isdigit() for p in parts) else ()


def iterative_scans() -> bool:
    """Whether vector search uses pgvector's iterative index scans: asked for
    (``HNSW_ITERATIVE_SCAN`` not "off") and the database's pgvector has them (0.8 and
    later; an older one refuses the setting's name)."""
    if settings.HNSW_ITERATIVE_SCAN == "off":
        return False
    database = connection.settings_dict
    key = (connection.alias, database.get("HOST"), database.get("PORT"), database.get("NAME"))
    known = _iterative_scans_known.get(key)
    if known is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
        known = pgvector_version(row[0] if row else "") >= ITERATIVE_SCANS_SINCE
        _iterative_scans_known[key] = known
    return known


def _vector_sql(readers: ReaderScope) -> str:
    """The HNSW query. The index can only serve ``ORDER BY distance`` alone: with a
    tie-break in the same ORDER BY (``, c.id``), Postgres sorts every readable chunk
    instead (an exact scan, hundreds of ms at 100k chunks; bench/RESULTS.md). So the
    index orders the inner query and the outer one breaks ties by id, which keeps equal
    distances in a stable order. Chunks still waiting for their vector (searchable by
    keyword, ``ingestion.embedding_queue``) are not in the index and are left out."""
    return f"""
    SELECT nearest.id, 1 - nearest.distance AS score
      FROM (
            SELECT c.id, c.embedding <=> %(vector)s::vector AS distance
              FROM ingestion_chunk AS c
             WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
               AND c.embedding IS NOT NULL
          ORDER BY c.embedding <=> %(vector)s::vector
             LIMIT %(limit)s
           ) AS nearest
  ORDER BY nearest.distance, nearest.id
"""  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters


def _vector_exact_sql(readers: ReaderScope) -> str:
    """The same query, but ordering by an expression the HNSW index cannot serve, so
    Postgres computes the exact distance of every readable chunk in scope."""
    return f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c
     WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
       AND c.embedding IS NOT NULL
  ORDER BY (c.embedding <=> %(vector)s::vector) + 0, c.id
     LIMIT %(limit)s
"""  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters


def _vector_shared_sql(readers: ReaderScope) -> str:
    """The nearest chunks of the documents shared into the workspaces searched, not
    already in them: exact (a few documents' chunks), the second branch of
    ``vector_ranking``, so the HNSW query of the workspaces themselves is unchanged."""
    return f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c
     WHERE c.document_id = ANY(%(shared_documents)s::bigint[])
       AND NOT (c.workspace_id = ANY(%(workspaces)s)) AND {readers.sql("c")}
       AND c.embedding IS NOT NULL
  ORDER BY (c.embedding <=> %(vector)s::vector) + 0, c.id
     LIMIT %(limit)s
"""  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters


def _vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, cast to ``vector`` in the SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def scope_size(
    workspace_ids: Sequence[int],
    *,
    readers: ReaderScope | None = None,
    at_most: int | None = None,
) -> int:
    """How many chunks the workspaces hold; with ``readers``, how many of them it may read.

    Without ``readers`` the count is index-only (``chunk_workspace_length``); with them
    each chunk's readers are read, which costs more on a large workspace. With
    ``at_most`` counting stops there (the answer is then ``min(size, at_most)``), so
    asking whether a large workspace is small costs no more than counting a small one.
    """
    with connection.cursor() as cursor:
        readable = f" AND {readers.sql('c')}" if readers is not None else ""
        limited = " LIMIT %(at_most)s" if at_most is not None else ""
        sql = f"""
            SELECT count(*) FROM (
                SELECT 1 FROM ingestion_chunk AS c
                 WHERE c.workspace_id = ANY(%(workspaces)s){readable}{limited}
            ) AS counted
        """  # noqa: S608 - only fixed text is interpolated; inputs are bound parameters
        params = readers.params() if readers is not None else {}
        cursor.execute(sql, {"workspaces": list(workspace_ids), "at_most": at_most, **params})
        return int(cursor.fetchone()[0])


def vector_ranking(
    vector: Sequence[float],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    limit: int,
    exact: bool | None = None,
) -> list[Ranked]:
    """The nearest readable chunks of ``workspace_ids`` by cosine distance, nearest
    first (equal distances by chunk id), with those of the documents shared into them
    (``ReaderScope.shared_documents``): the workspaces' own ranking (``exact`` applies to
    it) merged with an exact ranking of the shared documents' chunks."""
    own = _vector_ranking_own(
        vector, workspace_ids=workspace_ids, readers=readers, limit=limit, exact=exact
    )
    if not readers.shared_documents or not workspace_ids:
        return own
    params = {
        "vector": _vector_literal(vector),
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_vector_shared_sql(readers), params)
        shared = [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]
    merged = sorted([*own, *shared], key=lambda r: (-r.score, r.chunk_id))
    return merged[:limit]


def _vector_ranking_own(
    vector: Sequence[float],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    limit: int,
    exact: bool | None = None,
) -> list[Ranked]:
    """The nearest readable chunks of ``workspace_ids`` themselves.

    pgvector filters HNSW results after the index scan, so a selective workspace or
    readers filter can leave fewer than ``limit`` results. Hence the strategy
    (docs/scaling.md): scopes of at most ``VECTOR_EXACT_MAX_CHUNKS`` chunks are searched
    exactly (all distances computed: perfect recall, and cheap at that size; the size is
    reused for a few minutes, ``_scope_chunks``); larger ones go through HNSW,
    ``HNSW_EF_PER_RESULT`` candidates deep per result asked for (at least
    ``HNSW_EF_SEARCH``). With iterative index scans (``iterative_scans``) the index
    scan goes on past that breadth until ``limit`` rows pass the filters (or
    ``HNSW_MAX_SCAN_TUPLES`` entries were visited); without them a short result is
    retried once at ``HNSW_EF_SEARCH_MAX``. Still short: exact search, so k readable
    results come back whenever k exist. ``exact`` forces one way, without the retries.
    """
    params = {
        "vector": _vector_literal(vector),
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    fallback = exact is None
    if exact is None:
        chunks = _scope_chunks(_Statistics(params, readers), params)
        exact = chunks <= settings.VECTOR_EXACT_MAX_CHUNKS
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            ef_search = min(
                max(settings.HNSW_EF_SEARCH, HNSW_EF_PER_RESULT * limit), HNSW_EF_SEARCH_MAX
            )
            breadths = [ef_search]
            if iterative_scans():
                # SET LOCAL, as below: the scan continues while the filters leave it
                # short; relaxed order, as the outer query sorts the rows again.
                cursor.execute(
                    "SELECT set_config('hnsw.iterative_scan', %s, true), "
                    "set_config('hnsw.max_scan_tuples', %s, true)",
                    [settings.HNSW_ITERATIVE_SCAN, str(settings.HNSW_MAX_SCAN_TUPLES)],
                )
            elif fallback and ef_search < HNSW_EF_SEARCH_MAX:
                breadths.append(HNSW_EF_SEARCH_MAX)
            for breadth in breadths:
                # set_config(..., true) is SET LOCAL: it ends with this transaction.
                cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(breadth)])
                cursor.execute(_vector_sql(readers), params)
                rows = cursor.fetchall()
                if len(rows) >= limit or not fallback:
                    return [Ranked(chunk_id, float(score)) for chunk_id, score in rows]
            # Still short: the filters starved the index scan (or the iterative scan
            # gave up), or fewer than ``limit`` chunks are readable at all; the exact
            # query tells which, and returns them.
        cursor.execute(_vector_exact_sql(readers), params)
        return [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]
