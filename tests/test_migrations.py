"""The migrations match the models: nothing is left for ``makemigrations`` to write.

A table whose state was changed by hand (``ingestion_chunk``'s covering index, declared
in state only by ingestion migration 0017) keeps its indexes and row-level security only
if the migrations' state is exactly the model; a difference would make the next
``makemigrations`` write an operation on that table.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_migration_is_missing():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:
        pytest.fail(f"makemigrations would write a migration:\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()
