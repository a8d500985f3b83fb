"""URLs of an organization's site (``acme.localhost``): portal, API, admin, health."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import api as accounts_api
from accounts import api_members as members_api
from analytics.urls import api_urlpatterns as analytics_api
from ingestion import api as ingestion_api
from ingestion import api_sharing as sharing_api
from ingestion import source_api, source_setup_views
from mcp_server.views import McpView
from opaa import health
from search import api as search_api
from search import api_conversations as conversation_api
from tenants import erasure_views as tenants_erasure
from tenants import views as tenants_views
from workspaces import api as groups_api

api_v1 = [
    path("documents", ingestion_api.DocumentListView.as_view(), name="documents"),
    path("documents/<int:pk>", ingestion_api.DocumentDetailView.as_view(), name="document"),
    path("documents/batch", ingestion_api.DocumentBatchView.as_view(), name="documents-batch"),
    path(
        "documents/<int:pk>/shares",
        sharing_api.DocumentSharesView.as_view(),
        name="document-shares",
    ),
    path(
        "documents/<int:pk>/shares/<slug:workspace>",
        sharing_api.DocumentShareView.as_view(),
        name="document-share",
    ),
    path(
        "shared-documents",
        sharing_api.SharedDocumentListView.as_view(),
        name="shared-documents",
    ),
    path("sources", source_setup_views.SourceCreateView.as_view(), name="sources"),
    path("sources/<int:pk>/sync", source_api.SourceSyncView.as_view(), name="source-sync"),
    path("sources/<int:pk>", source_api.SourceDetailView.as_view(), name="source"),
    path("ask", search_api.AskView.as_view(), name="ask"),
    path("search", search_api.SearchView.as_view(), name="search"),
    path("batch", conversation_api.BatchAskView.as_view(), name="batch"),
    path("conversations", conversation_api.ConversationListView.as_view(), name="conversations"),
    path(
        "conversations/<int:pk>",
        conversation_api.ConversationDetailView.as_view(),
        name="conversation",
    ),
    path(
        "conversations/<int:pk>/export",
        conversation_api.ConversationExportView.as_view(),
        name="conversation-export",
    ),
    path(
        "conversations/shared/<str:token>",
        conversation_api.SharedConversationView.as_view(),
        name="conversation-shared",
    ),
    path("feedback", conversation_api.FeedbackView.as_view(), name="feedback"),
    path("tokens", accounts_api.TokenListView.as_view(), name="tokens"),
    path("tokens/<int:pk>", accounts_api.TokenDetailView.as_view(), name="token"),
    path("audit", accounts_api.AuditListView.as_view(), name="audit"),
    path("groups", groups_api.GroupListView.as_view(), name="groups"),
    path("groups/<slug:slug>", groups_api.GroupDetailView.as_view(), name="group"),
    path(
        "groups/<slug:slug>/roles/<slug:workspace>",
        groups_api.GroupRoleView.as_view(),
        name="group-role",
    ),
    path("members", members_api.MemberListView.as_view(), name="members"),
    path("members/<int:pk>", members_api.MemberDetailView.as_view(), name="member"),
    path("organization", tenants_erasure.OrganizationView.as_view(), name="organization"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    *analytics_api,
]

# Unrouted URLs under /api/ answer a JSON 404 like every API error (opaa/api.py).
handler404 = "opaa.api.not_found"


class FaviconView(RedirectView):
    """/favicon.ico, which browsers ask for by themselves: the icon base.html links to."""

    permanent = False  # the static file's URL may change (a CDN, hashed names)

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("opaa/favicon.svg")


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="search:ask"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("accounts/", include("accounts.urls")),
    # The portal scripts' strings in the active language (locale/*/djangojs.po).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("sso/", include("sso.urls")),
    path("documents/", include("ingestion.urls")),
    path("sources/", include("ingestion.source_urls")),
    path("ask/", include("search.urls")),
    path("groups/", include("workspaces.urls")),
    path("workspaces/", include("workspaces.workspace_urls")),
    path("usage/", tenants_views.usage_view, name="usage"),
    path("analytics/", include("analytics.urls")),
    path("chat/", include("chat.urls")),
    # The API's browsable docs for signed-in people, from our own static files (offline).
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api:schema")),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        login_required(
            SpectacularRedocView.as_view(url_name="api:schema", template_name="api_docs/redoc.html")
        ),
        name="api-redoc",
    ),
    path("api/v1/", include((api_v1, "api"))),
    # The MCP server for AI agents (streamable HTTP, an API token as bearer: docs/mcp.md).
    path("mcp", McpView.as_view(), name="mcp"),
    path(
        "organization/delete",
        tenants_erasure.organization_delete_view,
        name="organization-delete",
    ),
    path("admin/", admin.site.urls),
]
