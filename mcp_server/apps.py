"""The MCP server: OPAA's search and answers as tools for AI agents (Model Context Protocol)."""

import logging

from django.apps import AppConfig


class McpServerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mcp_server"
    verbose_name = "MCP server"

    def ready(self) -> None:
        # The SDK logs every stateless request's start and end at INFO; OPAA's own
        # request line (opaa/observability.py) already records each one.
        logging.getLogger("mcp").setLevel(logging.WARNING)
