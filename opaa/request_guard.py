"""Requests carrying a NUL character are refused with a 400 before any view runs.

Postgres text cannot hold NUL (U+0000): a query parameter, path segment, form field or
JSON string with one used to reach the database and fail there as a 500. Rather than
each view checking its own input, this middleware looks at everything a view can read
as text — the path, the query string, cookies and the Authorization header, form
fields (URL-encoded and the non-file parts of multipart bodies) and the strings (keys
and values) of a JSON body — and answers 400 with one message: JSON
(``{"detail": ...}``) under ``/api/``, a small HTML page elsewhere. Uploaded files
are not looked at: their bytes go to storage, not to text columns, and binary files
contain NUL bytes legitimately (a NUL in a file's name is dropped by Django).

The form and JSON body are read here once; Django and DRF reuse what was read, so the
view parses nothing twice (DRF takes the already parsed form, and re-reads a JSON body
from the cached bytes). A body Django refuses to parse (malformed multipart, too big,
too many fields) is answered 400 as Django or DRF would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from io import BytesIO

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.html import escape

NUL = "\x00"
MESSAGE = "The request contains a NUL character (\\u0000 or %00), which is not allowed."

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _json_strings(value) -> Iterator[str]:
    """Every string in a parsed JSON document: object keys and string values."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _query_strings(query) -> Iterator[str]:
    """Keys and values of a ``QueryDict``."""
    for key, values in query.lists():
        yield key
        yield from values


def _form_fields(request: HttpRequest):
    """The form's fields (no files). A POST's are Django's ``request.POST``, which the
    view then reuses; another method's are parsed from the (cached) body."""
    if request.method == "POST":
        return request.POST
    body = request.body
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(body, encoding=request.encoding)
    fields, _files = MultiPartParser(
        request.META, BytesIO(body), request.upload_handlers, request.encoding
    ).parse()
    return fields


def _body_strings(request: HttpRequest) -> Iterable[str]:
    content_type = request.content_type or ""
    if content_type in _FORM_TYPES:
        return _query_strings(_form_fields(request))
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            document = json.loads(request.body)
        except ValueError:
            return ()  # not JSON: the view's parser answers 400
        return _json_strings(document)
    return ()


def request_has_nul(request: HttpRequest) -> bool:
    """True when the path, query string, cookies, Authorization header, form fields or
    JSON strings hold a NUL."""
    if NUL in request.path_info or NUL in request.path:
        return True
    if any(NUL in text for text in _query_strings(request.GET)):
        return True
    # Cookie values may carry one as a quoted octal escape ("\\000"); the session cookie
    # and the Authorization header's token are looked up in the database.
    if any(NUL in text for item in request.COOKIES.items() for text in item):
        return True
    if NUL in request.META.get("HTTP_AUTHORIZATION", ""):
        return True
    return any(NUL in text for text in _body_strings(request))


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """400 with ``message``: JSON under ``/api/``, a small HTML page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Bad request</title></head><body><h1>Bad request</h1>"
        f'<p>{escape(message)}</p><p><a href="/">Back to the start page</a></p></body></html>'
    )
    return HttpResponse(page, status=400, content_type="text/html; charset=utf-8")


class NulCharacterMiddleware:
    """Refuse a request with a NUL character anywhere a view reads text (module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            refused = request_has_nul(request)
        except MultiPartParserError as exc:
            # What DRF's multipart parser answers for the same body.
            return bad_request(request, f"Multipart form parse error - {exc}")
        if refused:
            return bad_request(request, MESSAGE)
        return self.get_response(request)
