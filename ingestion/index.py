"""The index of a workspace's documents: written here, read by search.

This module owns what search reads: the chunks (text, heading path, vector, readers),
each chunk's ``search_vector``, the postings (``ingestion.models.Posting``, the
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
- A posting is one (chunk, word), written in the transaction that wrote the chunk and
  deleted by the database with it. Its ``tf`` is the number of positions of the word
  in ``search_vector``, whatever their weight (capped at 32767 for the column, far
  above the positions Postgres keeps per word).
- A chunk's ``lexeme_count``, its length in BM25, is the sum of its postings' ``tf``.
- Every write of a workspace's chunks or of their readers calls ``index_changed``, so
  answers cached from the old index are never served again.
- A chunk's vector may come after its text (``ingestion.embedding_queue``): BM25 finds
  a chunk once it is written, the vector ranking once it has a vector, and a document's
  words count from the moment it is ``searchable``.

Every query is restricted, inside its SQL, to the workspaces passed in and to the
chunks the asker may read (``workspaces.readers.ReaderScope``). BM25's collection
statistics (chunk count, mean length, document frequencies) are counted over exactly
those chunks: an unreadable document changes neither the candidates nor any score, so
its existence cannot be inferred from the results. One bounded exception, in scopes of
more than ``BM25_EXACT_MAX_CHUNKS`` chunks only: the document frequency of a word with
more than ``BM25_DEPTH`` postings is scaled from the workspace's posting count (see
``_bm25_pruned``).

A posting's ``impact`` is its BM25 weight without idf at a fixed reference length
(``_IMPACT_SQL``), written with it: the order in which the pruned query reads a word's
postings.

About 800 lines, on purpose: the writes and the queries above must agree on
those conventions, and they are kept in one module so that they are changed together.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingestion.chunking import ChunkDraft
from ingestion.language import paragraphs_by_language
from ingestion.models import Chunk, Document, DocumentShare
from workspaces.readers import ReaderScope

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

# Okapi BM25 parameters: the values of Robertson et al. that most systems use
# (Lucene, Anserini, bm25s); term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75

# Impact-ordered postings (docs/scaling.md, "Keyword side"). Each posting stores its BM25
# term weight without the idf, with this fixed reference length for the collection's
# mean, times 1,000 (``impact``, 0-2,200); the index ``posting_workspace_lexeme`` keeps a
# word's postings best first, so a large workspace's query reads only the
# ``BM25_DEPTH`` best postings of each word and scores those candidates exactly.
BM25_IMPACT_LENGTH = 100
_IMPACT_SQL = (
    f"round(1000 * p.tf::float8 * {BM25_K1 + 1} / (p.tf + {BM25_K1}"
    f" * (1 - {BM25_B} + {BM25_B} * c.lexeme_count / {BM25_IMPACT_LENGTH})))::smallint"
)
# Scopes (the workspaces searched) of at most this many chunks are scored exhaustively:
# every readable posting of the question's words, the statistics counted over exactly
# the readable chunks. Above, the pruned query (``_bm25_pruned_sql``).
BM25_EXACT_MAX_CHUNKS = 20_000
# Postings read per word and workspace by the pruned query, best impact first: at least
# this many, and one per ``BM25_DEPTH_PER_CHUNKS`` readable chunks of the scope, so that
# the first pass proves about as many questions in a large workspace as in a small one
# (at 1M chunks, a 500k workspace, 2,000 left 18 of 20 of the bench's questions to the
# MaxScore pass, 8,000 only 9: p50 336 -> 102 ms; bench/RESULTS.md).
BM25_DEPTH = 2_000
BM25_DEPTH_PER_CHUNKS = 64
# Candidates the pruned query scores exactly (at least this, and 4 per result asked).
BM25_RESCORE = 1_000
# The pruned query's first results are checked against the most a chunk it left out can
# score; below that bound, the exhaustive query runs instead.
BM25_SAFE_RESULTS = 10
# MaxScore's second pass (``_bm25_maxscore``) reads its essential words' postings
# completely unless they number more than this share of the readable chunks: then the
# exhaustive query, which joins them with the readable chunks in one pass, is cheaper.
BM25_MAXSCORE_SHARE = 0.5
# How long the pruned query reuses a large scope's statistics (Redis): its readable
# chunk count and mean length, and each frequent word's posting count.
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


# --- Writing: chunks, their words, the postings, the version -------------------------


def chunks_write(
    *,
    document: Document,
    drafts: list[ChunkDraft],
    vectors: Sequence[Sequence[float] | None],
    keys: list[str] | None = None,
    next_vectors: Sequence[Sequence[float] | None] | None = None,
) -> None:
    """Replace the document's chunks in one transaction (the caller holds it).

    ``vectors`` are by the organization's active embedding model; ``next_vectors``, while
    it moves to another one (``ingestion.embedding_index``), by that one. A vector may be
    None: the embedding queue makes it later (``ingestion.embedding_queue``).
    """
    chunks_replace(
        document=document, drafts=drafts, vectors=vectors, keys=keys, next_vectors=next_vectors
    )
    search_vector_write(document_id=document.pk)
    postings_write(document_id=document.pk)
    index_changed(workspace_id=document.workspace_id)


def chunks_replace(
    *,
    document: Document,
    drafts: list[ChunkDraft],
    vectors: Sequence[Sequence[float] | None],
    keys: list[str] | None = None,
    next_vectors: Sequence[Sequence[float] | None] | None = None,
) -> None:
    """Delete the document's chunks and insert ``drafts`` with their ``vectors`` (and
    ``next_vectors``, the next embedding model's, when given)."""
    Chunk.objects.filter(document=document).delete()
    nexts = next_vectors or [None] * len(drafts)
    Chunk.objects.bulk_create(
        Chunk(
            workspace_id=document.workspace_id,
            document=document,
            ordinal=draft.ordinal,
            text=draft.text,
            heading_path=list(draft.heading_path),
            token_count=draft.token_count,
            embedding=vector,
            embedding_next=next_vector,
            # No readers here: the database copies the document's current readers into
            # every chunk it inserts (ingestion migration 0009), so readers set while
            # this document was being embedded are the ones its chunks get.
            content_sha256=key,
        )
        for draft, vector, next_vector, key in zip(
            drafts, vectors, nexts, keys or [""] * len(drafts), strict=True
        )
    )


