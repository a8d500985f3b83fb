"""The demo organization that ``make run`` sets up on first run: Acme and its sample corpus."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from ingestion.models import Document, DocumentStatus
from ingestion.uploads import document_upload
from tenants.models import Organization
from tenants.services import organization_create
from workspaces.models import Workspace
from workspaces.rls import organization_scope

DEMO_SLUG = "acme"
DEMO_OWNER_EMAIL = "owner@acme.example"


@dataclass(frozen=True)
class Demo:
    organization: Organization
    created: bool
    owner_email: str
    owner_password: str  # empty when the organization already existed


def demo_bootstrap(*, corpus_dir: Path) -> Demo:
    """Create Acme and queue the sample corpus for indexing, the first time only."""
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        return Demo(existing, created=False, owner_email=DEMO_OWNER_EMAIL, owner_password="")
    created = organization_create(name="Acme", slug=DEMO_SLUG, owner_email=DEMO_OWNER_EMAIL)
    with schema_context(created.organization.schema_name), organization_scope():
        workspace = Workspace.objects.get(is_default=True)
        for path in sorted(corpus_dir.iterdir()):
            # README.md and questions.json describe the corpus; they are not part of it.
            if path.is_file() and path.name != "README.md" and path.suffix != ".json":
                upload = SimpleUploadedFile(path.name, path.read_bytes())
                document_upload(workspace=workspace, user=created.owner, file=upload)
    return Demo(
        created.organization,
        created=True,
        owner_email=created.owner.email,
        owner_password=created.owner_password,
    )


def demo_wait_indexed(*, organization: Organization, timeout_s: float, report) -> bool:
    """Wait until no document of ``organization`` is pending or processing.

    ``report(done, total)`` is called whenever progress changes. Returns False on timeout.
    """
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        with schema_context(organization.schema_name), organization_scope():
            total = Document.objects.count()
            done = Document.objects.filter(
                status__in=[DocumentStatus.INDEXED, DocumentStatus.FAILED]
            ).count()
        if (done, total) != last:
            report(done, total)
            last = (done, total)
        if done == total:
            return True
        time.sleep(1.0)
    return False
