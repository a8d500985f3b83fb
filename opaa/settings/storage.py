"""Where originals are kept: the local filesystem, or S3 when ``S3_BUCKET`` is set."""

from opaa.settings.env import DATA_DIR, env

S3_BUCKET = env.str("S3_BUCKET", default="")

if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))},
    }

# The originals sweep (ingestion.storage.originals_sweep) leaves an object no document
# names alone until it is this old: it may be an upload or a sync item whose row is not
# committed yet (that takes seconds).
ORIGINALS_SWEEP_GRACE_S = env.int("ORIGINALS_SWEEP_GRACE_S", default=3600)

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
