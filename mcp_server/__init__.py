"""The MCP server: OPAA's search and answers as tools for AI agents (Model Context Protocol)."""
