"""Documents API: sharing a document into another workspace (``ingestion.sharing``)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from accounts.audit import audit_context
from accounts.scopes import Scope
from ingestion.api import DocumentSerializer
from ingestion.models import Document, DocumentShare
from ingestion.selectors import document_for
from ingestion.sharing import document_share, document_unshare, share_for, shares_of
from workspaces.access import workspace_for
from workspaces.api_base import WorkspaceAPIView
from workspaces.models import Role
from workspaces.readers import reader_scope


class ShareSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="The workspace it is shared into."
    )
    source_workspace = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="The document's own workspace."
    )
    shared_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = DocumentShare
        fields = ["document", "workspace", "source_workspace", "shared_by", "created_at"]
        read_only_fields = fields


class SharedDocumentSerializer(ShareSerializer):
    document = DocumentSerializer(read_only=True)

    class Meta(ShareSerializer.Meta):
        pass


class DocumentSharesView(WorkspaceAPIView):
    """Where a document is shared (members of its workspace who may read it)."""

    required_roles = {"GET": Role.VIEWER}
    required_scopes = {"GET": Scope.DOCUMENTS_READ}
    workspace_from_request = False
    reader_scoped = True

    def scoped_queryset(self):
        return Document.objects.select_related("workspace")

    @extend_schema(responses=ShareSerializer(many=True))
    def get(self, request, pk: int):
        document = self.get_object(pk=pk)
        return Response(ShareSerializer(shares_of(document), many=True).data)


class DocumentShareView(WorkspaceAPIView):
    """PUT shares the document into the workspace ``workspace`` (an editor of both:
    201, or 200 when it is shared there already); DELETE ends the share (an editor of
    the document's workspace, or an admin of the workspace it is shared into: 204)."""

    required_roles = {"PUT": Role.EDITOR, "DELETE": Role.VIEWER}
    required_scopes = {"PUT": Scope.DOCUMENTS_WRITE, "DELETE": Scope.DOCUMENTS_WRITE}
    workspace_from_request = False
    reader_scoped = True

    def scoped_queryset(self):
        return Document.objects.select_related("workspace")

    @extend_schema(request=None, responses={201: ShareSerializer, 200: ShareSerializer})
    def put(self, request, pk: int, workspace: str):
        document = self.get_object(pk=pk)
        target = workspace_for(request.user, workspace, role=Role.EDITOR, token=self.token)
        share, created = document_share(
            document=document, workspace=target, user=request.user, audit=audit_context(request)
        )
        return Response(
            ShareSerializer(share).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, workspace: str):
        # The caller reads the document in its workspace or in one it is shared into
        # (404 otherwise, as for a missing id); the share is one of a workspace they
        # may read, on either side.
        document = document_for(request.user, pk, token=self.token)
        share = share_for(request.user, document=document, slug=workspace, token=self.token)
        document_unshare(share=share, user=request.user, audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedDocumentListView(WorkspaceAPIView):
    """The documents shared into the workspace from other workspaces (those the caller
    may read), newest first."""

    required_roles = {"GET": Role.VIEWER}
    required_scopes = {"GET": Scope.DOCUMENTS_READ}
    pagination_class = LimitOffsetPagination

    def scoped_queryset(self):
        return DocumentShare.objects.select_related(
            "document__workspace", "source_workspace", "workspace", "shared_by"
        )

    @extend_schema(responses=SharedDocumentSerializer(many=True))
    def get(self, request):
        scope = reader_scope(request.user, [self.workspace])
        shares = self.get_queryset().filter(
            scope.q("document__"), document_id__in=list(scope.shared_documents)
        )
        paginator = self.pagination_class()
        shares = shares.order_by("-created_at", "-id")
        page = paginator.paginate_queryset(shares, request, view=self)
        return paginator.get_paginated_response(SharedDocumentSerializer(page, many=True).data)
