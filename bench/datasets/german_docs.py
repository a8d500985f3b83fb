# ruff: noqa: E501, RUF001 (generated text: long German sentences and dashes are data)
"""Long German documents (policies, manuals, reports) with German and English questions.

Each document belongs to a fictional company and a document type; a handful of facts
(amounts, limits, dates, names) sit in their own sections among thousands of words of
generated, varied boilerplate, as in real handbooks. Companies write several document
types, and every company's travel policy looks alike, so a question must be matched by
company and by the fact asked for. German questions come in two phrasings, one with the
document's own words and one paraphrased; the English questions ask the same facts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

COMPANY_STEMS = [
    "Havel",
    "Elbtal",
    "Nordlicht",
    "Sonnenberg",
    "Weserstein",
    "Mainfeld",
    "Auenwald",
    "Kranich",
    "Lindenhof",
    "Moorbach",
    "Rheinblick",
    "Tannheim",
    "Isarwerk",
    "Falkenried",
    "Bergquell",
    "Seewinkel",
    "Hohenfels",
    "Kupferberg",
    "Donaufeld",
    "Ostwind",
    "Birkenau",
    "Eichgrund",
    "Schwanensee",
    "Steinhude",
]
COMPANY_SUFFIXES = [
    "GmbH",
    "AG",
    "Logistik GmbH",
    "Software AG",
    "Maschinenbau GmbH",
    "Energie AG",
    "Versicherung AG",
    "Medien GmbH",
]
CITIES = [
    "Leipzig",
    "Bremen",
    "Kassel",
    "Regensburg",
    "Rostock",
    "Freiburg",
    "Ulm",
    "Münster",
    "Erfurt",
    "Kiel",
    "Augsburg",
    "Potsdam",
    "Lübeck",
    "Trier",
    "Passau",
    "Jena",
]
PEOPLE = [
    "Dr. Annika Brandt",
    "Matthias Vogler",
    "Sabine Krüger",
    "Henrik Olbrich",
    "Petra Lindqvist",
    "Yusuf Demir",
    "Claudia Reinhold",
    "Jan-Ole Petersen",
    "Miriam Hoffmann",
    "Stefan Albers",
    "Leonie Gruber",
    "Thomas Wendt",
]

# A fact: section heading, sentence forms (German), German question with the document's
# words, paraphrased German question, English question. {c} = company, {v} = value.
FACT_KINDS: dict[str, list[dict]] = {
    "Reisekostenrichtlinie": [
        {
            "key": "tagegeld",
            "heading": "Verpflegungsmehraufwand",
            "value": lambda r: f"{r.choice([14, 18, 24, 28, 32])} Euro",
            "doc": [
                "Für jeden vollen Reisetag wird ein Tagegeld von {v} gezahlt.",
                "Der Verpflegungsmehraufwand wird mit einer Pauschale von {v} pro vollem Tag erstattet.",
            ],
            "de": "Wie hoch ist das Tagegeld bei Dienstreisen der {c}?",
            "de_para": "Wie viel Geld bekomme ich bei der {c} pro Reisetag fürs Essen?",
            "en": "What is the daily meal allowance for business trips at {c}?",
        },
        {
            "key": "hotel",
            "heading": "Übernachtungskosten",
            "value": lambda r: f"{r.choice([90, 110, 120, 135, 150, 170])} Euro",
            "doc": [
                "Übernachtungskosten werden bis zu einem Höchstbetrag von {v} pro Nacht erstattet.",
                "Für Hotelübernachtungen gilt eine Obergrenze von {v} je Nacht einschließlich Frühstück.",
            ],
            "de": "Bis zu welchem Betrag erstattet die {c} Übernachtungskosten?",
            "de_para": "Wie teuer darf ein Hotelzimmer pro Nacht bei der {c} höchstens sein?",
            "en": "What is the maximum hotel cost per night reimbursed by {c}?",
        },
        {
            "key": "km",
            "heading": "Fahrtkosten mit dem Privatfahrzeug",
            "value": lambda r: f"{r.choice([25, 30, 35, 38])} Cent",
            "doc": [
                "Bei Nutzung des privaten Pkw wird eine Kilometerpauschale von {v} je gefahrenem Kilometer gewährt."
            ],
            "de": "Wie hoch ist die Kilometerpauschale der {c}?",
            "de_para": "Was zahlt die {c}, wenn ich mit dem eigenen Auto zum Kunden fahre?",
            "en": "How much does {c} pay per kilometre for using a private car?",
        },
        {
            "key": "frist",
            "heading": "Abrechnung",
            "value": lambda r: f"{r.choice([14, 30, 60, 90])} Tagen",
            "doc": [
                "Die Reisekostenabrechnung ist innerhalb von {v} nach Ende der Reise einzureichen."
            ],
            "de": "Innerhalb welcher Frist muss die Reisekostenabrechnung bei der {c} eingereicht werden?",
            "de_para": "Wie lange habe ich bei der {c} Zeit, meine Reisebelege abzugeben?",
            "en": "What is the deadline for submitting travel expense claims at {c}?",
        },
    ],
    "Homeoffice-Richtlinie": [
        {
            "key": "tage",
            "heading": "Umfang der mobilen Arbeit",
            "value": lambda r: f"{r.choice([2, 3, 4])} Tage",
            "doc": ["Beschäftigte können bis zu {v} pro Woche mobil arbeiten."],
            "de": "Wie viele Tage pro Woche darf man bei der {c} mobil arbeiten?",
            "de_para": "Wie oft in der Woche kann ich bei der {c} von zu Hause aus arbeiten?",
            "en": "How many days per week can employees of {c} work from home?",
        },
        {
            "key": "zuschuss",
            "heading": "Kostenzuschuss",
            "value": lambda r: f"{r.choice([20, 30, 40, 50])} Euro",
            "doc": [
                "Für Strom, Internet und Heizung zahlt das Unternehmen einen monatlichen Zuschuss von {v}."
            ],
            "de": "Wie hoch ist der monatliche Homeoffice-Zuschuss der {c}?",
            "de_para": "Bekomme ich bei der {c} Geld für Internet und Strom zu Hause, und wie viel?",
            "en": "How much is the monthly home office allowance at {c}?",
        },
        {
            "key": "kernzeit",
            "heading": "Erreichbarkeit",
            "value": lambda r: f"{r.choice([9, 10])} bis {r.choice([14, 15, 16])} Uhr",
            "doc": ["Während der Kernarbeitszeit von {v} ist die Erreichbarkeit sicherzustellen."],
            "de": "Wann ist die Kernarbeitszeit bei der {c}?",
            "de_para": "Zu welchen Uhrzeiten muss ich bei der {c} im Homeoffice erreichbar sein?",
            "en": "What are the core working hours at {c}?",
        },
    ],
    "IT-Sicherheitsrichtlinie": [
        {
            "key": "passwort",
            "heading": "Passwörter",
            "value": lambda r: f"{r.choice([10, 12, 14, 16])} Zeichen",
            "doc": [
                "Passwörter müssen mindestens {v} lang sein und dürfen nicht wiederverwendet werden."
            ],
            "de": "Wie lang muss ein Passwort bei der {c} mindestens sein?",
            "de_para": "Wie viele Zeichen braucht ein Kennwort bei der {c}?",
            "en": "What is the minimum password length at {c}?",
        },
        {
            "key": "meldung",
            "heading": "Meldung von Sicherheitsvorfällen",
            "value": lambda r: f"{r.choice([1, 2, 4, 24])} Stunden",
            "doc": ["Sicherheitsvorfälle sind innerhalb von {v} dem IT-Sicherheitsteam zu melden."],
            "de": "Innerhalb welcher Zeit müssen Sicherheitsvorfälle bei der {c} gemeldet werden?",
            "de_para": "Wie schnell muss ich bei der {c} Bescheid geben, wenn mein Laptop gehackt wurde?",
            "en": "How quickly must security incidents be reported at {c}?",
        },
        {
            "key": "sperre",
            "heading": "Kontosperrung",
            "value": lambda r: f"{r.choice([3, 5, 6, 10])} Fehlversuchen",
            "doc": ["Nach {v} wird das Benutzerkonto automatisch für 30 Minuten gesperrt."],
            "de": "Nach wie vielen Fehlversuchen sperrt die {c} ein Benutzerkonto?",
            "de_para": "Wie oft darf ich mich bei der {c} vertippen, bevor mein Zugang blockiert wird?",
            "en": "After how many failed login attempts is an account locked at {c}?",
        },
    ],
    "Bedienungsanleitung": [
        {
            "key": "entkalken",
            "heading": "Reinigung und Entkalkung",
            "value": lambda r: f"{r.choice([2, 4, 6, 8])} Wochen",
            "doc": ["Das Gerät ist alle {v} zu entkalken, bei hartem Wasser häufiger."],
            "de": "Wie oft muss das Gerät {m} der {c} entkalkt werden?",
            "de_para": "In welchen Abständen sollte man beim {m} von {c} den Kalk entfernen?",
            "en": "How often should the {m} from {c} be descaled?",
        },
        {
            "key": "garantie",
            "heading": "Garantie",
            "value": lambda r: f"{r.choice([2, 3, 5])} Jahre",
            "doc": [
                "Der Hersteller gewährt auf das Modell {m} eine Garantie von {v} ab Kaufdatum."
            ],
            "de": "Wie lange ist die Garantie auf das Modell {m} der {c}?",
            "de_para": "Wie viele Jahre deckt der Hersteller {c} Defekte beim {m} ab?",
            "en": "How long is the warranty on the {m} made by {c}?",
        },
        {
            "key": "fehler",
            "heading": "Fehlercodes",
            "value": lambda r: r.choice(
                ["Wassertank leer", "Überhitzung", "Filter verstopft", "Sensor defekt"]
            ),
            "doc": [
                "Der Fehlercode E{e} bedeutet: {v}. Schalten Sie das Gerät aus und wenden Sie sich an den Kundendienst."
            ],
            "de": "Was bedeutet der Fehlercode E{e} beim {m} der {c}?",
            "de_para": "Mein {m} von {c} zeigt E{e} an – was ist los?",
            "en": "What does error code E{e} mean on the {m} by {c}?",
        },
    ],
    "Quartalsbericht": [
        {
            "key": "umsatz",
            "heading": "Umsatzentwicklung",
            "value": lambda r: f"{r.randint(12, 480)},{r.randint(1, 9)} Millionen Euro",
            "doc": [
                "Im Berichtsquartal erzielte die Gesellschaft einen Umsatz von {v}.",
                "Der Umsatz belief sich im Quartal auf {v}.",
            ],
            "de": "Wie hoch war der Umsatz der {c} im {q}?",
            "de_para": "Wie viel hat die {c} im {q} eingenommen?",
            "en": "What was the revenue of {c} in {q_en}?",
        },
        {
            "key": "standort",
            "heading": "Standorte",
            "value": lambda r: r.choice(CITIES),
            "doc": ["Im Berichtszeitraum wurde ein neuer Standort in {v} eröffnet."],
            "de": "Wo hat die {c} im {q} einen neuen Standort eröffnet?",
            "de_para": "In welcher Stadt ist die {c} im {q} neu vertreten?",
            "en": "Where did {c} open a new site in {q_en}?",
        },
        {
            "key": "vorstand",
            "heading": "Personalien",
            "value": lambda r: r.choice(PEOPLE),
            "doc": ["Mit Wirkung zum Quartalsende übernahm {v} den Vorsitz der Geschäftsführung."],
            "de": "Wer übernahm im {q} den Vorsitz der Geschäftsführung der {c}?",
            "de_para": "Wer ist seit dem {q} Chef der {c}?",
            "en": "Who became chief executive of {c} in {q_en}?",
        },
    ],
    "Urlaubsregelung": [
        {
            "key": "urlaub",
            "heading": "Urlaubsanspruch",
            "value": lambda r: f"{r.choice([26, 27, 28, 30])} Arbeitstage",
            "doc": ["Der jährliche Urlaubsanspruch beträgt {v} bei einer Fünftagewoche."],
            "de": "Wie viele Urlaubstage haben Beschäftigte der {c}?",
            "de_para": "Wie viel Urlaub bekomme ich im Jahr bei der {c}?",
            "en": "How many days of annual leave do employees of {c} get?",
        },
        {
            "key": "uebertrag",
            "heading": "Übertragung von Resturlaub",
            "value": lambda r: r.choice(["31. März", "30. April", "30. Juni"]),
            "doc": ["Nicht genommener Urlaub kann bis zum {v} des Folgejahres übertragen werden."],
            "de": "Bis wann kann Resturlaub bei der {c} übertragen werden?",
            "de_para": "Bis zu welchem Datum verfallen alte Urlaubstage bei der {c} nicht?",
            "en": "Until when can unused leave be carried over at {c}?",
        },
    ],
}
DEVICE_MODELS = [
    "Kaffeevollautomat",
    "Dampfgarer",
    "Luftbefeuchter",
    "Wasserkocher",
    "Espressomaschine",
    "Sous-vide-Garer",
]

# Boilerplate grammar: enough combinations that no two paragraphs are alike.
SUBJECTS = [
    "Die Personalabteilung",
    "Die zuständige Führungskraft",
    "Der Betriebsrat",
    "Jede Mitarbeiterin und jeder Mitarbeiter",
    "Die Fachabteilung",
    "Das Controlling",
    "Die Geschäftsführung",
    "Der Datenschutzbeauftragte",
    "Das Team Qualitätssicherung",
    "Die Rechtsabteilung",
    "Der Kundendienst",
    "Die Revision",
]
VERBS = [
    "prüft",
    "dokumentiert",
    "genehmigt",
    "bewertet",
    "überwacht",
    "koordiniert",
    "bestätigt",
    "archiviert",
    "bearbeitet",
    "begleitet",
]
OBJECTS = [
    "die eingereichten Unterlagen",
    "den jeweiligen Antrag",
    "alle Änderungen",
    "die Einhaltung dieser Regelung",
    "die Angaben der Beschäftigten",
    "die Ergebnisse der Stichproben",
    "die Abläufe im Tagesgeschäft",
    "die Schulungsmaßnahmen",
    "die erforderlichen Nachweise",
    "die Abweichungen",
]
TAILS = [
    "innerhalb der üblichen Fristen",
    "in Abstimmung mit dem Betriebsrat",
    "im Rahmen der geltenden gesetzlichen Vorschriften",
    "nach dem Vier-Augen-Prinzip",
    "spätestens zum Ende des Quartals",
    "unter Beachtung des Datenschutzes",
    "sofern keine abweichende Vereinbarung besteht",
    "in schriftlicher oder elektronischer Form",
    "gemäß den Vorgaben des Konzerns",
    "im Einzelfall auch kurzfristig",
]
CONNECTORS = [
    "Darüber hinaus",
    "Im Übrigen",
    "Grundsätzlich gilt:",
    "Ergänzend",
    "In begründeten Ausnahmefällen",
    "Soweit erforderlich",
    "Zudem",
    "Ferner",
]
CLAUSES = [
    "sind Rückfragen an die zuständige Stelle zu richten",
    "werden Abweichungen gesondert begründet",
    "bleibt die Verantwortung bei der Fachabteilung",
    "gelten die Bestimmungen des Arbeitsvertrags vorrangig",
    "ist eine Dokumentation im zentralen System vorzunehmen",
    "erfolgt eine jährliche Überprüfung dieser Regelung",
    "sind die Hinweise im Intranet zu beachten",
    "wird die Einhaltung stichprobenartig kontrolliert",
]
GENERIC_HEADINGS = [
    "Zweck und Geltungsbereich",
    "Begriffsbestimmungen",
    "Zuständigkeiten",
    "Verfahren",
    "Dokumentation",
    "Ausnahmen",
    "Schulung und Information",
    "Kontrolle und Revision",
    "Inkrafttreten",
    "Übergangsregelungen",
    "Ansprechpartner",
    "Mitgeltende Unterlagen",
    "Datenschutz",
    "Risikobewertung",
    "Ausblick",
    "Marktumfeld",
]


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."
        )
    return f"{rng.choice(CONNECTORS)} {rng.choice(CLAUSES)}."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


@dataclass
class DocFact:
    doc_id: str
    de: str
    de_para: str
    en: str


def german_set(rng: random.Random, *, documents: int) -> tuple[list[dict], list[DocFact]]:
    companies = [f"{stem} {suffix}" for stem in COMPANY_STEMS for suffix in COMPANY_SUFFIXES]
    rng.shuffle(companies)
    companies = companies[:60]
    kinds = list(FACT_KINDS)
    seen: set[tuple[str, str, str]] = set()
    pages: list[dict] = []
    facts: list[DocFact] = []
    n = 0
    while len(pages) < documents:
        company, kind = rng.choice(companies), rng.choice(kinds)
        model = f"{rng.choice(DEVICE_MODELS)} {rng.choice('ABKMRTXZ')}-{rng.randint(100, 990)}"
        quarter = rng.randint(1, 4)
        year = rng.randint(2019, 2025)
        q, q_en = f"{quarter}. Quartal {year}", f"Q{quarter} {year}"
        identity = (
            company,
            kind,
            model if kind == "Bedienungsanleitung" else q if kind == "Quartalsbericht" else "",
        )
        if identity in seen:
            continue
        seen.add(identity)
        doc_id = f"de-{n:04d}"
        n += 1
        words_target = min(int(1350 + rng.expovariate(1 / 600)), 5200)
        title = {
            "Bedienungsanleitung": f"Bedienungsanleitung {model} – {company}",
            "Quartalsbericht": f"Quartalsbericht {q} – {company}",
        }.get(kind, f"{kind} der {company} (Stand {rng.randint(1, 12):02d}/{year})")
        slots = {"c": company, "m": model, "q": q, "q_en": q_en, "e": rng.randint(1, 9)}
        fact_sections = []
        for spec in FACT_KINDS[kind]:
            value = spec["value"](rng)
            sentence = rng.choice(spec["doc"]).format(v=value, **slots)
            fact_sections.append((spec["heading"], sentence))
            facts.append(
                DocFact(
                    doc_id,
                    spec["de"].format(**slots),
                    spec["de_para"].format(**slots),
                    spec["en"].format(**slots),
                )
            )
        headings = rng.sample(GENERIC_HEADINGS, 6)
        sections = [(h, None) for h in headings] + fact_sections
        rng.shuffle(sections)
        sections.insert(0, ("Zweck und Geltungsbereich", None))
        body: list[str] = []
        words = 0
        per_section = max(words_target // len(sections), 80)
        for number, (heading, fact) in enumerate(sections, start=1):
            body.append(f"## {number}. {heading}")
            section_words = 0
            paragraphs: list[str] = []
            while section_words < per_section:
                paragraph = _paragraph(rng, rng.randint(3, 7))
                paragraphs.append(paragraph)
                section_words += len(paragraph.split())
            if fact:
                paragraphs.insert(
                    rng.randrange(len(paragraphs) + 1) if len(paragraphs) > 1 else 0, fact
                )
            body += paragraphs
            words += section_words
        intro = (
            f"Diese {kind} gilt für alle Beschäftigten der {company}."
            if kind not in ("Bedienungsanleitung", "Quartalsbericht")
            else f"Dieses Dokument der {company} betrifft {model if kind == 'Bedienungsanleitung' else q}."
        )
        pages.append({"_id": doc_id, "title": title, "text": intro + "\n\n" + "\n\n".join(body)})
    return pages, facts
