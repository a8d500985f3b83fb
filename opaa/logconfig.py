"""Structured logs: one JSON object per line, through structlog and the stdlib ``logging``.

Both ``structlog.get_logger()`` calls and plain ``logging`` calls (Django, Celery, our
older modules) end in the same formatter, so every line carries the context bound for
the current request or task (request id, organization, user id) by
``opaa.observability``. Keys that name secrets are replaced before rendering; the
code never logs document text, and this is the second line of defence for secrets.

Imported by the settings: it must not import Django models or settings.
"""

from __future__ import annotations

from typing import Any

import structlog

# Any event key containing one of these is masked (e.g. "api_key", "Authorization").
SECRET_KEY_PARTS = ("password", "secret", "token", "api_key", "authorization", "cookie")
REDACTED = "[redacted]"


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        lowered = key.lower()
        if any(part in lowered for part in SECRET_KEY_PARTS):
            event_dict[key] = REDACTED
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def structlog_configure() -> None:
    """Route structlog through the stdlib ``logging`` handlers configured by ``LOGGING``."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """The ``LOGGING`` setting. ``fmt`` is ``json`` (production) or ``console`` (people)."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Our own request line replaces Django's and gunicorn's access logs.
            "django.server": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
        },
    }
