#!/bin/sh
# Container entrypoint: start every process with an empty metrics directory (values
# left by a previous run of this container would be added to the new ones), then run
# the given command (gunicorn, celery worker, celery beat, manage.py ...).
set -eu
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "${PROMETHEUS_MULTIPROC_DIR}"
    mkdir -p "${PROMETHEUS_MULTIPROC_DIR}"
fi
exec "$@"
