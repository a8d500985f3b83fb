"""Storage (S3 or local disk) unavailable: one exception, answered 503 with Retry-After.

``storage_calls()`` wraps every call to the storage (``infra.storage``,
``ingestion.storage``) and turns what means "the storage cannot be reached or is
failing right now" into ``StorageUnavailable``: botocore's connection errors and
timeouts, an S3 5xx or throttling answer, a full or failing local disk. Errors that
are no outage (a missing key, refused credentials, a bug) pass through unchanged.

``StorageUnavailable`` is a DRF ``APIException`` (503, and ``wait`` sets Retry-After),
so every API view answers it the same way without handling it; for the portal,
``infra.unavailable.ServiceUnavailableMiddleware`` renders it (JSON for the page's
scripts, a page for a browser). Nothing is half-stored when it is raised during an upload
(``ingestion.uploads.upload_receive`` creates no row without its object).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.functional import lazy
from django.utils.translation import gettext
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)

# What a client is told to wait before trying again: long enough for a storage service's
# brief failover or a restart, short enough that an upload script retrying is not idle long.
RETRY_AFTER_S = 30

# S3 error codes that mean "try again later", whatever the HTTP status says.
_TRANSIENT_S3_CODES = {
    "InternalError",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "ThrottlingException",
}
# Local disk errors that are an outage of the storage, not a bug of the caller.
_TRANSIENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ETIMEDOUT}


class StorageUnavailable(APIException):
    """The storage of originals cannot be reached or is failing: 503 with Retry-After."""

    status_code = 503
    default_code = "storage_unavailable"
    # Translated when shown (the API's detail follows Accept-Language; docs/i18n.md).
    default_detail = lazy(
        lambda: (
            gettext(
                "The document storage is unavailable at the moment. "
                "Try again in %(seconds)s seconds."
            )
            % {"seconds": RETRY_AFTER_S}
        ),
        str,
    )()

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail=detail)
        self.wait = RETRY_AFTER_S  # DRF's handler turns ``wait`` into Retry-After


def _transient(exc: BaseException) -> bool:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or error.get("Code") in _TRANSIENT_S3_CODES
    if isinstance(exc, BotoCoreError):
        return True  # connection refused or reset, timeouts, a truncated response
    if isinstance(exc, Boto3Error):
        # boto3's transfer manager wraps the real error (S3UploadFailedError).
        cause = exc.__cause__ or exc.__context__
        return cause is None or _transient(cause)
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    return False


@contextmanager
def storage_calls(action: str) -> Iterator[None]:
    """Run storage calls; an outage of the storage raises ``StorageUnavailable``.

    ``action`` ("store an original", ...) goes into the log line, with the error's
    class and message (botocore's name the operation and code, never credentials).
    """
    try:
        yield
    except StorageUnavailable:
        raise
    except Exception as exc:
        if not _transient(exc):
            raise
        logger.warning("storage unavailable: could not %s: %s: %s", action, type(exc).__name__, exc)
        raise StorageUnavailable() from exc
