"""Redis (cache, broker) and Celery."""

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from opaa.settings.env import DATA_DIR, env


def redis_url() -> str:
    """``REDIS_URL`` when set; otherwise the embedded Redis under ``OPAA_DATA_DIR``."""
    url = env.str("REDIS_URL", default="")
    if url:
        return url
    if not env.bool("OPAA_EMBEDDED_SERVICES", default=True):
        raise ImproperlyConfigured("Set REDIS_URL (embedded services are disabled).")
    from opaa.embedded import redis_start

    return redis_start(DATA_DIR / "redis")


REDIS_URL = redis_url()

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "opaa",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task ran, so a worker killed mid-task leaves it to be redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Indexing one document (parse, chunk, embed, write) is stopped after this many seconds
# and the document ends "failed" with the reason; a hostile file cannot hold a worker.
INDEX_TIME_LIMIT_S = env.int("INDEX_TIME_LIMIT_S", default=600)
# How many of one worker's indexing slots (its concurrency N) one organization may hold
# at once, so another organization's upload never waits behind a large batch; 0: all but
# one (N - 1, at least 1), or all N in an installation of one organization
# (ingestion/fairness.py).
INDEX_SLOTS_PER_ORGANIZATION = env.int("INDEX_SLOTS_PER_ORGANIZATION", default=0)
# A document whose original is at most this many bytes (its text written within about
# a second) may take the slot kept free for other organizations while none of them has
# a document waiting: one organization's batch of pages then uses every process of an
# idle worker, and another organization's next page waits for one such document at
# most; embedding tasks are lent it for a one-second slice (ingestion/fairness.py). 0:
# never lent.
INDEX_LEND_MAX_BYTES = env.int("INDEX_LEND_MAX_BYTES", default=65536)
# A document's text and words are written first, and it is found by keyword at once
# ("searchable"); its vectors follow from the "embed" queue, batched across documents
# (ingestion/embedding_queue.py). True: embed before writing, as before issue 17 (the
# document is found only once every chunk is embedded; bench/time_to_searchable.py's
# baseline).
INDEX_EMBED_INLINE = env.bool("INDEX_EMBED_INLINE", default=False)
# Chunks embedded and committed at a time by the embedding queue, from any of the
# organization's documents: a few model batches (EMBEDDING_BATCH_SIZE), a few seconds
# on 2 busy cores, so a task hands over soon after EMBED_TASK_SECONDS.
EMBED_BATCH_CHUNKS = env.int("EMBED_BATCH_CHUNKS", default=16)
# How long one embedding task runs before it hands over to its organization's next
# one at the back of the queue: another organization's vectors wait about that long.
EMBED_TASK_SECONDS = env.float("EMBED_TASK_SECONDS", default=5.0)
# A worker that consumes "ingest" also consumes "embed" (development, `make run`, one
# worker for everything). Set it false on the ingest workers of a deployment that runs
# dedicated embedding workers (`celery worker -Q embed`; docs/deployment.md).
WORKER_EMBED_WITH_INGEST = env.bool("WORKER_EMBED_WITH_INGEST", default=True)
# With Redis as broker, a task taken by a worker that died (SIGKILL, out of memory, a
# lost node) goes back to its queue only after this many seconds (Redis' default: one
# hour). It must outlast what a live worker holds a message for, or the message would
# run twice: a whole indexing (hard limit INDEX_TIME_LIMIT_S + 60) and the longest retry
# countdown (10 minutes, Celery's retry_backoff_max), plus a margin.
BROKER_VISIBILITY_TIMEOUT_S = env.int(
    "BROKER_VISIBILITY_TIMEOUT_S", default=max(INDEX_TIME_LIMIT_S + 60, 600) + 120
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_S,
    # Look for such messages every 10 s (by default only every 10th sweep looks): one
    # cheap Redis query, and a dead worker's task is back soon after the timeout.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# A worker process whose memory grew past this (KiB) is replaced after its task.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("WORKER_MAX_MEMORY_KIB", default=2_000_000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes a worker's database connection before and after every
# task unless this is set, and then only every this many tasks; infra/celery.py closes
# it instead as Django does around a request (older than DATABASE_CONN_MAX_AGE, broken,
# or in a transaction), so a pool process keeps one connection from task to task.
CELERY_DB_REUSE_MAX = 1_000_000
# Fetching from sources (network and disk bound) and parsing/embedding (CPU bound) have
# their own queues, so a slow source never holds back indexing. Exact names win over globs.
CELERY_TASK_ROUTES = {
    "ingestion.tasks.sync_source": {"queue": "fetch"},
    "ingestion.tasks.sources_sync_due": {"queue": "default"},
    "ingestion.tasks.organization_sources_sync_due": {"queue": "default"},
    "ingestion.tasks.originals_sweep_all": {"queue": "default"},
    "ingestion.tasks.embedding_moves_due_all": {"queue": "default"},
    # Vectors of chunks already searchable by keyword (ingestion/embedding_queue.py).
    "ingestion.tasks.embed_chunks": {"queue": "embed"},
    "ingestion.tasks.*": {"queue": "ingest"},
}
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "opaa.health.worker_heartbeat", "schedule": 15.0},
    # The Matrix bots' /sync: one short task per organization with Matrix on (chat/).
    "chat-matrix-sync": {"task": "chat.matrix_sync.matrix_sync_all", "schedule": 5.0},
    # Runs sources whose cron is due, and resumes runs a dead worker left behind.
    "sources-sync-due": {"task": "ingestion.tasks.sources_sync_due", "schedule": 60.0},
    # Purges questions and conversations past each organization's retention, nightly.
    "retention-purge": {
        "task": "search.tasks.retention_purge_all",
        "schedule": crontab(hour=3, minute=15),
    },
    # Keeps ORGANIZATION_POOL_SIZE spare organization schemas ready for signups.
    "organization-pool-replenish": {"task": "tenants.tasks.pool_replenish", "schedule": 60.0},
    # Measures each organization's usage of the day (documents, storage, sync runs).
    "usage-measure": {"task": "tenants.tasks.usage_measure_all", "schedule": 300.0},
    # Queues pending documents whose indexing message was lost (broker down, Redis emptied).
    "documents-unqueued-send": {
        "task": "ingestion.tasks.documents_unqueued_send_all",
        "schedule": 300.0,
    },
    # Deletes originals no document names (erased while the storage was down or a backup ran).
    "originals-sweep": {"task": "ingestion.tasks.originals_sweep_all", "schedule": 3600.0},
    # Starts each organization's move to the embedding model it should use, resumes
    # an interrupted one (ingestion.embedding_index).
    "embedding-moves-due": {"task": "ingestion.tasks.embedding_moves_due_all", "schedule": 300.0},
    # Deletes signups whose verification link expired unused (they hold a name and a schema).
    "signups-expired-delete": {"task": "tenants.tasks.signups_expired_delete", "schedule": 3600.0},
    # Emails the workspace admins who opted in their new knowledge gaps, Mondays 07:00 UTC.
    "analytics-gaps-digest": {
        "task": "analytics.tasks.gaps_digest_all",
        "schedule": crontab(day_of_week=1, hour=7, minute=0),
    },
    # Runs each workspace's golden questions (answer quality), nightly at 04:30 UTC.
    "analytics-golden-runs": {
        "task": "analytics.tasks.golden_runs_all",
        "schedule": crontab(hour=4, minute=30),
    },
}
# How long a worker heartbeat counts as "recent" for /readyz.
WORKER_HEARTBEAT_MAX_AGE_S = env.int("WORKER_HEARTBEAT_MAX_AGE_S", default=60)
# Our JSON log configuration (opaa/logconfig.py) applies to workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The worker serves its own Prometheus counters on this port; 0 turns that off.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
