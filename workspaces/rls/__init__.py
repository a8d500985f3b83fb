"""Row-level isolation between the workspaces of an organization (docs/security.md).

- ``policies``: the Postgres policies and grants, applied after every migrate.
- ``scope``: which workspaces the current request, task or script may see.
- ``backend``: the database backend that sets that scope for every statement.
- ``roles``: the schema owner's connection for DDL; the application's role owns nothing.
- ``middleware``: a request's scope is its caller's readable workspaces.
"""

from workspaces.rls.roles import schema_owner_connection
from workspaces.rls.scope import (
    ObjectWorkspaceScope,
    current,
    no_scope,
    organization_scope,
    scope_enter,
    workspaces_scope,
)

__all__ = [
    "ObjectWorkspaceScope",
    "current",
    "no_scope",
    "organization_scope",
    "schema_owner_connection",
    "scope_enter",
    "workspaces_scope",
]
