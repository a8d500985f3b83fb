"""Sources API: trigger a sync (the webhook a source system or a script calls)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.audit import AuditAction, audit_context, audit_source
from accounts.scopes import Scope
from ingestion import sources
from ingestion.models import Source, SyncRun, SyncTrigger
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import RETRY_AFTER, UNAVAILABLE
from workspaces.models import Role


class SyncRequestSerializer(serializers.Serializer):
    full = serializers.BooleanField(
        required=False, default=False, help_text="Re-index every item, changed or not."
    )


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "source",
            "trigger",
            "status",
            "full",
            "started_at",
            "finished_at",
            "seen",
            "added",
            "updated",
            "unchanged",
            "deleted",
            "failed",
            "item_errors",
            "error_message",
        ]
        read_only_fields = fields


class SourceSyncView(WorkspaceAPIView):
    """Queue a sync of one source (workspace admin; token scope ``connectors:admin``).

    Answers 202 with the run; asking while a run is queued or running returns that run.
    """

    required_roles = {"POST": Role.ADMIN}
    required_scopes = {"POST": Scope.CONNECTORS_ADMIN}
    workspace_from_request = False

    def scoped_queryset(self):
        return Source.objects.select_related("workspace")

    @extend_schema(
        request=SyncRequestSerializer,
        responses={202: SyncRunSerializer, 503: UNAVAILABLE},
        parameters=[RETRY_AFTER],
    )
    def post(self, request, pk: int):
        source = self.get_object(pk=pk)
        body = SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        full = body.validated_data["full"]
        run = sources.source_sync_request(
            source=source,
            trigger=SyncTrigger.REINDEX if full else SyncTrigger.WEBHOOK,
            full=full,
        )
        audit_source(
            action=AuditAction.SOURCE_SYNC_REQUESTED, request=request, source=source, full=full
        )
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SourceDetailView(WorkspaceAPIView):
    """Delete one source with every document it brought in (workspace admin; token
    scope ``connectors:admin``). Answers 204; 404 for a source the caller cannot see."""

    required_roles = {"DELETE": Role.ADMIN}
    required_scopes = {"DELETE": Scope.CONNECTORS_ADMIN}
    workspace_from_request = False

    def scoped_queryset(self):
        return Source.objects.select_related("workspace")

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        source = self.get_object(pk=pk)
        sources.source_delete(source=source, audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
