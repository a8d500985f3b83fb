"""Redis locks of the sync: one run per source, a bounded number of runs at once.

Both expire by themselves (``SYNC_LOCK_TTL_S``) so a worker killed mid-run frees them.
While a run lives, a background thread renews them every third of the TTL, so one slow
item (a large download, a long parse in eager mode) does not lose the lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from redis.exceptions import LockError

# Takes a run slot if both the global and the organization's set have room. Members are
# run tokens scored by their expiry time; expired members (dead workers) are dropped first.
_SLOT_ACQUIRE = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[2])
return 1
"""


def _redis():
    return get_redis_connection("default")


def _source_lock_name(source_id: int) -> str:
    return f"opaa:org:{connection.schema_name}:source-sync:{source_id}"


class SourceRunGuard:
    """The lock of one source plus a run slot, renewed together in the background."""

    def __init__(self, source_id: int) -> None:
        self.ttl = settings.SYNC_LOCK_TTL_S
        # Not thread-local: the renewing thread must see the token the run acquired with.
        self.lock = _redis().lock(
            _source_lock_name(source_id), timeout=self.ttl, thread_local=False
        )
        self.stopped = threading.Event()
        self.lost = False
        self.renewer: threading.Thread | None = None
        self.token = uuid.uuid4().hex
        self.slot_keys = [
            "opaa:indexing-slots:global",
            f"opaa:indexing-slots:org:{connection.schema_name}",
        ]
        self.slot_held = False

    def acquire(self) -> bool:
        """True when this run may go ahead: the source is free and a slot was taken."""
        if not self.lock.acquire(blocking=False):
            return False
        taken = _redis().eval(
            _SLOT_ACQUIRE,
            2,
            *self.slot_keys,
            time.time(),
            self.token,
            settings.MAX_CONCURRENT_INDEXING_JOBS,
            settings.MAX_CONCURRENT_INDEXING_JOBS_PER_ORGANIZATION,
            self.ttl,
        )
        if not taken:
            self.lock.release()
            return False
        self.slot_held = True
        self.renewer = threading.Thread(target=self._renew_until_stopped, daemon=True)
        self.renewer.start()
        return True

    def _renew_until_stopped(self) -> None:
        while not self.stopped.wait(self.ttl / 3):
            if not self._renew():
                self.lost = True
                return

    def held(self) -> bool:
        """False once the lock was lost (the process stalled past the TTL)."""
        return not self.lost

    def _renew(self) -> bool:
        """Extend both for another TTL; False when the lock was lost (it expired)."""
        try:
            self.lock.reacquire()
        except LockError:
            return False
        expiry = time.time() + self.ttl
        pipe = _redis().pipeline()
        for key in self.slot_keys:
            pipe.zadd(key, {self.token: expiry}, xx=True)
        pipe.execute()
        return True

    def release(self) -> None:
        self.stopped.set()
        if self.renewer is not None:
            self.renewer.join()
        if self.slot_held:
            pipe = _redis().pipeline()
            for key in self.slot_keys:
                pipe.zrem(key, self.token)
            pipe.execute()
            self.slot_held = False
        # An expired lock has nothing of ours left to release.
        with contextlib.suppress(LockError):
            self.lock.release()


def source_sync_locked(source_id: int) -> bool:
    """True while some run holds the source's lock."""
    return bool(_redis().exists(_source_lock_name(source_id)))
