"""Scoping cannot be bypassed: every API view reads through its base's ``get_queryset``
and ``get_object`` (workspace, readers, role), and none defines its own."""

from __future__ import annotations

from django.urls import URLPattern
from drf_spectacular.views import SpectacularAPIView

from workspaces.api_base import WorkspaceAPIView


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_no_api_view_defines_its_own_get_queryset_or_get_object():
    from opaa.urls import api_v1

    for pattern in api_v1:  # import every view the API serves
        assert isinstance(pattern, URLPattern)
        assert issubclass(pattern.callback.view_class, SpectacularAPIView | WorkspaceAPIView)
    offenders = [
        f"{view.__module__}.{view.__qualname__}.{name}"
        for view in _subclasses(WorkspaceAPIView)
        for name in ("get_queryset", "get_object")
        if name in vars(view)
    ]
    assert offenders == [], "read through scoped_queryset() instead"
