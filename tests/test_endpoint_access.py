"""Every endpoint, every outsider: a table-driven test of who gets what.

The table ``ROUTES`` has an entry for every API operation and portal page of an
organization's site (the tenant URLconf, ``opaa.urls``); ``test_every_endpoint_is_in_the_table``
fails when a route is added without one. For each entry, these people try it on an
object (or in the workspace) of Acme's **General** workspace:

- **carol**, of Globex, with her own credentials at Acme's domain (sent to sign in, or
  401), and at Globex's domain with Acme's ids (404: not there);
- **bob**, an editor of Acme's Sales workspace only (404: existence not revealed);
- **vera**, a viewer of General, trying what needs an editor or an admin (403), or
  another person's private object (404);
- **alice**, Acme's owner, for whom every entry must work: the control that keeps the
  refusals above from passing for a wrong URL.

List pages and endpoints, whoever calls them, never contain an id or name of what the
caller may not see. Each call runs in a savepoint that is rolled back, so one
endpoint's success cannot change what the next one sees.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from ingestion.models import Document, Source
from search import conversations
from search.models import AnswerMode, Conversation, Question
from tests.conftest import PASSWORD, api_client, named_file, portal_client, token_client
from workspaces.models import Membership, Role, Workspace

# What an entry needs.
ANYONE = "anyone"  # no sign-in (sign-in pages, health checks)
SIGNED_IN = "signed-in"  # any signed-in person, about their own things
VIEWER, EDITOR, ADMIN = Role.VIEWER, Role.EDITOR, Role.ADMIN  # a role in the workspace
OWNER = "owner"  # the organization's owner

# What an entry acts on.
WORKSPACE = "workspace"  # General, named by the ``workspace`` parameter
OBJECT = "object"  # an object of General, by id (any member with the role may)
PRIVATE = "private"  # alice's own object in General (only she may)
SHARED = "shared"  # alice's conversation in General, shared with General's members
NONE = "none"  # not tied to a workspace
ORG_OBJECT = "org-object"  # an object of the organization's, not of a workspace (a group)


@dataclass(frozen=True)
class Objects:
    """Acme's things the entries act on; all in General except where said."""

    document: int
    source: int
    conversation: int
    question: int
    share_token: str
    token: int  # alice's API token
    membership: int  # gina's membership of General (a viewer)
    group: str  # a group's slug (groups belong to the organization, not a workspace)
    # In the names of General's document, source and members: never shown to outsiders.
    canary: str
    # In the names of alice's own conversation and token: never shown to anyone else.
    private_canary: str
    # A channel of General connected to Acme's Slack, and a pending one-time link.
    chat_mapping: int = 0
    chat_link: str = ""


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    need: str
    target: str
    kwargs: Callable[[Objects], dict] = lambda o: {}
    data: Callable[[Objects], dict] = lambda o: {}
    # The response lists things: it must not show what the caller may not see.
    lists: bool = False
    # What people other than the owner get on an OWNER entry.
    refused: int = 403
    multipart: bool = False
    # The body names an object of the organization's (e.g. a group): another
    # organization's caller gets 404 although the workspace part is theirs.
    names_org_object: bool = False
    # An API outside /api/v1/ (the MCP endpoint, /mcp): called as the API is, a JSON body.
    api_like: bool = False

    @property
    def api(self) -> bool:
        return self.api_like or self.name.startswith("api:")

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


def _doc(o: Objects) -> dict:
    return {"pk": o.document}


def _source(o: Objects) -> dict:
    return {"pk": o.source}


def _conversation(o: Objects) -> dict:
    return {"pk": o.conversation}


def _share(o: Objects) -> dict:
    return {"token": o.share_token}


def _elsewhere(o: Objects) -> dict:
    return {"pk": o.document, "workspace": "elsewhere"}


def _to_elsewhere(o: Objects) -> dict:
    return {"workspace": "elsewhere"}


def _general(o: Objects) -> dict:
    return {"workspace": "general"}


def _upload(o: Objects) -> dict:
    return {"workspace": "general", "file": named_file("more.md", b"# More\n\nText.\n")}


def _portal_upload(o: Objects) -> dict:
    return {"files": named_file("more.md", b"# More\n\nText.\n")}


def _ask(o: Objects) -> dict:
    return {"workspace": "general", "question": "What is the meeting room called?"}


def _group(o: Objects) -> dict:
    return {"slug": o.group}


def _feedback(o: Objects) -> dict:
    return {"question": o.question, "helpful": True}


