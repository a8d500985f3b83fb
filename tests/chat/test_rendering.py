"""The answer renderer: numbered sources linking to the passage, splitting within each
platform's limits, Slack's mrkdwn."""

from __future__ import annotations

from types import SimpleNamespace

from chat.adapters.base import AnswerView, Source
from chat.adapters.mattermost import POST_CHARS, MattermostAdapter
from chat.adapters.slack import SECTION_CHARS, SlackAdapter, mrkdwn
from chat.rendering import passage_link, sources_from_citations, text_split

PLATFORM = SimpleNamespace(portal_url="https://acme.example/", api_url="https://slack.com/api/")


def _long_answer(words: int) -> str:
    sentence = "Staff park in garage B on level two [1]. "
    return (sentence * (words // 8)).strip()


def test_text_split_keeps_every_word_and_the_limit():
    text = "\n\n".join(_long_answer(200) for _ in range(10))
    pieces = text_split(text, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
    # Cut at a paragraph or sentence end, not mid-word.
    assert all(p.endswith((".", "]")) for p in pieces)


def test_a_word_longer_than_the_limit_is_cut():
    assert text_split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_sources_link_to_the_passage_in_the_portal():
    (source,) = sources_from_citations(
        [
            {
                "number": 1,
                "document_id": 7,
                "chunk_id": 88,
                "document_title": "Runbook",
                "heading_path": ["VPN", "Tokens"],
            }
        ],
        "https://acme.example/",
    )
    assert source.url == "https://acme.example/documents/7/#chunk-88"
    assert source.where == "VPN > Tokens"
    assert passage_link("https://acme.example", 7, None) == "https://acme.example/documents/7/"


def test_slack_splits_long_answers_into_sections_within_3000_characters():
    adapter = SlackAdapter(PLATFORM, {})
    view = AnswerView(
        text=_long_answer(2000),
        sources=[
            Source(1, "Parking <policy>", "Garage", "https://acme.example/documents/1/#chunk-2")
        ],
        answer_id=5,
    )
    parts = adapter.render(view)
    assert len(parts) > 1
    for part in parts:
        for block in part["blocks"]:
            text = block.get("text", {}).get("text", "")
            assert len(text) <= SECTION_CHARS
    last = parts[-1]["blocks"]
    assert "<https://acme.example/documents/1/#chunk-2|Parking &lt;policy&gt;>" in str(last)
    assert last[-1]["type"] == "actions"
    assert [e["value"] for e in last[-1]["elements"]] == ["5", "5"]


def test_mrkdwn_escapes_and_converts():
    assert (
        mrkdwn("**a** <b> & [x](https://e.example/y)")
        == "*a* &lt;b&gt; &amp; <https://e.example/y|x>"
    )


def test_mattermost_parts_stay_within_the_post_limit():
    adapter = MattermostAdapter(PLATFORM, {"action_secret": "s"})
    view = AnswerView(
        text=_long_answer(3000),
        sources=[Source(1, "Parking", "", "https://acme.example/documents/1/#chunk-2")],
        answer_id=3,
    )
    parts = adapter.render(view)
    assert len(parts) > 1
    assert all(len(p["message"]) <= POST_CHARS for p in parts)
    assert "1. [Parking](https://acme.example/documents/1/#chunk-2)" in parts[-1]["message"]
    assert (
        parts[-1]["props"]["attachments"][0]["actions"][0]["integration"]["context"]["answer"] == 3
    )
