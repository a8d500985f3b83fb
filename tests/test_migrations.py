"""The migrations match the models: nothing is left for ``makemigrations`` to write.

A model moved between apps with a state-only migration (``ingestion.Posting``, which
was ``search.Posting``: its table stays ``search_posting``) only keeps its table,
indexes and row-level security if the migrations' state is exactly the model; a
difference would make the next ``makemigrations`` write an operation on that table.
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
