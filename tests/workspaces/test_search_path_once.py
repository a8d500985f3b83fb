"""Indexing's and the embedding queue's transactions send the organization's search path
once, and never trust one that a rollback took back (``workspaces.rls.backend``)."""

from __future__ import annotations

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from workspaces.models import Workspace
from workspaces.rls.backend.base import search_path_once_per_transaction


class Boom(Exception):
    pass


def _current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def _sets(queries: CaptureQueriesContext) -> int:
    return sum(
        1 for query in queries.captured_queries if query["sql"].startswith("SET search_path")
    )


def test_a_transaction_in_the_block_sends_the_search_path_once(acme):
    with search_path_once_per_transaction(), transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            for _ in range(3):
                Workspace.objects.count()
        assert _current_schema() == acme.schema
    assert _sets(queries) <= 1


def test_outside_the_block_every_cursor_sends_it(acme):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            Workspace.objects.count()
    assert _sets(queries) == 3


def test_a_switch_inside_the_transaction_sends_the_new_path(acme, globex):
    with search_path_once_per_transaction(), transaction.atomic():
        assert _current_schema() == acme.schema
        with schema_context(globex.schema):
            assert _current_schema() == globex.schema
        assert _current_schema() == acme.schema


def _switch_to_in_a_savepoint_rolled_back(org) -> str:
    """Switch to ``org`` inside a savepoint that is rolled back; the switch stays."""
    try:
        with transaction.atomic():
            connection.set_tenant(org.organization)
            seen = _current_schema()
            raise Boom
    except Boom:
        return seen


def test_a_rollback_to_a_savepoint_never_leaves_another_organizations_path(acme, globex):
    """The savepoint's rollback takes back the SET made inside it: the database is in
    Acme's schema again while Globex's is wanted, and the next statement must send it
    again rather than run in Acme's schema."""
    with search_path_once_per_transaction(), transaction.atomic():
        assert _current_schema() == acme.schema
        try:
            assert _switch_to_in_a_savepoint_rolled_back(globex) == globex.schema
            assert _current_schema() == globex.schema
        finally:
            connection.set_tenant(acme.organization)
        assert _current_schema() == acme.schema