ROUTES: list[Route] = [
    # --- public: sign-in, password reset, health ------------------------------------
    Route(":home", "get", ANYONE, NONE),
    Route(":healthz", "get", ANYONE, NONE),
    Route(":readyz", "get", ANYONE, NONE),
    # Browsers ask for it by themselves: a redirect to the static icon.
    Route(":favicon", "get", ANYONE, NONE),
    Route("accounts:login", "get", ANYONE, NONE),
    Route("accounts:logout", "post", ANYONE, NONE),
    Route("accounts:password_reset", "get", ANYONE, NONE),
    Route("accounts:password_reset_done", "get", ANYONE, NONE),
    Route(
        "accounts:password_reset_confirm",
        "get",
        ANYONE,
        NONE,
        kwargs=lambda o: {"uidb64": "MQ", "token": "set-password"},
    ),
    Route("accounts:password_reset_complete", "get", ANYONE, NONE),
    Route("sso:login", "get", ANYONE, NONE),
    Route("sso:callback", "get", ANYONE, NONE),
    # --- portal: tokens, members, settings, audit -----------------------------------
    Route("accounts:tokens", "get", SIGNED_IN, NONE, lists=True),
    Route(
        "accounts:tokens",
        "post",
        SIGNED_IN,
        NONE,
        data=lambda o: {"name": "t", "scopes": "ask", "workspaces": "sales", "expires_in_days": 5},
    ),
    Route("accounts:token-revoke", "post", SIGNED_IN, PRIVATE, kwargs=lambda o: {"pk": o.token}),
    # The account menu's language (the person's own setting) and the scripts' strings.
    Route("accounts:language", "post", SIGNED_IN, NONE, data=lambda o: {"language": "en"}),
    Route(":javascript-catalog", "get", ANYONE, NONE),
    Route("accounts:audit", "get", OWNER, NONE, lists=True),
    Route("accounts:members", "get", ADMIN, WORKSPACE, lists=True),
    Route(
        "accounts:members",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"email": "new@acme.example", "role": "viewer"},
    ),
    Route(
        "accounts:member-role",
        "post",
        ADMIN,
        OBJECT,
        kwargs=lambda o: {"pk": o.membership},
        data=lambda o: {"role": "editor"},
    ),
    Route("accounts:member-remove", "post", ADMIN, OBJECT, kwargs=lambda o: {"pk": o.membership}),
    # gina accepted long ago: the owner's control call is a 400 (nothing to resend).
    Route(
        "accounts:invitation-resend", "post", ADMIN, OBJECT, kwargs=lambda o: {"pk": o.membership}
    ),
    Route(
        "accounts:invitation-withdraw", "post", ADMIN, OBJECT, kwargs=lambda o: {"pk": o.membership}
    ),
    Route("accounts:settings", "get", OWNER, NONE),
    Route("accounts:settings", "post", OWNER, NONE, data=lambda o: {"token_max_days": "30"}),
    Route("sso:settings", "get", OWNER, NONE, refused=404),
    Route("sso:settings", "post", OWNER, NONE, refused=404, data=lambda o: {"name": "x"}),
    # --- portal: the organization (owner) --------------------------------------------
    Route(":usage", "get", OWNER, NONE),
    Route(":organization-delete", "get", OWNER, NONE),
    # Never the right slug: the owner's control call must fail validation, not erase.
    Route(":organization-delete", "post", OWNER, NONE, data=lambda o: {"confirm": "no"}),
    # --- portal: documents ----------------------------------------------------------
    Route("ingestion:documents", "get", VIEWER, WORKSPACE, lists=True),
    Route("ingestion:documents", "post", EDITOR, WORKSPACE, data=_portal_upload, multipart=True),
    Route("ingestion:status", "get", VIEWER, WORKSPACE, lists=True),
    # The document page's live status: one document's (a GET's data replaces the URL's
    # query, so the workspace is part of it).
    Route(
        "ingestion:status",
        "get",
        VIEWER,
        WORKSPACE,
        data=lambda o: {"workspace": "general", "document": o.document},
        lists=True,
    ),
    Route("ingestion:document", "get", VIEWER, OBJECT, kwargs=_doc),
    Route("ingestion:original", "get", VIEWER, OBJECT, kwargs=_doc),
    Route("ingestion:delete", "post", EDITOR, OBJECT, kwargs=_doc),
    # General's document is shared into Elsewhere (no members) by the fixture.
    Route("ingestion:share", "post", EDITOR, OBJECT, kwargs=_doc, data=_to_elsewhere),
    Route("ingestion:unshare", "post", EDITOR, OBJECT, kwargs=_doc, data=_to_elsewhere),
    Route("ingestion:notices-dismiss", "post", VIEWER, WORKSPACE),
    # --- portal: sources ------------------------------------------------------------
    Route("sources:list", "get", ADMIN, WORKSPACE, lists=True),
    Route("sources:status", "get", ADMIN, WORKSPACE, lists=True),
    Route("sources:reindex", "post", ADMIN, WORKSPACE),
    Route("sources:detail", "get", ADMIN, OBJECT, kwargs=_source),
    Route("sources:sync", "post", ADMIN, OBJECT, kwargs=_source),
    Route("sources:toggle", "post", ADMIN, OBJECT, kwargs=_source),
    Route("sources:edit", "get", ADMIN, OBJECT, kwargs=_source),
    Route(
        "sources:edit",
        "post",
        ADMIN,
        OBJECT,
        kwargs=_source,
        data=lambda o: {"schedule": "0 * * * *"},
    ),
    Route("sources:retry", "post", ADMIN, OBJECT, kwargs=_doc),
    Route("sources:delete", "post", ADMIN, OBJECT, kwargs=_source),
    Route("sources:new", "get", ADMIN, WORKSPACE),
    Route("sources:new", "post", ADMIN, WORKSPACE, data=lambda o: {"name": ""}),
    # --- portal: ask ----------------------------------------------------------------
    Route("search:ask", "get", VIEWER, WORKSPACE, lists=True),
    Route(
        "search:ask",
        "post",
        VIEWER,
        WORKSPACE,
        data=lambda o: {"question": "What is the meeting room called?"},
    ),
    Route(
        "search:ask-stream",
        "post",
        VIEWER,
        WORKSPACE,
        data=lambda o: {"question": "What is the meeting room called?"},
    ),
    Route("search:review", "get", ADMIN, WORKSPACE, lists=True),
    Route("search:conflicts", "get", ADMIN, WORKSPACE, lists=True),
    Route("search:shared", "get", VIEWER, SHARED, kwargs=_share),
    Route(
        "search:conversation-rename",
        "post",
        VIEWER,
        PRIVATE,
        kwargs=_conversation,
        data=lambda o: {"title": "renamed"},
    ),
    Route("search:conversation-share", "post", VIEWER, PRIVATE, kwargs=_conversation),
    Route("search:conversation-delete", "post", VIEWER, PRIVATE, kwargs=_conversation),
    Route("search:conversation-export", "get", VIEWER, PRIVATE, kwargs=_conversation),
    Route(
        "search:feedback",
        "post",
        VIEWER,
        SHARED,
        kwargs=lambda o: {"pk": o.question},
        data=lambda o: {"helpful": "1"},
    ),
    # --- API ------------------------------------------------------------------------
    Route("api:schema", "get", SIGNED_IN, NONE),
    Route(":api-docs", "get", SIGNED_IN, NONE),
    Route(":api-redoc", "get", SIGNED_IN, NONE),
    # The MCP endpoint: tokens only; each tool checks the scope and the workspace itself
    # (tests/mcp_server/). Here: another organization's token is a 401, members list tools.
    Route(
        ":mcp",
        "post",
        SIGNED_IN,
        NONE,
        data=lambda o: {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        api_like=True,
    ),
    Route("api:documents", "get", VIEWER, WORKSPACE, data=_general, lists=True),
    Route("api:documents", "post", EDITOR, WORKSPACE, data=_upload, multipart=True),
    Route("api:documents-batch", "post", EDITOR, WORKSPACE, data=_upload, multipart=True),
    Route("api:document", "get", VIEWER, OBJECT, kwargs=_doc),
    Route("api:document", "delete", EDITOR, OBJECT, kwargs=_doc),
    # General's document is shared into Elsewhere (no members) by the fixture.
    Route("api:document-shares", "get", VIEWER, OBJECT, kwargs=_doc, lists=True),
    Route("api:document-share", "put", EDITOR, OBJECT, kwargs=_elsewhere),
    Route("api:document-share", "delete", EDITOR, OBJECT, kwargs=_elsewhere),
    Route("api:shared-documents", "get", VIEWER, WORKSPACE, data=_general, lists=True),
    Route("api:source-sync", "post", ADMIN, OBJECT, kwargs=_source),
    Route("api:source", "delete", ADMIN, OBJECT, kwargs=_source),
    Route(
        "api:sources",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"workspace": "general", "kind": "filesystem", "name": ""},
    ),
    Route("api:organization", "delete", OWNER, NONE, data=lambda o: {"confirm": "no"}),
    Route("api:ask", "post", VIEWER, WORKSPACE, data=_ask),
    Route(
        "api:search", "get", VIEWER, WORKSPACE, data=lambda o: {"workspace": "general", "q": "x"}
    ),
    Route(
        "api:batch",
        "post",
        VIEWER,
        WORKSPACE,
        data=lambda o: {"workspace": "general", "questions": ["Where is the meeting room?"]},
    ),
    Route("api:conversations", "get", VIEWER, WORKSPACE, data=_general, lists=True),
    Route("api:conversations", "post", VIEWER, WORKSPACE, data=_general),
    Route("api:conversation", "get", VIEWER, PRIVATE, kwargs=_conversation),
    Route(
        "api:conversation",
        "patch",
        VIEWER,
        PRIVATE,
        kwargs=_conversation,
        data=lambda o: {"title": "renamed"},
    ),
    Route("api:conversation", "delete", VIEWER, PRIVATE, kwargs=_conversation),
    Route("api:conversation-export", "get", VIEWER, PRIVATE, kwargs=_conversation),
    Route("api:conversation-shared", "get", VIEWER, SHARED, kwargs=_share),
    Route("api:feedback", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("api:feedback", "post", VIEWER, SHARED, data=_feedback),
    Route("api:tokens", "get", SIGNED_IN, NONE, lists=True),
    Route(
        "api:tokens",
        "post",
        SIGNED_IN,
        NONE,
        data=lambda o: {
            "name": "t",
            "scopes": ["ask"],
            "workspaces": ["sales"],
            "expires_in_days": 5,
        },
    ),
    Route("api:token", "delete", SIGNED_IN, PRIVATE, kwargs=lambda o: {"pk": o.token}),
    Route("api:audit", "get", OWNER, NONE, lists=True),
    Route("api:members", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route(
        "api:members",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"workspace": "general", "email": "new@acme.example", "role": "viewer"},
    ),
    Route(
        "api:member",
        "patch",
        ADMIN,
        OBJECT,
        kwargs=lambda o: {"pk": o.membership},
        data=lambda o: {"role": "editor"},
    ),
    Route("api:member", "delete", ADMIN, OBJECT, kwargs=lambda o: {"pk": o.membership}),
    # --- workspaces (workspace admins; archived ones the owner) ------------------------
    Route("workspace_admin:list", "get", ADMIN, NONE, lists=True),
    Route("workspace_admin:create", "post", ADMIN, NONE, data=lambda o: {"name": ""}),
    Route("workspace_admin:rename", "post", ADMIN, WORKSPACE, data=lambda o: {"name": "x"}),
    # General is the default workspace: the owner's control call is a 400, not an archive.
    Route("workspace_admin:archive", "post", ADMIN, WORKSPACE),
    Route("workspace_admin:restore", "post", OWNER, NONE, data=lambda o: {"workspace": "general"}),
    # General is not archived: the owner's call is a 400, never a deletion.
    Route("workspace_admin:delete", "post", OWNER, NONE, data=lambda o: {"workspace": "general"}),
    # --- groups and document readers -------------------------------------------------
    Route("workspaces:groups", "get", ADMIN, WORKSPACE, lists=True),
    Route(
        "workspaces:groups",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"action": "role", "group": o.group, "role": "viewer"},
        names_org_object=True,
    ),
    Route("api:groups", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("api:groups", "post", OWNER, NONE, data=lambda o: {"name": "Another group"}),
    Route("api:group", "get", ADMIN, ORG_OBJECT, kwargs=_group),
    Route("api:group", "patch", OWNER, ORG_OBJECT, kwargs=_group, data=lambda o: {"name": "x"}),
    Route("api:group", "delete", OWNER, ORG_OBJECT, kwargs=_group),
    Route(
        "api:group-role",
        "put",
        ADMIN,
        OBJECT,
        kwargs=lambda o: {"slug": o.group, "workspace": "general"},
        data=lambda o: {"role": "viewer"},
    ),
    Route(
        "api:group-role",
        "delete",
        ADMIN,
        OBJECT,
        kwargs=lambda o: {"slug": o.group, "workspace": "general"},
    ),
    Route("ingestion:readers", "post", ADMIN, OBJECT, kwargs=_doc, data=lambda o: {"readers": ""}),
    Route("api:document", "patch", ADMIN, OBJECT, kwargs=_doc, data=lambda o: {"readers": []}),
    # --- chat platforms (owner: the platform; workspace admins: their channels) --------
    Route("chat:settings", "get", ADMIN, NONE, lists=True),
    Route(
        "chat:platform",
        "post",
        OWNER,
        NONE,
        kwargs=lambda o: {"kind": "slack"},
        data=lambda o: {"slack-team_id": ""},
    ),
    Route(
        "chat:test-message",
        "post",
        OWNER,
        NONE,
        kwargs=lambda o: {"kind": "slack"},
        data=lambda o: {"channel": "C1"},
    ),
    Route(
        "chat:mapping-add",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"kind": "slack", "channel_id": "CNEW"},
    ),
    Route("chat:mapping-delete", "post", ADMIN, OBJECT, kwargs=lambda o: {"pk": o.chat_mapping}),
    # Whoever opens a one-time link while signed in links the chat user to themselves.
    Route("chat:link", "get", SIGNED_IN, ORG_OBJECT, kwargs=lambda o: {"token": o.chat_link}),
    Route("chat:link", "post", SIGNED_IN, ORG_OBJECT, kwargs=lambda o: {"token": o.chat_link}),
    # Called by the platforms: refused without their signature or token (tests/chat/).
    Route("chat:slack-events", "post", ANYONE, NONE),
    Route("chat:slack-commands", "post", ANYONE, NONE),
    Route("chat:slack-interactivity", "post", ANYONE, NONE),
    Route("chat:mattermost-command", "post", ANYONE, NONE),
    Route("chat:mattermost-webhook", "post", ANYONE, NONE),
    Route("chat:mattermost-actions", "post", ANYONE, NONE),
    Route("chat:teams-messages", "post", ANYONE, NONE),  # the Bot Framework JWT
    # --- analytics (workspace admins; owners for every workspace) ---------------------
    Route("analytics:dashboard", "get", ADMIN, WORKSPACE, lists=True),
    Route("analytics:export", "get", ADMIN, WORKSPACE, kwargs=lambda o: {"chart": "questions"}),
    Route("analytics:questions", "get", ADMIN, WORKSPACE, lists=True),
    Route("analytics:gaps", "get", ADMIN, WORKSPACE, lists=True),
    Route(
        "analytics:gap-resolve",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"questions": str(o.question), "note": "added"},
    ),
    Route("analytics:digest", "post", ADMIN, WORKSPACE, data=lambda o: {"on": "1"}),
    Route("analytics:documents", "get", ADMIN, WORKSPACE, lists=True),
    Route("api:analytics-series", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("api:analytics-questions", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("api:analytics-gaps", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("api:analytics-documents", "get", ADMIN, WORKSPACE, data=_general, lists=True),
    Route("analytics:quality", "get", ADMIN, WORKSPACE, lists=True),
    Route(
        "analytics:golden-add",
        "post",
        ADMIN,
        WORKSPACE,
        data=lambda o: {"question": str(o.question)},
    ),
    # No golden question 0: the owner's control call is refused with a message (302).
    Route("analytics:golden-delete", "post", ADMIN, WORKSPACE, data=lambda o: {"golden": "0"}),
    Route("analytics:golden-adopt", "post", ADMIN, WORKSPACE, data=lambda o: {"golden": "0"}),
    Route("analytics:golden-run", "post", ADMIN, WORKSPACE),
    Route("api:analytics-quality", "get", ADMIN, WORKSPACE, data=_general, lists=True),
]


# --- the table covers every route -------------------------------------------------------


def _tenant_routes() -> dict[str, URLPattern]:
    """Every named route of the organization's site, except the admin's (tested below)."""
    routes: dict[str, URLPattern] = {}

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                inner = pattern.namespace or ""
                walk(pattern.url_patterns, ":".join(filter(None, [namespace, inner])))
            else:
                assert pattern.name, f"name the route {pattern.pattern}"
                routes[f"{namespace}:{pattern.name}"] = pattern

    walk(get_resolver("opaa.urls").url_patterns, "")
    return routes


def _api_methods(pattern: URLPattern) -> set[str]:
    view = getattr(pattern.callback, "view_class", None)
    roles = getattr(view, "required_roles", None)
    if roles is None:  # not a WorkspaceAPIView (the schema): GET only
        return {"get"}
    return {
        m for m in view.http_method_names if m not in ("head", "options") and m.upper() in roles
    }


def test_every_endpoint_is_in_the_table():
    routes = _tenant_routes()
    tabled = {r.name for r in ROUTES}
    assert sorted(set(routes) - tabled) == [], "add these routes to ROUTES"
    for name, pattern in routes.items():
        if name.startswith("api:"):
            served = _api_methods(pattern)
            tabled_methods = {r.method for r in ROUTES if r.name == name}
            assert served <= tabled_methods, f"{name}: table the methods {sorted(served)}"


def _routes() -> list[Route]:
    """The table's entries for routes the site has. (An entry whose route was removed is
    left out rather than failing: a misspelt entry leaves its route without one, which
    ``test_every_endpoint_is_in_the_table`` reports.)"""
    present = _tenant_routes()
    return [route for route in ROUTES if route.name in present]


# --- the people and the things ----------------------------------------------------------


def _past_globex(model, *, globex_schema: str) -> None:
    """Move Acme's id sequence for ``model`` past Globex's ids, so an Acme id asked for
    at Globex's domain names nothing there (and its 404 is meaningful)."""
    with schema_context(globex_schema):
        globex_max = model.objects.aggregate(m=Max("pk"))["m"] or 0
    acme_max = model.objects.aggregate(m=Max("pk"))["m"] or 0
    with connection.cursor() as cursor:
        # Sequences only move forward here, past every id either schema has used.
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
            [model._meta.db_table, max(globex_max, acme_max) + 1],
        )


@pytest.fixture
def things(world, acme, alice_api, make_token) -> Objects:
    from accounts.audit import AuditContext
    from ingestion import sources
    from workspaces.services import membership_save

    for model in (Document, Source, Conversation, Question, ApiToken, Membership):
        connection.set_tenant(world.acme.organization)
        _past_globex(model, globex_schema=world.globex.schema)
    connection.set_tenant(world.acme.organization)
    canary = f"canary{secrets.token_hex(4)}"
    private = f"private{secrets.token_hex(4)}"
    general = Workspace.objects.get(slug="general")
    Workspace.objects.create(name="Elsewhere", slug="elsewhere")
    for email, role in (("vera@acme.example", Role.VIEWER), ("gina@acme.example", Role.VIEWER)):
        user = User.objects.create_user(email, PASSWORD, full_name=f"{canary} {email}")
        membership_save(
            membership=Membership(workspace=general, user=user, role=role), audit=AuditContext()
        )
    membership = Membership.objects.get(user__email="gina@acme.example")

    upload = alice_api.post(
        "/api/v1/documents",
        {
            "workspace": "general",
            "file": named_file(f"{canary}.md", f"# {canary} notes\n\nFjord.\n".encode()),
        },
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    connection.set_tenant(world.acme.organization)
    shared = alice_api.put(f"/api/v1/documents/{upload.json()['id']}/shares/elsewhere")
    assert shared.status_code == 201, shared.content
    connection.set_tenant(world.acme.organization)
    connector = sources.connector_create(name=f"{canary} files", kind="filesystem")
    source = Source.objects.create(
        connector=connector, workspace=general, name=f"{canary} source", paths=["/srv"]
    )
    conversation = conversations.conversation_create(
        user=User.objects.get(email="alice@acme.example"), workspace=general, title=private
    )
    question = Question.objects.create(
        workspace=general,
        conversation=conversation,
        asked_by=conversation.owner,
        text=f"{private}?",
        answer=f"{private}.",
        mode=AnswerMode.EXTRACTIVE,
    )
    conversations.conversation_share(conversation=conversation, shared=True)
    conversation.refresh_from_db()
    make_token(world.acme, "alice@acme.example", workspaces=["general"])
    token = ApiToken.objects.filter(user__email="alice@acme.example").latest("id")
    ApiToken.objects.filter(pk=token.pk).update(name=f"{private} token")
    chat_mapping, chat_link = _chat_things(general, canary, globex_schema=world.globex.schema)
    if "api:groups" in _tenant_routes():  # made through the API: no model imported here
        made = alice_api.post(
            "/api/v1/groups", {"name": f"{canary} group", "slug": canary}, format="json"
        )
        assert made.status_code == 201, made.content
        connection.set_tenant(world.acme.organization)
    return Objects(
        document=upload.json()["id"],
        source=source.pk,
        conversation=conversation.pk,
        question=question.pk,
        share_token=conversation.share_token,
        token=token.pk,
        membership=membership.pk,
        group=canary,
        canary=canary,
        private_canary=private,
        chat_mapping=chat_mapping,
        chat_link=chat_link,
    )


def _chat_things(general: Workspace, canary: str, *, globex_schema: str) -> tuple[int, str]:
    """Acme's Slack (unreachable: port 9), a channel of General, a pending link."""
    from accounts.audit import AuditContext
    from chat import services as chat
    from chat.models import ChannelMapping

    _past_globex(ChannelMapping, globex_schema=globex_schema)
    platform = chat.platform_save(
        kind="slack",
        enabled=True,
        team_id="T0ACME",
        api_url="http://127.0.0.1:9/api/",
        commands=["ask"],
        new_secrets={"signing_secret": "s", "bot_token": "xoxb-t"},
        portal_url="http://acme.localhost/",
        audit=AuditContext(),
    )
    mapping = chat.mapping_add(
        platform=platform,
        channel_id="CCANARY",
        name=f"{canary} channel",
        workspace=general,
        audit=AuditContext(),
    )
    identity = chat.identity_get(platform=platform, external_id="USOMEONE")
    return mapping.pk, chat.link_token_issue(identity=identity)


@dataclass
class Persona:
    name: str
    org: object  # tests.conftest.Org whose domain the requests go to
    portal: Client
    api: APIClient
    failures: list[str] = field(default_factory=list)


class _Rollback(Exception):
    pass


def _request(persona: Persona, route: Route, o: Objects):
    """Call ``route`` as ``persona`` inside a savepoint that is then rolled back."""
    url = reverse(route.name.lstrip(":"), kwargs=route.kwargs(o))
    data = route.data(o)
    query = ""
    if route.target == WORKSPACE and not route.api:
        query = "?workspace=general"
    response = None
    # Cookies are put back too: a sign-out (or a new session) must not carry over.
    cookies = persona.portal.cookies
    persona.portal.cookies = type(cookies)(cookies)
    with contextlib.suppress(_Rollback), transaction.atomic():
        if route.api:
            client = persona.api
            if route.method == "get":
                response = client.get(url, data)
            elif route.multipart:
                response = client.post(url, data, format="multipart")
            elif route.api_like:
                accept = "application/json, text/event-stream"
                response = client.post(url, data, format="json", HTTP_ACCEPT=accept)
            else:
                response = getattr(client, route.method)(url, data, format="json")
        else:
            client = persona.portal
            if route.method == "get":
                response = client.get(url + query, data)
            else:
                response = client.post(url + query, data)
        raise _Rollback
    persona.portal.cookies = cookies
    return response


def _shows(response, canaries: list[str], ids: dict[str, int]) -> list[str]:
    """What the response shows of ``canaries`` and of ``ids`` (as the API and portal
    spell them)."""
    if getattr(response, "streaming", False):
        return []
    body = response.content.decode(errors="replace")
    shown = [canary for canary in canaries if canary in body]
    for what, pk in ids.items():
        for spelling in (f"/{what}s/{pk}/", f"{what}={pk}"):
            if spelling in body:
                shown.append(spelling)
    return shown


def _check(
    persona: Persona,
    route: Route,
    response,
    expected: str,
    *,
    canaries: list[str] = (),
    ids: dict[str, int] | None = None,
):
    status = response.status_code
    to_sign_in = status == 302 and "/login/" in response.get("Location", "")
    ok = {
        "login": to_sign_in and "/accounts/login/" in response["Location"],
        "401": status == 401,
        "403": status == 403,
        "404": status == 404,
        "refused": status == route.refused,
        "allowed": status < 500 and status not in (401, 403, 404) and not to_sign_in,
        # Health checks may answer 503 (not ready); nothing may crash.
        "no error": status != 500,
    }[expected]
    if not ok:
        persona.failures.append(f"{persona.name}: {route} -> {status}, expected {expected}")
    elif route.lists and expected == "allowed":
        shown = _shows(response, list(canaries), ids or {})
        if shown:
            persona.failures.append(f"{persona.name}: {route} lists {shown}")


def _ids(o: Objects) -> dict[str, int]:
    """Links to General's things, as the portal's lists would spell them."""
    return {"document": o.document, "source": o.source, "conversation": o.conversation}


# --- the tests --------------------------------------------------------------------------


def test_the_owner_may_use_every_endpoint(world, things):
    """The control: alice reaches every entry, so the refusals below are not wrong URLs."""
    alice = Persona(
        "alice",
        world.acme,
        portal_client(world.acme, "alice@acme.example"),
        api_client(world.acme, "alice@acme.example"),
    )
    for route in _routes():
        connection.set_tenant(world.acme.organization)
        expected = "no error" if route.need == ANYONE else "allowed"
        _check(alice, route, _request(alice, route, things), expected)
    assert not alice.failures, "\n".join(alice.failures)


def test_carol_at_acme_is_sent_to_sign_in_or_refused(world, things, make_token):
    """carol's session and token are Globex's: at Acme's domain they are nobody's."""
    portal = portal_client(world.globex, "carol@globex.example")
    portal.defaults["HTTP_HOST"] = world.acme.domain
    secret = make_token(world.globex, "carol@globex.example")
    carol = Persona("carol at acme", world.acme, portal, token_client(world.acme, secret))
    for route in _routes():
        connection.set_tenant(world.acme.organization)
        response = _request(carol, route, things)
        refusal = "401" if route.api else "login"
        expected = "no error" if route.need == ANYONE else refusal
        _check(carol, route, response, expected)
    assert not carol.failures, "\n".join(carol.failures)


def test_carol_at_globex_finds_nothing_of_acme(world, things):
    """At her own domain, Acme's ids name nothing, and her lists show nothing of Acme."""
    connection.set_tenant(world.globex.organization)
    carol = Persona(
        "carol at globex",
        world.globex,
        portal_client(world.globex, "carol@globex.example"),
        api_client(world.globex, "carol@globex.example"),
    )
    for route in _routes():
        connection.set_tenant(world.globex.organization)
        response = _request(carol, route, things)
        if route.need == ANYONE:
            expected = "no error"
        elif route.target in (OBJECT, PRIVATE, SHARED, ORG_OBJECT) or route.names_org_object:
            expected = "404"
        else:
            expected = "allowed"  # her own organization's things, which she owns
        canaries = [things.canary, things.private_canary]
        _check(carol, route, response, expected, canaries=canaries)
    assert not carol.failures, "\n".join(carol.failures)


def test_bob_of_another_workspace_gets_404(world, things):
    """bob (Sales) asks for General's things: they do not exist for him."""
    bob = Persona(
        "bob",
        world.acme,
        portal_client(world.acme, "bob@acme.example"),
        api_client(world.acme, "bob@acme.example"),
    )
    for route in _routes():
        connection.set_tenant(world.acme.organization)
        response = _request(bob, route, things)
        if route.need == ANYONE:
            expected = "no error"
        elif route.target in (WORKSPACE, OBJECT, PRIVATE, SHARED):
            expected = "404"
        elif route.need == OWNER:
            expected = "refused"
        elif route.need == ADMIN:  # not tied to a workspace: his own (Sales) role decides
            expected = "403"
        else:
            expected = "allowed"
        canaries = [things.canary, things.private_canary]
        _check(bob, route, response, expected, canaries=canaries, ids=_ids(things))
        if route.lists and route.target == WORKSPACE and route.need in (VIEWER, EDITOR):
            # His own workspace's list (no parameter) shows nothing of General either.
            own = _request(bob, _without_workspace(route), things)
            _check(bob, route, own, "allowed", canaries=canaries, ids=_ids(things))
    assert not bob.failures, "\n".join(bob.failures)


def _without_workspace(route: Route) -> Route:
    def data(o: Objects) -> dict:
        return {k: v for k, v in route.data(o).items() if k != "workspace"}

    return Route(route.name, route.method, route.need, NONE, route.kwargs, data, route.lists)


def test_vera_a_viewer_cannot_do_what_needs_an_editor_or_admin(world, things):
    """vera views General: 403 above her role, 404 for alice's private things."""
    vera = Persona(
        "vera",
        world.acme,
        portal_client(world.acme, "vera@acme.example"),
        api_client(world.acme, "vera@acme.example"),
    )
    for route in _routes():
        connection.set_tenant(world.acme.organization)
        response = _request(vera, route, things)
        if route.need == ANYONE:
            expected = "no error"
        elif route.need == OWNER:
            expected = "refused"
        elif route.target == PRIVATE:
            expected = "404"
        elif route.need in (EDITOR, ADMIN):
            expected = "403"
        else:
            expected = "allowed"
        # General's documents are hers to see; alice's conversation and token are not.
        _check(vera, route, response, expected, canaries=[things.private_canary])
    assert not vera.failures, "\n".join(vera.failures)


def test_the_admin_site_refuses_everyone_but_the_organizations_staff(world, things):
    """Every admin page (every registered model, found from the site) sends bob, vera and
    carol to the admin's sign-in; alice, the owner, sees them."""
    from django.conf import settings
    from django.contrib import admin

    organization_apps = {app.rpartition(".")[2] for app in settings.TENANT_APPS}
    urls, public_urls = [], []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:{}_{}_changelist".format(*info))
        (urls if model._meta.app_label in organization_apps else public_urls).append(url)
    urls.append(reverse("admin:index"))
    people = {
        "bob": portal_client(world.acme, "bob@acme.example"),
        "vera": portal_client(world.acme, "vera@acme.example"),
    }
    carol = portal_client(world.globex, "carol@globex.example")
    carol.defaults["HTTP_HOST"] = world.acme.domain
    people["carol"] = carol
    alice = portal_client(world.acme, "alice@acme.example")
    failures = []
    for url in urls:
        for name, client in people.items():
            response = client.get(url)
            if response.status_code != 302 or "/admin/login/" not in response["Location"]:
                failures.append(f"{name}: {url} -> {response.status_code}")
            elif things.canary in response.content.decode(errors="replace"):
                failures.append(f"{name}: {url} shows {things.canary}")
        if alice.get(url).status_code != 200:
            failures.append(f"alice: {url} is not shown to the owner")
    # The platform's own tables (organizations, plans) are not an organization's to see.
    for url in public_urls:
        if alice.get(url).status_code == 200:
            failures.append(f"alice: {url} is shown at an organization's domain")
    assert not failures, "\n".join(failures)