def search_vector_write(*, document_id: int) -> None:
    """Set the words keyword search sees on each of the document's chunks.

    Title and heading path (repeated in each chunk) are stemmed in the document's
    language (weight B); the chunk's text (weight D) paragraph by paragraph, each in
    its own language (``ingestion.language.paragraphs_by_language``): a translated
    paragraph keeps its stop words out and its neighbours keep theirs out too.
    """
    document = Document.objects.only("language").get(pk=document_id)
    groups: dict[str, tuple[list[int], list[str]]] = {}
    for chunk_id, text in Chunk.objects.filter(document_id=document_id).values_list("id", "text"):
        split = paragraphs_by_language(text, default=document.language)
        for config, body in split.items():
            ids, bodies = groups.setdefault(config, ([], []))
            ids.append(chunk_id)
            bodies.append(body)
    if not groups:
        return
    ids, bodies = groups.pop(document.language)
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


def postings_write(*, document_id: int) -> None:
    """Index the words of ``document_id``'s chunks (their ``search_vector`` must be set).

    Also stores each chunk's length in words, then each posting's ``impact`` from it
    (``_IMPACT_SQL``). Call inside the transaction that wrote the chunks; re-running it
    for unchanged chunks is harmless (old rows are replaced).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM search_posting
             WHERE chunk_id IN (SELECT id FROM ingestion_chunk WHERE document_id = %(doc)s)
            """,
            {"doc": document_id},
        )
        cursor.execute(
            """
            UPDATE ingestion_chunk AS c
               SET lexeme_count = COALESCE(
                       (SELECT sum(cardinality(t.positions)) FROM unnest(c.search_vector) AS t), 0)
             WHERE c.document_id = %(doc)s
            """,
            {"doc": document_id},
        )
        cursor.execute(
            f"""
            INSERT INTO search_posting (chunk_id, workspace_id, lexeme, tf, impact)
            SELECT c.id, c.workspace_id, t.lexeme, p.tf, {_IMPACT_SQL}
              FROM ingestion_chunk AS c, unnest(c.search_vector) AS t,
                   LATERAL (SELECT LEAST(cardinality(t.positions), 32767) AS tf) AS p
             WHERE c.document_id = %(doc)s
            """,  # noqa: S608 - module constants only
            {"doc": document_id},
        )


def _version_key(workspace_id: int) -> str:
    return f"index-version:{connection.schema_name}:{workspace_id}"


def index_version(workspace_id: int) -> int:
    """The workspace's index version (Redis); raises while Redis is unavailable."""
    return int(cache.get(_version_key(workspace_id), 0))


def index_changed(*, workspace_id: int) -> None:
    """Invalidate the workspace's cached answers once the current transaction commits,
    and those of the workspaces its documents are shared into (``ingestion.sharing``:
    a shared document's chunks are part of their answers too). The shares are read now,
    before a caller deletes them."""
    targets = set(
        DocumentShare.objects.filter(source_workspace_id=workspace_id)
        .values_list("workspace_id", flat=True)
        .distinct()
    )

    def bump() -> None:
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


