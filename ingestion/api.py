"""Documents API: upload, list, read, delete."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.audit import audit_context
from accounts.scopes import Scope
from ingestion.document_events import document_opened
from ingestion.embedding_queue import embedding_progress
from ingestion.erasure import document_delete
from ingestion.models import Document, DocumentStatus
from ingestion.readers import document_readers_set
from ingestion.selectors import document_for
from ingestion.upload_batch import MAX_FILES_PER_BATCH, upload_batch_receive
from ingestion.uploads import UploadOutcome, UploadRejected, upload_receive
from workspaces.api_base import WorkspaceAPIView
from workspaces.api_schema import ERROR, QUOTA_ERROR, RETRY_AFTER, UNAVAILABLE
from workspaces.models import Role
from workspaces.readers import readers_validate

PASSAGES_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"embedded": {"type": "integer"}, "total": {"type": "integer"}},
}


class DocumentSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    status = serializers.ChoiceField(
        choices=DocumentStatus.choices,
        read_only=True,
        help_text=(
            "pending, processing, then searchable (found by keyword search; its vectors "
            "are still being made: 'searchable, improving'), then indexed; or failed "
            "(see error_message)."
        ),
    )
    passages = serializers.SerializerMethodField(
        help_text=(
            "While searchable: how many of its passages have their vector so far "
            "({embedded, total}: 'n of m passages embedded'); null otherwise. A "
            "searchable document with an error_message had its embedding given up "
            "(keyword search still finds it; re-index it to try again)."
        )
    )

    @extend_schema_field(PASSAGES_SCHEMA)
    def get_passages(self, document: Document) -> dict | None:
        if document.status != DocumentStatus.SEARCHABLE:
            return None
        # A list precomputes its page's in one query (``passages`` in the context).
        progress = self.context.get("passages")
        if progress is None:
            progress = embedding_progress([document.pk])
        embedded, total = progress.get(document.pk, (0, 0))
        return {"embedded": embedded, "total": total}

    class Meta:
        model = Document
        fields = [
            "id",
            "workspace",
            "title",
            "source",
            "original_filename",
            "mime_type",
            "size_bytes",
            "sha256",
            "status",
            "passages",
            "error_message",
            "created_at",
            "updated_at",
            "indexed_at",
            "readers",
            "metadata",
        ]
        read_only_fields = fields


class ReadersInput(serializers.Serializer):
    readers = serializers.ListField(
        child=serializers.CharField(max_length=320),
        max_length=200,
        allow_empty=True,
        help_text=(
            "user:<email> or group:<slug> each (a member or a group of the organization; "
            "an unknown one is a 400 naming it); empty: every member of the workspace."
        ),
    )


class UploadOutcomeOutput(DocumentSerializer):
    outcome = serializers.ChoiceField(choices=["new_version", "duplicate"])
    detail = serializers.CharField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "outcome", "detail"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    workspace = serializers.SlugField(
        required=False, help_text="Defaults to your default workspace."
    )


class DocumentListView(WorkspaceAPIView):
    """List the workspace's documents, or upload one (multipart, field ``file``)."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.EDITOR}
    required_scopes = {"GET": Scope.DOCUMENTS_READ, "POST": Scope.DOCUMENTS_WRITE}
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = LimitOffsetPagination
    reader_scoped = True

    def scoped_queryset(self):
        return Document.objects.select_related("workspace")

    @extend_schema(responses=DocumentSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        searchable = [d.pk for d in page if d.status == DocumentStatus.SEARCHABLE]
        context = {"passages": embedding_progress(searchable)}
        return paginator.get_paginated_response(
            DocumentSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: DocumentSerializer,
            200: UploadOutcomeOutput,
            402: QUOTA_ERROR,
            413: ERROR,
            415: ERROR,
            503: UNAVAILABLE,
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request):
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            received = upload_receive(
                workspace=self.workspace,
                user=request.user,
                file=upload.validated_data["file"],
                audit=audit_context(request),
            )
        except UploadRejected as exc:
            return Response({"detail": exc.messages[0]}, status=exc.status_code)
        body = DocumentSerializer(received.document).data
        if received.outcome == UploadOutcome.CREATED:
            return Response(body, status=status.HTTP_201_CREATED)
        # A duplicate (nothing stored) or a new version of an existing document: 200.
        outcome = UploadOutcome(received.outcome)
        return Response({**body, "outcome": outcome.value, "detail": outcome.label})


class BatchUploadSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        help_text=f"One ``file`` field per file, up to {MAX_FILES_PER_BATCH}.",
    )
    workspace = serializers.SlugField(
        required=False, help_text="Defaults to your default workspace."
    )


