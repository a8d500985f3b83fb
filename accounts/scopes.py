"""What an API token may be allowed to do.

A token's effective rights are its scopes intersected with its owner's current roles:
the API base view checks the scope a method declares (``required_scopes``) and the role
it declares (``required_roles``), so a demoted owner's token loses power at once.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    ASK = "ask", _("Ask questions")
    SEARCH_READ = "search:read", _("Search passages")
    DOCUMENTS_READ = "documents:read", _("Read documents")
    DOCUMENTS_WRITE = "documents:write", _("Upload and delete documents")
    CONNECTORS_ADMIN = "connectors:admin", _("Manage connectors")
    MEMBERS_ADMIN = "members:admin", _("Manage members")
    AUDIT_READ = "audit:read", _("Read the audit log")
    ANALYTICS_READ = "analytics:read", _("Read analytics")


# Declared by API methods no token may call at all: managing tokens needs a signed-in
# person, so a leaked token can never mint tokens that outlive its revocation.
SIGNED_IN_ONLY = "signed-in-only"

# The workspace role a service account gets for the scopes of its token (the highest).
SERVICE_ACCOUNT_ROLE_FOR_SCOPE = {
    Scope.ASK: "viewer",
    Scope.SEARCH_READ: "viewer",
    Scope.DOCUMENTS_READ: "viewer",
    Scope.DOCUMENTS_WRITE: "editor",
    Scope.CONNECTORS_ADMIN: "admin",
    Scope.MEMBERS_ADMIN: "admin",
    Scope.ANALYTICS_READ: "admin",
}