def _bm25_sql(readers: ReaderScope) -> str:
    """The BM25 query; every table read is filtered by workspace and by ``readers``.

    Only module constants and fixed aliases are interpolated; every input is a bound
    parameter. The question's terms, the collection's size and the terms' document
    frequencies are computed once each (MATERIALIZED): inlined, a planner without
    statistics yet (a workspace just indexed, before autovacuum's ANALYZE) nests the
    document-frequency count inside the scan of the postings, and a question takes
    seconds instead of milliseconds (bench/RESULTS.md).

    The readable chunks are read once (``readable``, an index-only scan of the covering
    index ``chunk_workspace_bm25``, ingestion migration 0011) for the collection's
    statistics and for a hash join with the postings of the question's words; the
    readable postings (``hits``) then serve both the document frequencies and the
    scores. Before, each posting's chunk row was looked up twice, one index probe each:
    half the time at 100k chunks (bench/retrieval_scale.py).
    """
    return f"""
    WITH languages AS (
        -- The question is stemmed in every language the readable documents use.
        SELECT DISTINCT d.language::regconfig AS cfg
          FROM ingestion_document AS d
         WHERE {readers.within_sql("d", document_column="id")}
           AND d.status IN ('searchable', 'indexed')
           AND {readers.sql("d")}
    ),
    words AS MATERIALIZED (
        -- Each word of the question as each language stems it, by its position in the
        -- question (the same in every language: one parser; a stop word keeps its
        -- position but yields no lexeme).
        SELECT languages.cfg, t.lexeme, w.position
          FROM languages,
               unnest(to_tsvector(languages.cfg, %(text)s)) AS t,
               unnest(t.positions) AS w(position)
    ),
    query AS MATERIALIZED (
        -- A stop word of any of those languages is dropped in all of them: otherwise
        -- "who" or "about", kept by the French stemmer, would match only the odd text
        -- indexed as French, with the huge weight of a rare word.
        SELECT DISTINCT words.lexeme
          FROM words
         WHERE words.position IN (
                   SELECT kept.position FROM words AS kept
                GROUP BY kept.position
                  HAVING count(DISTINCT kept.cfg) = (SELECT count(*) FROM languages)
               )
    ),
    readable AS MATERIALIZED (
        -- The chunks the asker may read, with their lengths: read once, from the
        -- covering index, for both the collection's statistics and the postings' join.
        SELECT c.id, c.lexeme_count
          FROM ingestion_chunk AS c
         WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
        {_shared_readable(readers)}
    ),
    collection AS MATERIALIZED (
        SELECT count(*)::float AS n, GREATEST(avg(r.lexeme_count), 1)::float AS avgdl
          FROM readable AS r
    ),
    hits AS MATERIALIZED (
        SELECT p.chunk_id, p.lexeme, p.tf, r.lexeme_count
          FROM search_posting AS p
          JOIN query USING (lexeme)
          JOIN readable AS r ON r.id = p.chunk_id
         WHERE p.workspace_id = ANY({_posting_workspaces(readers)})
    ),
    df AS MATERIALIZED (
        SELECT hits.lexeme, count(*)::float AS df FROM hits GROUP BY hits.lexeme
    )
    SELECT scored.chunk_id, scored.score,
           (SELECT collection.n FROM collection),
           (SELECT json_object_agg(query.lexeme, COALESCE(df.df, 0))
              FROM query LEFT JOIN df USING (lexeme))
      FROM (
            SELECT hits.chunk_id,
                   sum(
                       ln(1 + (collection.n - df.df + 0.5) / (df.df + 0.5))
                     * hits.tf * ({BM25_K1} + 1)
                     / (hits.tf + {BM25_K1}
                        * (1 - {BM25_B} + {BM25_B} * hits.lexeme_count / collection.avgdl))
                   ) AS score
              FROM hits
              JOIN df USING (lexeme)
             CROSS JOIN collection
          GROUP BY hits.chunk_id
           ) AS scored
    -- Equal scores by chunk id: rounded first, since the sum's last bits depend on the
    -- order Postgres adds the terms in.
  ORDER BY round(scored.score::numeric, 9) DESC, scored.chunk_id
     LIMIT %(limit)s
"""  # noqa: S608


def bm25_opening_sql(readers: ReaderScope) -> str:
    """The opening of the BM25 query, for another query on the same words and chunks
    (``ingestion.coverage``): its CTEs ``languages``, ``words``, ``query`` (the question's
    words, ``%(text)s``) and ``readable`` (the chunks the asker may read in
    ``%(workspaces)s``, with their lengths), ending with a comma. The postings of those
    chunks lie in the workspaces ``posting_workspaces_sql`` names."""
    sql = _bm25_sql(readers)
    return sql[: sql.index("    collection AS MATERIALIZED")]


def posting_workspaces_sql(readers: ReaderScope) -> str:
    """The workspaces whose postings the readable chunks of ``bm25_opening_sql`` have."""
    return _posting_workspaces(readers)


def _shared_readable(readers: ReaderScope) -> str:
    """BM25's second branch of the readable chunks: those of documents shared into the
    workspaces searched (``ingestion.sharing``), found by document, not already in them.
    Empty when nothing is shared, so the usual query is unchanged."""
    if not readers.shared_documents:
        return ""
    return f"""
        UNION ALL
        SELECT c.id, c.lexeme_count
          FROM ingestion_chunk AS c
         WHERE c.document_id = ANY(%(shared_documents)s::bigint[])
           AND NOT (c.workspace_id = ANY(%(workspaces)s)) AND {readers.sql("c")}"""  # noqa: S608 - a fixed alias


def _posting_workspaces(readers: ReaderScope) -> str:
    """The workspaces whose postings BM25 reads: those searched, and the workspaces of
    the documents shared into them (the join with ``readable`` keeps only their chunks)."""
    if not readers.shared_documents:
        return "%(workspaces)s"
    return (
        "%(workspaces)s::bigint[] || ARRAY(SELECT DISTINCT d.workspace_id"
        " FROM ingestion_document AS d WHERE d.id = ANY(%(shared_documents)s::bigint[]))"
    )


