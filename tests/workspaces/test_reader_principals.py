"""The reader principal format: what people type and what connectors report."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from workspaces.readers import ReaderScope, readers_coerce, readers_normalize


def test_typed_readers_are_normalized():
    typed = ["Ann@Example.com", "user:bob@example.com ", "group:finance", "Finance", "finance"]
    assert readers_normalize(typed) == [
        "group:finance",
        "user:ann@example.com",
        "user:bob@example.com",
    ]
    assert readers_normalize([]) == []


@pytest.mark.parametrize(
    "bad", ["not a reader!", "user:not-an-email", "group:Has Spaces", "role:admin", ""]
)
def test_bad_typed_readers_are_refused_by_name(bad):
    with pytest.raises(ValidationError) as caught:
        readers_normalize(["group:ok", bad])
    assert any(repr(bad.strip()) in message or bad in message for message in caught.value.messages)


def test_too_many_readers_are_refused():
    with pytest.raises(ValidationError):
        readers_normalize([f"group:g{i}" for i in range(201)])


def test_connector_values_map_onto_the_format_and_are_never_dropped():
    reported = [
        "Ann@Example.com",
        "Finance Team",
        "group:Sales EMEA",
        "confluence-group:Ωmega",
        "ΩΩ",
    ]
    assert readers_coerce(reported) == sorted(
        [
            "user:ann@example.com",
            "group:finance-team",
            "group:sales-emea",
            # Not ours to interpret, or nothing left after slugifying: kept, matching nobody.
            "confluence-group:Ωmega",
            "ΩΩ",
        ]
    )


def test_scope_reads_open_documents_its_principals_and_its_admin_workspaces():
    scope = ReaderScope(principals=("user:bob@example.com", "group:sales"), all_in_workspaces=(7,))
    assert scope.can_read(workspace_id=1, readers=[])
    assert scope.can_read(workspace_id=1, readers=["group:sales", "group:hr"])
    assert not scope.can_read(workspace_id=1, readers=["group:hr"])
    assert scope.can_read(workspace_id=7, readers=["group:hr"])
