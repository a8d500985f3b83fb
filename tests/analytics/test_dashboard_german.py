"""The dashboard in German: chart titles, legends and table headers in the reader's
language; the CSV keeps its English header (scripts read it)."""

from __future__ import annotations

from tests.analytics.test_access import PERIOD
from tests.conftest import portal_client


def test_the_dashboard_speaks_german_and_the_csv_stays_english(history, world):
    ana = portal_client(world.acme, "ana@acme.example")
    query = {"workspace": "general", **PERIOD}
    body = ana.get("/analytics/", query, HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()
    for german in (
        "Beantwortet vs. „nicht in den Dokumenten“",
        "Feedback: Anteil hilfreich und nicht hilfreich",
        "LLM-Tokens pro Tag",
        '<th scope="col">Kanal</th>',
        '<th scope="col" class="num">Fragen</th>',
        "Anteil beantwortet",
        "Tabelle: nach Kanal",
    ):
        assert german in body
    for english in ("Answered vs", "LLM tokens per day", "Answered rate", "by channel"):
        assert english not in body

    csv = ana.get("/analytics/export/channels.csv", query, HTTP_ACCEPT_LANGUAGE="de-DE")
    assert csv.content.decode().splitlines()[0].startswith("Channel,Questions,People")
