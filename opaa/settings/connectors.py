"""Connectors and the sync: allowed folders, locks, how many runs at once."""

from opaa.settings.env import env

# Folders a file-system source may sync from (a source's roots must lie inside one).
# Empty: file-system sources are refused, so no workspace admin can read the server's files.
CONNECTOR_FILESYSTEM_ROOTS = env.list("CONNECTOR_FILESYSTEM_ROOTS", default=[])
# How long a sync's lock outlives its last sign of life: a worker killed mid-run frees the
# source after this; a live run renews it at every item.
SYNC_LOCK_TTL_S = env.int("SYNC_LOCK_TTL_S", default=120)
# Sync runs at once, across all organizations and within one.
MAX_CONCURRENT_INDEXING_JOBS = env.int("MAX_CONCURRENT_INDEXING_JOBS", default=4)
MAX_CONCURRENT_INDEXING_JOBS_PER_ORGANIZATION = env.int(
    "MAX_CONCURRENT_INDEXING_JOBS_PER_ORGANIZATION", default=2
)
# A source whose runs failed this many times in a row is flagged for its admins.
SYNC_FLAG_AFTER_FAILURES = 3
# May connectors and an organization's identity provider reach private, loopback and
# link-local addresses? Yes on-premises (the Confluence is internal); set false on a
# shared, managed installation so one organization's admin cannot probe the operator's
# network or a cloud metadata endpoint (infra/outbound.py).
OUTBOUND_PRIVATE_NETWORKS_ALLOWED = env.bool("OUTBOUND_PRIVATE_NETWORKS_ALLOWED", default=True)
