"""Fixtures of the ingestion tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Org


def _client(org: Org, email: str) -> APIClient:
    """The API of ``org`` as ``email`` (basic authentication)."""
    client = APIClient(HTTP_HOST=org.domain)
    token = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


@dataclass
class HeavyLight:
    """Two fresh, committed organizations for the fairness tests: Heavyco queues many
    documents, Lightco's page comes behind them; each through its owner's API."""

    heavy_org: Org
    heavy: APIClient
    light: APIClient

    def done(self, document_ids: list[int]) -> int:
        """How many of Heavyco's ``document_ids`` are searchable or indexed by now."""
        from django.db import connection
        from django_tenants.utils import schema_context

        from ingestion.models import Document
        from workspaces.rls import organization_scope

        with schema_context(self.heavy_org.schema), organization_scope():
            done = Document.objects.filter(
                pk__in=document_ids, status__in=["searchable", "indexed"]
            ).count()
        connection.set_schema_to_public()
        return done


@pytest.fixture
def heavy_light(committed_org) -> HeavyLight:
    """Heavyco (hank) and Lightco (lena), dropped after the test."""
    heavy_org = committed_org("heavyco", "hank@heavyco.example")
    return HeavyLight(
        heavy_org=heavy_org,
        heavy=_client(heavy_org, "hank@heavyco.example"),
        light=_client(committed_org("lightco", "lena@lightco.example"), "lena@lightco.example"),
    )
