"""The request's row-level security scope: the caller's readable workspaces."""

from __future__ import annotations

from django.http import FileResponse

from workspaces.rls.scope import CallerScope, scope_enter


def _streamed_in(scope, content):
    # Entered around each part, not across the yields: the server may iterate in
    # another context, and nothing else it does meanwhile should run in this scope.
    parts = iter(content)
    while True:
        with scope_enter(scope):
            try:
                part = next(parts)
            except StopIteration:
                return
        yield part


async def _astreamed_in(scope, content):
    parts = aiter(content)
    while True:
        with scope_enter(scope):
            try:
                part = await anext(parts)
            except StopAsyncIteration:
                return
        yield part


class RowLevelSecurityMiddleware:
    """Every statement of the request sees only the caller's workspaces.

    Placed after authentication. The caller is read when a statement first needs the
    scope, and again if it changes (DRF authenticates API tokens inside the view). A
    streamed response's content is produced in the same scope.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        scope = CallerScope(request)
        with scope_enter(scope):
            response = self.get_response(request)
        # A file download reads no rows; its own iterator (and Content-Length) is kept.
        if getattr(response, "streaming", False) and not isinstance(response, FileResponse):
            if getattr(response, "is_async", False):
                response.streaming_content = _astreamed_in(scope, response.streaming_content)
            else:
                response.streaming_content = _streamed_in(scope, response.streaming_content)
        return response