class BatchFileResultSerializer(serializers.Serializer):
    filename = serializers.CharField()
    status = serializers.IntegerField(
        help_text="What a single upload of this file answers: 201, 200, or the 4xx refusal."
    )
    outcome = serializers.ChoiceField(choices=["created", "new_version", "duplicate", "refused"])
    detail = serializers.CharField()
    code = serializers.CharField(
        required=False, help_text="Why it was refused: empty, unsupported_type, too_large, quota."
    )
    limit = serializers.CharField(required=False, help_text="The plan limit reached (quota).")
    document = DocumentSerializer(allow_null=True)


class BatchUploadResultSerializer(serializers.Serializer):
    results = BatchFileResultSerializer(many=True)


class DocumentBatchView(WorkspaceAPIView):
    """Upload several documents at once (multipart, one ``file`` field per file).

    Answers 207 with one result per file, in the order sent; a refused file (empty,
    unsupported type, too large, over a plan limit) does not stop the others.
    """

    required_roles = {"POST": Role.EDITOR}
    required_scopes = {"POST": Scope.DOCUMENTS_WRITE}
    parser_classes = [MultiPartParser]

    def scoped_queryset(self):
        return Document.objects.all()

    @extend_schema(
        request={"multipart/form-data": BatchUploadSerializer},
        responses={207: BatchUploadResultSerializer, 503: UNAVAILABLE},
        parameters=[RETRY_AFTER],
    )
    def post(self, request):
        files = request.FILES.getlist("file")
        if not files:
            raise ValidationError({"file": [_("Send at least one file (field 'file').")]})
        if len(files) > MAX_FILES_PER_BATCH:
            raise ValidationError(
                {
                    "file": [
                        _("At most %(limit)d files per request; %(count)d sent.")
                        % {"limit": MAX_FILES_PER_BATCH, "count": len(files)}
                    ]
                }
            )
        results = upload_batch_receive(
            workspace=self.workspace, user=request.user, files=files, audit=audit_context(request)
        )
        body = [
            {
                "filename": result.filename,
                "status": result.status,
                "outcome": result.outcome,
                "detail": result.detail,
                **result.extra,
                "document": result.document and DocumentSerializer(result.document).data,
            }
            for result in results
        ]
        return Response({"results": body}, status=status.HTTP_207_MULTI_STATUS)


class DocumentDetailView(WorkspaceAPIView):
    """One document of any workspace the caller belongs to and may read; 404 for
    everything else. PATCH sets its readers (workspace admins)."""

    required_roles = {"GET": Role.VIEWER, "PATCH": Role.ADMIN, "DELETE": Role.EDITOR}
    required_scopes = {
        "GET": Scope.DOCUMENTS_READ,
        "PATCH": Scope.DOCUMENTS_WRITE,
        "DELETE": Scope.DOCUMENTS_WRITE,
    }

    workspace_from_request = False
    # Readers before the role: a document the caller may not read is a 404 for every
    # method, as a missing id is; only a readable one can answer 403 (role too low).
    reader_scoped = True

    def scoped_queryset(self):
        return Document.objects.select_related("workspace")

    def _document(self, pk: int) -> Document:
        try:
            return self.get_object(pk=pk)
        except Http404:
            # A document shared into a workspace the caller may read (and whose readers
            # let them): readable there, read-only (403 for PATCH and DELETE;
            # ingestion.sharing); anything else, the same 404.
            return document_for(self.request.user, pk, role=self.required_role(), token=self.token)

    @extend_schema(responses=DocumentSerializer)
    def get(self, request, pk: int):
        document = self._document(pk)
        document_opened(document=document, audit=audit_context(request), via="api")
        return Response(DocumentSerializer(document).data)

    @extend_schema(request=ReadersInput, responses=DocumentSerializer)
    def patch(self, request, pk: int):
        document = self._document(pk)
        data = ReadersInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            chosen = readers_validate(data.validated_data["readers"], keep=document.readers)
            document = document_readers_set(
                document=document,
                readers=[choice.principal for choice in chosen],
                audit=audit_context(request),
            )
        except DjangoValidationError as exc:
            raise ValidationError({"readers": exc.messages}) from None
        return Response(DocumentSerializer(document).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        document_delete(document=self._document(pk), audit=audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
