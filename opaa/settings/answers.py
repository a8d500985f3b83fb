"""Embeddings, retrieval and the LLM that writes answers."""

from django.core.exceptions import ImproperlyConfigured

from opaa.settings.env import env

# "local": a model shipped inside a wheel (no network; EMBEDDING_MODEL names it);
# "openai": any OpenAI-compatible /v1/embeddings endpoint.
EMBEDDING_PROVIDER = env.str("EMBEDDING_PROVIDER", default="local")
# The installation's model; organizations may choose another in the admin. Local:
# "all-MiniLM-L6-v2" (English, fastest) or "multilingual-e5-small" (German, English and
# ~100 more languages; a German question finds an English passage; 2-3x slower). A
# change re-embeds each organization in the background (docs/answers.md).
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="all-MiniLM-L6-v2")
EMBEDDING_API_BASE = env.str("EMBEDDING_API_BASE", default="")
EMBEDDING_API_KEY = env.str("EMBEDDING_API_KEY", default="")
# Fixed by the Chunk.embedding column; a model with another size needs a migration.
EMBEDDING_DIMENSIONS = 384
# Texts per batch of the local model at most: the texts embedded at once are sorted by
# length and split into batches of similar lengths (ingestion/embedding.py
# padding_groups). 8 measured best on 2 CPU cores (bench/embedding_throughput.py).
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=8)
# Threads of the local model per process; 0: the cores divided by the worker's
# processes (a Celery worker's concurrency), so N processes on N cores do not take the
# cores from each other. Set it when several workers share one machine's cores.
EMBEDDING_THREADS = env.int("EMBEDDING_THREADS", default=0)
# EMBEDDING_PROVIDER=openai: texts per request to the endpoint.
EMBEDDING_API_BATCH_SIZE = env.int("EMBEDDING_API_BATCH_SIZE", default=64)
# EMBEDDING_PROVIDER=openai: requests in flight at once per process, which hide the
# endpoint's latency; the embedding queue's batch fills them (ingestion/embedding_queue.py).
EMBEDDING_API_CONCURRENCY = env.int("EMBEDDING_API_CONCURRENCY", default=4)
# EMBEDDING_PROVIDER=openai: tries again of a request answered 429 or 5xx, or not at all,
# after a backoff (0.5, 1, 2 ... s, or the endpoint's Retry-After); then it fails.
EMBEDDING_API_RETRIES = env.int("EMBEDDING_API_RETRIES", default=4)
# Benchmarks only (bench/ingestion_workers.py): every process adds the seconds of each
# indexing and embedding stage to this Redis hash; empty: not measured.
STAGE_SECONDS_KEY = env.str("STAGE_SECONDS_KEY", default="")

# Tokens per chunk at most, as the local embedding models' own tokenizers count them;
# a chunk is also cut to fit, with its title and heading path, in every local model's
# window (MiniLM's 256 word pieces), so a larger value changes nothing by default.
CHUNK_MAX_TOKENS = env.int("CHUNK_MAX_TOKENS", default=256)
# The tokens (whole sentences) a chunk repeats from the end of the one before.
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=30)

RETRIEVAL_TOP_K = env.int("RETRIEVAL_TOP_K", default=6)
# The least HNSW search breadth (hnsw.ef_search): a query uses 16 per result it asks for
# when that is more (ingestion.index.vector_ranking); higher finds more true neighbours
# at some latency cost.
HNSW_EF_SEARCH = env.int("HNSW_EF_SEARCH", default=100)
# Scopes up to this many chunks are searched exactly (every distance computed): perfect
# recall under any workspace or reader filter, and a few milliseconds at this size.
VECTOR_EXACT_MAX_CHUNKS = env.int("VECTOR_EXACT_MAX_CHUNKS", default=20000)
# pgvector's iterative index scans (0.8 and later; ingestion.index.vector_ranking): a
# filtered HNSW search goes on past its breadth until k readable chunks are found.
# "relaxed_order" (the outer query sorts again), "strict_order", or "off": the breadth's
# candidates only, a wider retry and exact search when they are too few (as on an
# older pgvector, where this setting is not sent).
HNSW_ITERATIVE_SCAN = env.str("HNSW_ITERATIVE_SCAN", default="relaxed_order")
if HNSW_ITERATIVE_SCAN not in ("relaxed_order", "strict_order", "off"):
    raise ImproperlyConfigured(
        f"HNSW_ITERATIVE_SCAN is {HNSW_ITERATIVE_SCAN!r}: use relaxed_order, strict_order or off."
    )