def bm25_ranking(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> list[Ranked]:
    """The ``limit`` best chunks of ``workspace_ids`` that ``readers`` may read, by BM25
    (``bm25_search`` without its statistics)."""
    return bm25_search(query, workspace_ids=workspace_ids, readers=readers, limit=limit)[0]


def bm25_search(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> tuple[list[Ranked], WordStatistics | None]:
    """The ``limit`` best chunks of ``workspace_ids`` that ``readers`` may read, by BM25,
    and the statistics it scored them with (None when nothing matched), so that the
    question's coverage (``ingestion.coverage``) does not count them a second time.

    Scopes of at most ``BM25_EXACT_MAX_CHUNKS`` chunks, and any search that includes
    documents shared into the workspaces, are scored exhaustively (``_bm25_sql``); larger
    ones by the pruned query (``_bm25_pruned``), which falls back to the exhaustive one
    when its candidates hold fewer than ``limit`` readable chunks.
    """
    if not query.strip() or not workspace_ids:
        return [], None
    params = {
        "text": query,
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    if not readers.shared_documents:
        statistics = _Statistics(params, readers)
        size = statistics.get(
            "scope", lambda: scope_size(workspace_ids, at_most=BM25_EXACT_MAX_CHUNKS + 1)
        )
        if size > BM25_EXACT_MAX_CHUNKS:
            pruned = _bm25_pruned(params, readers=readers, limit=limit, statistics=statistics)
            if pruned is not None:
                return pruned
    with connection.cursor() as cursor:
        cursor.execute(_bm25_sql(readers), params)
        rows = cursor.fetchall()
    if not rows:
        return [], None
    counted = WordStatistics(
        float(rows[0][2]), {lexeme: float(df) for lexeme, df in (rows[0][3] or {}).items()}
    )
    return [Ranked(chunk_id, float(score)) for chunk_id, score, *_ in rows], counted


def _bm25_languages_sql(readers: ReaderScope) -> str:
    """The languages of the readable documents (``languages`` in ``_bm25_sql``)."""
    sql = _bm25_sql(readers)
    head = sql[: sql.index("    words AS MATERIALIZED")].rstrip().rstrip(",")
    return head + "\n    SELECT languages.cfg::text FROM languages ORDER BY 1"  # noqa: S608


def _bm25_terms_sql(readers: ReaderScope) -> str:
    """The question's words (``query`` in ``_bm25_sql``), stemmed in the languages
    given (``%(languages)s``) instead of those counted from the documents."""
    sql = _bm25_sql(readers)
    head = sql[sql.index("    words AS MATERIALIZED") : sql.index("    readable AS MATERIALIZED")]
    languages = "SELECT cfg FROM unnest(%(languages)s::text[]::regconfig[]) AS l(cfg)"
    words = head.rstrip().rstrip(",")
    tail = "SELECT query.lexeme FROM query ORDER BY query.lexeme"
    return f"WITH languages AS ({languages}),\n{words}\n    {tail}"


class _Statistics:
    """What the pruned query reuses for ``BM25_STATISTICS_SECONDS`` (Redis), per
    organization, scope and reader: fetched in one round trip per question (most of a
    question's time on a loaded machine is waiting for its turn, once per round trip).
    Computed each time while Redis is unavailable."""

    def __init__(self, params: dict, readers: ReaderScope) -> None:
        scope = ",".join(str(w) for w in sorted(params["workspaces"]))
        who = hashlib.sha256(
            repr((sorted(readers.principals), sorted(readers.all_in_workspaces))).encode()
        ).hexdigest()[:24]
        self.prefix = f"bm25:{connection.schema_name}:{scope}:{BM25_EXACT_MAX_CHUNKS}"
        self.reader = who
        names = ("scope", "languages", "collection")
        self.values = self._get_many({name: self.key(name) for name in names})

    def key(self, name: str) -> str:
        if name == "scope":
            return f"{self.prefix}:scope"
        return f"{self.prefix}:{self.reader}:{name}"

    @staticmethod
    def _get_many(keys: dict[str, str]) -> dict:
        try:
            found = cache.get_many(list(keys.values()))
        except _REDIS_DOWN:
            return {}
        return {name: found[key] for name, key in keys.items() if key in found}

    def get(self, name: str, compute):
        if name not in self.values:
            self.values[name] = compute()
            with contextlib.suppress(*_REDIS_DOWN):
                cache.set(self.key(name), self.values[name], timeout=BM25_STATISTICS_SECONDS)
        return self.values[name]

    def counts(self, workspace_id: int, lexemes: Sequence[str]) -> dict[str, int]:
        """The cached posting counts of ``lexemes`` in ``workspace_id``."""
        keys = {lexeme: self._count_key(workspace_id, lexeme) for lexeme in lexemes}
        return self._get_many(keys)

    def counts_set(self, workspace_id: int, counts: dict[str, int]) -> None:
        with contextlib.suppress(*_REDIS_DOWN):
            cache.set_many(
                {self._count_key(workspace_id, lexeme): n for lexeme, n in counts.items()},
                timeout=BM25_STATISTICS_SECONDS,
            )

    @staticmethod
    def _count_key(workspace_id: int, lexeme: str) -> str:
        digest = hashlib.sha256(lexeme.encode()).hexdigest()[:24]
        return f"bm25-df:{connection.schema_name}:{workspace_id}:{digest}"


def _bm25_pruned(
    params: dict, *, readers: ReaderScope, limit: int, statistics: _Statistics
) -> tuple[list[Ranked], WordStatistics | None] | None:
    """BM25 over a large scope without reading every posting of the question's words.

    1. The languages of the readable documents (the question is stemmed in each) and
       the collection's size and mean length, counted over the readable chunks as the
       exhaustive query does, but reused for ``BM25_STATISTICS_SECONDS`` per scope and
       reader (a few minutes' writes change them by a fraction of a percent).
    2. Each word's postings in each workspace: counted up to ``BM25_DEPTH`` (a word that
       has no more is read completely and its document frequency counted exactly, over
       the readable chunks); a frequent word's total is counted in full. Both reused
       like the statistics.
    3. ``_bm25_pruned_sql``: the ``depth`` best postings of each word by impact (at
       least ``BM25_DEPTH``, more in a large scope: ``BM25_DEPTH_PER_CHUNKS``);
       the readable ones are the candidates, ranked by idf x impact; the best
       ``BM25_RESCORE`` are scored exactly from their postings. A frequent word's
       readable document frequency is its total times the readable share of the
       postings read.

    4. When the ``BM25_SAFE_RESULTS``-th score is below the most a chunk left out could
       score (``bound`` in the SQL), a second pass, MaxScore (``_bm25_maxscore``), with
       that score as its threshold: it reads completely only the words a chunk must
       have to reach it, and looks up the others by chunk.

    Returns None when the candidates hold fewer than ``limit`` readable chunks while a
    word was cut short, or when MaxScore's words are too frequent to read one by one:
    the caller then runs the exhaustive query. So the first ten results are those of the
    exhaustive query (up to the cached statistics); the rest of the ``limit`` may differ.
    """
    with connection.cursor() as cursor:
        lexemes = _question_words(cursor, params, readers, statistics)
        if not lexemes:
            return [], None
        n, avgdl = _collection(cursor, params, readers, statistics)
        if not n:
            return [], None
        depth = max(BM25_DEPTH, int(n) // BM25_DEPTH_PER_CHUNKS)
        totals, cut = _word_totals(cursor, params, lexemes, statistics, depth=depth)
        counted = WordStatistics(n, {lexeme: float(count) for lexeme, count in totals.items()})
        reads_all = set(params["workspaces"]) <= set(readers.all_in_workspaces)
        cursor.execute(
            _bm25_pruned_sql(readers, reads_all=reads_all, cut=bool(cut)),
            {
                **params,
                "lexemes": lexemes,
                "cut": sorted(cut),
                "totals": [totals[lexeme] for lexeme in lexemes],
                "n": n,
                "avgdl": avgdl,
                "depth": depth,
                "rescore": max(BM25_RESCORE, 4 * limit),
            },
        )
        rows = cursor.fetchall()
        if cut and len(rows) < limit:
            return None
        ranked = [Ranked(chunk_id, float(score)) for chunk_id, score, *_ in rows]
        # The first results must be exact: a chunk left out could outscore them.
        safe = min(limit, BM25_SAFE_RESULTS)
        if not cut or not rows or rows[safe - 1][1] >= rows[0][2]:
            return ranked, counted
        second = _bm25_maxscore(
            cursor,
            params,
            readers=readers,
            ranked=ranked,
            words=rows[0][3],
            threshold=float(rows[safe - 1][1]),
            readable=n,
            avgdl=avgdl,
            limit=limit,
            statistics=statistics,
        )
        return None if second is None else (second, counted)


def _bm25_maxscore(
    cursor,
    params: dict,
    *,
    readers: ReaderScope,
    ranked: list[Ranked],
    words: dict,
    threshold: float,
    readable: float,
    avgdl: float,
    limit: int,
    statistics: _Statistics,
) -> list[Ranked] | None:
    """The pruned query's second pass when its first could not prove its top 10:
    MaxScore (Turtle and Flood, 1995) with the first pass's 10th exact score as the
    threshold. Every word can add at most its idf times its best impact (the first
    posting of its list) to a chunk's score; the least frequent words whose maxima sum
    to less than the threshold are "non-essential": a chunk with none of the other,
    essential words scores below the threshold and cannot be in the top 10. So only the
    essential words' postings are read, completely, and only the chunks that can still
    reach the threshold are completed with their non-essential words (looked up by
    chunk). The result's first ten are exact, as the exhaustive query's.

    ``words``: each word's idf and best impact, from the first pass. None (the caller
    runs the exhaustive query) when the essential words have more postings than
    ``BM25_MAXSCORE_SHARE`` times the ``readable`` chunks: reading them one by one is
    then no cheaper than the exhaustive query's one pass over the readable chunks."""
    factor = max(1.0, avgdl / BM25_IMPACT_LENGTH)
    maxima = sorted(
        (idf * (impact + 1) * factor / 1000, lexeme) for lexeme, (idf, impact) in words.items()
    )
    rest = 0.0
    essential: list[str] = []
    nonessential: list[str] = []
    for most, lexeme in maxima:
        if not essential and rest + most < threshold:
            rest += most
            nonessential.append(lexeme)
        else:
            essential.append(lexeme)
    totals, _ = _word_totals(cursor, params, essential, statistics)
    if sum(totals.values()) > BM25_MAXSCORE_SHARE * readable:
        return None
    cursor.execute(
        _bm25_maxscore_sql(readers),
        {
            **params,
            "lexemes": list(words),
            "idfs": [float(idf) for idf, _ in words.values()],
            "essential": essential,
            "nonessential": nonessential,
            "rest": rest,
            "threshold": threshold,
            "avgdl": avgdl,
        },
    )
    found = {chunk_id: float(score) for chunk_id, score in cursor.fetchall()}
    for item in ranked:
        found.setdefault(item.chunk_id, item.score)
    best = sorted(found.items(), key=lambda pair: (-round(pair[1], 9), pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in best[:limit]]


def _bm25_maxscore_sql(readers: ReaderScope) -> str:
    """MaxScore's pass (``_bm25_maxscore``); every input is a bound parameter.

    ``hits``: every posting of the essential words in the workspaces searched whose
    chunk the asker may read (looked up in ``chunk_workspace_bm25``, which also gives
    the chunk's length); ``partial``: their chunks' scores from those words, kept only
    when adding the most the non-essential words can give (``%(rest)s``) reaches the
    threshold; ``completed``: those chunks' postings of the non-essential words (by
    chunk, ``posting_chunk``)."""
    weight = (
        f"idf.idf * {{tf}} * ({BM25_K1} + 1) / ({{tf}} + {BM25_K1}"
        f" * (1 - {BM25_B} + {BM25_B} * {{length}} / %(avgdl)s))"
    )
    return f"""
    WITH idf AS (
        SELECT t.lexeme, t.idf
          FROM unnest(%(lexemes)s::text[], %(idfs)s::float8[]) AS t(lexeme, idf)
    ),
    hits AS MATERIALIZED (
        SELECT p.chunk_id, p.lexeme, p.tf, c.lexeme_count
          FROM search_posting AS p
          JOIN ingestion_chunk AS c ON c.workspace_id = p.workspace_id AND c.id = p.chunk_id
         WHERE p.workspace_id = ANY(%(workspaces)s) AND p.lexeme = ANY(%(essential)s::text[])
           AND {readers.sql("c")}
    ),
    partial AS MATERIALIZED (
        SELECT hits.chunk_id, min(hits.lexeme_count) AS lexeme_count,
               sum({weight.format(tf="hits.tf", length="hits.lexeme_count")}) AS score
          FROM hits JOIN idf USING (lexeme)
      GROUP BY hits.chunk_id
        HAVING sum({weight.format(tf="hits.tf", length="hits.lexeme_count")}) + %(rest)s
               >= %(threshold)s - 0.000001
    ),
    completed AS (
        -- Summed, not joined back to ``partial``: the planner, which cannot estimate
        -- these rows, would compare every pair.
        SELECT partial.chunk_id, partial.score FROM partial
         UNION ALL
        SELECT partial.chunk_id, {weight.format(tf="p.tf", length="partial.lexeme_count")}
          FROM partial
          JOIN search_posting AS p ON p.chunk_id = partial.chunk_id
          JOIN idf ON idf.lexeme = p.lexeme
         WHERE p.lexeme = ANY(%(nonessential)s::text[])
    )
    SELECT completed.chunk_id, sum(completed.score) FROM completed GROUP BY completed.chunk_id
"""  # noqa: S608 - module constants and fixed aliases


def bm25_question_statistics(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope
) -> tuple[float, dict[str, float]] | None:
    """For a scope BM25 ranks with its pruned query: the readable chunks' count and each
    of the question's words' posting count in the scope, as the pruned query keeps them
    (reused for ``BM25_STATISTICS_SECONDS``; a word's count is per workspace, not per
    reader). None for a scope ranked exhaustively, where the caller counts exactly over
    the readable chunks (``ingestion.coverage``). Costs a question about one Redis round
    trip and the stemming of its words once the statistics are cached."""
    if not query.strip() or not workspace_ids or readers.shared_documents:
        return None
    params = {"text": query, "workspaces": list(workspace_ids), **readers.params()}
    statistics = _Statistics(params, readers)
    size = statistics.get(
        "scope", lambda: scope_size(workspace_ids, at_most=BM25_EXACT_MAX_CHUNKS + 1)
    )
    if size <= BM25_EXACT_MAX_CHUNKS:
        return None
    with connection.cursor() as cursor:
        lexemes = _question_words(cursor, params, readers, statistics)
        n, _ = _collection(cursor, params, readers, statistics)
        totals, _ = _word_totals(cursor, params, lexemes, statistics)
    return n, {lexeme: float(count) for lexeme, count in totals.items()}


def _question_words(
    cursor, params: dict, readers: ReaderScope, statistics: _Statistics
) -> list[str]:
    """The question's words, stemmed in the languages of the readable documents (those
    languages reused from ``statistics``)."""

    def languages() -> list[str]:
        cursor.execute(_bm25_languages_sql(readers), params)
        return [row[0] for row in cursor.fetchall()]

    cursor.execute(
        _bm25_terms_sql(readers),
        {**params, "languages": statistics.get("languages", languages)},
    )
    return [row[0] for row in cursor.fetchall()]


def _collection(
    cursor, params: dict, readers: ReaderScope, statistics: _Statistics
) -> tuple[float, float]:
    """The readable chunks' count and mean length in words (reused from ``statistics``)."""

    def count() -> tuple[float, float]:
        cursor.execute(
            f"""
            SELECT count(*)::float, GREATEST(avg(c.lexeme_count), 1)::float
              FROM ingestion_chunk AS c
             WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
            """,  # noqa: S608 - a fixed alias
            params,
        )
        n, avgdl = cursor.fetchone()
        return float(n), float(avgdl)

    return statistics.get("collection", count)


def _word_totals(
    cursor,
    params: dict,
    lexemes: Sequence[str],
    statistics: _Statistics,
    *,
    depth: int | None = None,
) -> tuple[dict[str, int], set[str]]:
    """Each word's postings in the workspaces searched (cached per workspace; exact
    counts), and the words that have more than ``depth`` (``BM25_DEPTH`` by default) in
    one of them (read only in part)."""
    depth = BM25_DEPTH if depth is None else depth
    totals: dict[str, int] = dict.fromkeys(lexemes, 0)
    cut: set[str] = set()
    for workspace_id in params["workspaces"]:
        counts = statistics.counts(workspace_id, lexemes)
        missing = [lexeme for lexeme in lexemes if lexeme not in counts]
        if missing:
            counts.update(_posting_counts(cursor, workspace_id, missing))
            statistics.counts_set(workspace_id, {m: counts[m] for m in missing})
        for lexeme in lexemes:
            totals[lexeme] += counts[lexeme]
            if counts[lexeme] > depth:
                cut.add(lexeme)
    return totals, cut


def _posting_counts(cursor, workspace_id: int, lexemes: Sequence[str]) -> dict[str, int]:
    """How many postings each word has in the workspace: counted up to one more than
    ``BM25_DEPTH``, and in full only for the words that have more."""
    cursor.execute(
        """
        SELECT t.lexeme, (
               SELECT count(*) FROM (
                   SELECT 1 FROM search_posting AS p
                    WHERE p.workspace_id = %(workspace)s AND p.lexeme = t.lexeme
                    LIMIT %(cap)s
               ) AS counted)
          FROM unnest(%(lexemes)s::text[]) AS t(lexeme)
        """,
        {"lexemes": list(lexemes), "workspace": workspace_id, "cap": BM25_DEPTH + 1},
    )
    counts = dict(cursor.fetchall())
    for lexeme, count in counts.items():
        if count > BM25_DEPTH:
            cursor.execute(
                "SELECT count(*) FROM search_posting AS p"
                " WHERE p.workspace_id = %s AND p.lexeme = %s",
                [workspace_id, lexeme],
            )
            counts[lexeme] = int(cursor.fetchone()[0])
    return counts


def _bm25_pruned_sql(readers: ReaderScope, *, reads_all: bool = False, cut: bool = True) -> str:
    """The pruned BM25 query (``_bm25_pruned``); every input is a bound parameter.

    ``top`` reads each word's ``%(depth)s`` best postings per workspace from the index
    ``posting_workspace_lexeme`` (workspace, word, impact descending); ``checked`` looks
    up each one's chunk in the covering index ``chunk_workspace_bm25`` for its readers.
    A word read completely (fewer postings than its total) has its exact readable
    document frequency; a frequent one its total times the readable share read. The
    candidates' exact scores come from their postings: those read, and for a word cut
    short a look-up by chunk (``posting_chunk``; a chunk's postings share a page or two).

    ``reads_all``: the reader reads every chunk of the workspaces searched (their admin),
    so the postings read need no look-up of their chunks' readers.
    """
    checked = (
        "SELECT top.lexeme, top.chunk_id, top.impact, top.tf, true AS readable FROM top"
        if reads_all
        else f"""
        SELECT top.lexeme, top.chunk_id, top.impact, top.tf, {readers.sql("c")} AS readable
          FROM top
          JOIN ingestion_chunk AS c ON c.workspace_id = top.workspace_id AND c.id = top.chunk_id
    """  # noqa: S608 - a fixed alias
    )
    # Without a word cut short, every candidate's postings were read: no look-up.
    looked_up = (
        """UNION
        SELECT p.chunk_id, p.lexeme, p.tf
          FROM candidates JOIN search_posting AS p ON p.chunk_id = candidates.chunk_id
         WHERE p.lexeme = ANY(%(cut)s::text[])"""
        if cut
        else ""
    )
    return f"""
    WITH terms AS (
        SELECT t.lexeme, t.total
          FROM unnest(%(lexemes)s::text[], %(totals)s::bigint[]) AS t(lexeme, total)
    ),
    top AS MATERIALIZED (
        SELECT terms.lexeme, p.workspace_id, p.chunk_id, p.impact, p.tf
          FROM terms
         CROSS JOIN unnest(%(workspaces)s::bigint[]) AS w(id)
         CROSS JOIN LATERAL (
               SELECT p.workspace_id, p.chunk_id, p.impact, p.tf
                 FROM search_posting AS p
                WHERE p.workspace_id = w.id AND p.lexeme = terms.lexeme
             ORDER BY p.impact DESC
                LIMIT %(depth)s
               ) AS p
    ),
    checked AS MATERIALIZED ({checked}),
    df AS MATERIALIZED (
        SELECT terms.lexeme,
               CASE WHEN count(*) < terms.total
                    THEN terms.total * count(*) FILTER (WHERE checked.readable)::float
                         / count(*)
                    ELSE count(*) FILTER (WHERE checked.readable)::float
               END AS df
          FROM terms JOIN checked USING (lexeme)
      GROUP BY terms.lexeme, terms.total
    ),
    idf AS MATERIALIZED (
        SELECT df.lexeme, ln(1 + (%(n)s - df.df + 0.5) / (df.df + 0.5)) AS idf
          FROM df WHERE df.df > 0
    ),
    candidates AS MATERIALIZED (
        -- With their postings read (as arrays: joined back to ``checked``, the planner,
        -- which cannot estimate these rows, compared every pair).
        SELECT checked.chunk_id, array_agg(checked.lexeme) AS lexemes,
               array_agg(checked.tf) AS tfs, sum(idf.idf * checked.impact) AS approx
          FROM checked JOIN idf USING (lexeme)
         WHERE checked.readable
      GROUP BY checked.chunk_id
      ORDER BY sum(idf.idf * checked.impact) DESC, checked.chunk_id
         LIMIT %(rescore)s
    ),
    bound AS MATERIALIZED (
        -- The most a chunk left out can score (MaxScore's bound): what it can have in
        -- the words cut short, at most the last impact read of each, plus, for a chunk
        -- that was read but not scored exactly, the last candidate's estimate; times
        -- the most the mean length can raise a weight over the reference length's.
        SELECT GREATEST(1, %(avgdl)s / {BM25_IMPACT_LENGTH}) * (
                   COALESCE((SELECT sum(idf.idf * last.impact)
                               FROM (SELECT top.lexeme, min(top.impact) AS impact
                                       FROM top WHERE top.lexeme = ANY(%(cut)s::text[])
                                   GROUP BY top.lexeme) AS last
                               JOIN idf USING (lexeme)), 0)
                 + CASE WHEN (SELECT count(*) FROM candidates) >= %(rescore)s
                        THEN (SELECT min(candidates.approx) FROM candidates) ELSE 0 END
               ) / 1000 + 0.001 AS score
    ),
    found AS (
        -- A candidate's postings of the question's words: those read above, and for a
        -- word cut short (``%(cut)s``) its posting looked up by chunk (if it has one).
        SELECT candidates.chunk_id, read.lexeme, read.tf
          FROM candidates, unnest(candidates.lexemes, candidates.tfs) AS read(lexeme, tf)
        {looked_up}
    ),
    words AS MATERIALIZED (
        SELECT found.chunk_id, c.lexeme_count, found.lexeme, found.tf
          FROM found JOIN ingestion_chunk AS c ON c.id = found.chunk_id
    )
    SELECT scored.chunk_id, scored.score, (SELECT bound.score FROM bound),
           (SELECT json_object_agg(idf.lexeme, json_build_array(idf.idf, best.impact))
              FROM idf
              JOIN (SELECT top.lexeme, max(top.impact) AS impact FROM top GROUP BY top.lexeme)
                   AS best USING (lexeme))
      FROM (
            SELECT words.chunk_id,
                   sum(
                       idf.idf * words.tf * ({BM25_K1} + 1)
                     / (words.tf + {BM25_K1}
                        * (1 - {BM25_B} + {BM25_B} * words.lexeme_count / %(avgdl)s))
                   ) AS score
              FROM words
              JOIN idf USING (lexeme)
          GROUP BY words.chunk_id
           ) AS scored
  ORDER BY round(scored.score::numeric, 9) DESC, scored.chunk_id
     LIMIT %(limit)s
"""  # noqa: S608


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

    The pgvector in use filters HNSW results after the index scan, so a selective
    workspace or readers filter can leave fewer than ``limit`` results. Hence the
    strategy (docs/scaling.md): scopes of at most ``VECTOR_EXACT_MAX_CHUNKS`` chunks are
    searched exactly (all distances computed: perfect recall, and cheap at that size);
    larger ones go through HNSW, ``HNSW_EF_PER_RESULT`` candidates deep per result
    asked for (at least ``HNSW_EF_SEARCH``), once more at ``HNSW_EF_SEARCH_MAX`` if that
    returns fewer than ``limit``, and exactly if that is still short (so k readable
    results come back whenever k exist). ``exact`` forces one way, without the retries.
    """
    params = {
        "vector": _vector_literal(vector),
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    fallback = exact is None
    if exact is None:
        threshold = settings.VECTOR_EXACT_MAX_CHUNKS
        exact = scope_size(workspace_ids, at_most=threshold + 1) <= threshold
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            ef_search = min(
                max(settings.HNSW_EF_SEARCH, HNSW_EF_PER_RESULT * limit), HNSW_EF_SEARCH_MAX
            )
            breadths = [ef_search]
            if fallback and ef_search < HNSW_EF_SEARCH_MAX:
                breadths.append(HNSW_EF_SEARCH_MAX)
            for breadth in breadths:
                # set_config(..., true) is SET LOCAL: it ends with this transaction.
                cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(breadth)])
                cursor.execute(_vector_sql(readers), params)
                rows = cursor.fetchall()
                if len(rows) >= limit or not fallback:
                    return [Ranked(chunk_id, float(score)) for chunk_id, score in rows]
            # Still short: the filters starved the index scan, or fewer than ``limit``
            # chunks are readable at all; the exact query tells which, and returns them.
        cursor.execute(_vector_exact_sql(readers), params)
        return [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]
