"""API-wide plumbing: the exception handler that keeps every error a clear JSON 4xx."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from infra.errors import ApplicationError


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError as a 400 with its messages and an
    ``ApplicationError`` as its status and body (``infra.errors``)."""
    if isinstance(exc, ApplicationError):
        # As DRF answers its own errors: the request's transaction is rolled back.
        set_rollback()
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return Response(exc.body(), status=exc.status_code, headers=headers)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """The 404 of a URL no route matches: JSON under ``/api/`` (a client reads
    ``detail``, as from every other API error), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
