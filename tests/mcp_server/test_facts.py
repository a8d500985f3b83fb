"""The MCP ``ask`` tool gives the facts of a question about attributes and numbers as
``POST /api/v1/ask`` does (in ``structuredContent``, links absolute), and shows them as a
table after the JSON text; a restricted document's facts reach only its readers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import token_client
from tests.mcp_server.test_endpoint import tool
from tests.search.test_fact_answers import QUESTION, rowers  # noqa: F401 - the fixture


def _ask(world, make_token, email: str, question: str) -> dict:
    client = token_client(world.acme, make_token(world.acme, email, scopes=["ask"]))
    result = tool(client, "ask", question=question, workspace="sales")
    assert not result.get("isError"), result
    return result


@pytest.mark.usefixtures("rowers")
def test_ask_gives_the_facts_its_caller_may_read_as_data_and_as_a_table(
    world,
    acme,
    make_token,
    rowers,  # noqa: F811
):
    result = _ask(world, make_token, "bob@acme.example", QUESTION)
    answer = result["structuredContent"]
    assert {row["entity"] for row in answer["facts"]} == {"Ann Lind", "Bo Berg"}
    site = f"http://{world.acme.domain}"
    ann = next(row for row in answer["facts"] if row["entity"] == "Ann Lind")
    assert ann["url"].startswith(f"{site}/documents/{rowers['ann.md']}/#chunk-")
    [height] = ann["facts"]
    assert (height["label"], height["value"]) == ("Height", "1.96 m")
    passage = f"{site}/documents/{rowers['ann.md']}/#chunk-{height['chunk_id']}"
    assert height["url"] == passage

    data, table = result["content"]
    assert json.loads(data["text"]) == answer  # the JSON first, as every tool gives it
    lines = table["text"].splitlines()
    assert lines[0] == "## Matching facts"
    assert "| What | Facts | Source |" in lines
    assert f"| Ann Lind | Height: [1.96 m]({passage}) | [Ann Lind]({ann['url']}) |" in lines
    assert any(line.startswith("| Bo Berg | Height: [6 ft 7 in (201 cm)](") for line in lines)
    # Eve's page is for the finance group: bob's answer shows nothing of it.
    assert "Eve Gran" not in json.dumps(result)

    admin = _ask(world, make_token, "alice@acme.example", QUESTION)
    assert "| Eve Gran | Height: [2.05 m](" in admin["content"][1]["text"]
    assert {row["entity"] for row in admin["structuredContent"]["facts"]} == {
        "Ann Lind",
        "Bo Berg",
        "Eve Gran",
    }


@pytest.mark.usefixtures("rowers")
def test_a_question_without_a_condition_on_a_number_has_no_table(world, acme, make_token):
    result = _ask(world, make_token, "bob@acme.example", "Who is Ann Lind?")
    assert result["structuredContent"]["facts"] == []
    [data] = result["content"]
    assert json.loads(data["text"]) == result["structuredContent"]


def test_the_table_keeps_a_value_with_table_or_link_characters_in_its_cell():
    from mcp_server.tools import facts_table

    url = "https://acme.example/documents/3/#chunk-9"
    row = {
        "entity": "Plan A|B",
        "document_title": "Prices [draft]",
        "url": url,
        "facts": [{"label": "Price", "value": "EUR 40\n(net)", "url": url}],
    }
    table = facts_table({"mode": "extractive", "facts": [row]})
    assert table.splitlines()[-1] == (
        f"| Plan A\\|B | Price: [EUR 40 (net)]({url}) | [Prices \\[draft\\]]({url}) |"
    )