# How many index entries an iterative scan may visit before giving up (pgvector's
# hnsw.max_scan_tuples); a scan that gives up is finished by exact search.
HNSW_MAX_SCAN_TUPLES = env.int("HNSW_MAX_SCAN_TUPLES", default=20000)
if HNSW_MAX_SCAN_TUPLES < 1:
    raise ImproperlyConfigured(f"HNSW_MAX_SCAN_TUPLES is {HNSW_MAX_SCAN_TUPLES}: use 1 or more.")

# Fusion of the keyword (BM25) and vector rankings (search/fusion.py): the weights
# multiply each ranker's confidence in the question (1:1 leaves it to the question, 1:0
# turns vector search off). FUSION_RRF_K no longer changes the ranking: only the older
# confidence measure of LLM answers reads it. Change the weights only when evaluation
# (manage.py evaluate --fusion-weights, bench/RESULTS.md) shows better for your documents.
FUSION_RRF_K = env.int("FUSION_RRF_K", default=60)
FUSION_KEYWORD_WEIGHT = env.float("FUSION_KEYWORD_WEIGHT", default=1.0)
FUSION_VECTOR_WEIGHT = env.float("FUSION_VECTOR_WEIGHT", default=1.0)
# Favour recently indexed documents: one this many days old counts half as much in
# ranking (0: off). Organizations may set their own.
RECENCY_HALF_LIFE_DAYS = env.float("RECENCY_HALF_LIFE_DAYS", default=0.0)
# An optional reranker: any endpoint speaking the /rerank protocol of Cohere, Jina,
# vLLM and LiteLLM (empty: no reranking).
RERANK_API_BASE = env.str("RERANK_API_BASE", default="")
RERANK_MODEL = env.str("RERANK_MODEL", default="")
RERANK_API_KEY = env.str("RERANK_API_KEY", default="")
RERANK_TIMEOUT_S = env.float("RERANK_TIMEOUT_S", default=10.0)

# Any OpenAI-compatible chat endpoint; empty LLM_API_BASE means extractive answers.
LLM_API_BASE = env.str("LLM_API_BASE", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=30.0)
# Optional LLM steps before the answer (docs/answers.md, "Query rewrite and LLM
# reranking"), off by default; organizations may switch each on or off. The rewrite asks
# for up to LLM_QUERY_REWRITE_ALTERNATIVES other queries and the question translated into
# the documents' main languages; reranking orders the best LLM_RERANK_CANDIDATES passages,
# each cut to LLM_RERANK_PASSAGE_CHARS characters. Each call gives up after
# LLM_STEP_TIMEOUT_S and the answer goes on without it.
LLM_QUERY_REWRITE = env.bool("LLM_QUERY_REWRITE", default=False)
LLM_QUERY_REWRITE_ALTERNATIVES = env.int("LLM_QUERY_REWRITE_ALTERNATIVES", default=2)
LLM_RERANK = env.bool("LLM_RERANK", default=False)
LLM_RERANK_CANDIDATES = env.int("LLM_RERANK_CANDIDATES", default=20)
LLM_RERANK_PASSAGE_CHARS = env.int("LLM_RERANK_PASSAGE_CHARS", default=700)
LLM_STEP_TIMEOUT_S = env.float("LLM_STEP_TIMEOUT_S", default=8.0)
# Prices in USD per million tokens, to record each answer's cost (0: not priced).
LLM_PROMPT_PRICE_PER_MILLION = env.float("LLM_PROMPT_PRICE_PER_MILLION", default=0.0)
LLM_COMPLETION_PRICE_PER_MILLION = env.float("LLM_COMPLETION_PRICE_PER_MILLION", default=0.0)

# Answers are cached per workspace until its index changes; 0 turns the cache off.
ANSWER_CACHE_TTL_S = env.int("ANSWER_CACHE_TTL_S", default=24 * 3600)

# Answer quality (analytics' golden questions): a run whose nDCG@10, recall@10 or share
# of correct answer/no-answer falls by more than this (0.05: five points) below the
# previous run's, on the questions both ran, shows a banner and is audited.
GOLDEN_DROP_THRESHOLD = env.float("GOLDEN_DROP_THRESHOLD", default=0.05)
