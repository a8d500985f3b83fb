# ruff: noqa: E501, B023, RUF001 (sentence templates are data; each lambda is called at once; dashes are separators)
"""The catalogue: companies, software projects, medicines and ships, in English and German.

A second entity set, written independently of ``entities.py`` to test whether the facts
step and the fusion generalise beyond the pages they were built with. Other domains,
other page shapes and other spellings: prose-only pages with every attribute inside a
sentence, wiki infobox source (``| founded = 1998``), Markdown infobox tables headed by
the entity's name, bullet lists with dashes, arrows or equals signs between key and
value, aligned "fact sheet" columns; amounts as "€2.4m", "2,4 Mio. EUR", "EUR 1.2
billion", lengths as "185.4 m", "608 ft (185.4 m)", "185,4 Meter". About a quarter of the
pages are in German. Relevance is computed from the generated attributes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

# (English name, German name, English adjective, German adjective stem)
COUNTRIES = [
    ("Denmark", "Dänemark", "Danish", "dänisch"),
    ("Norway", "Norwegen", "Norwegian", "norwegisch"),
    ("Sweden", "Schweden", "Swedish", "schwedisch"),
    ("Finland", "Finnland", "Finnish", "finnisch"),
    ("the Netherlands", "den Niederlanden", "Dutch", "niederländisch"),
    ("Belgium", "Belgien", "Belgian", "belgisch"),
    ("Austria", "Österreich", "Austrian", "österreichisch"),
    ("Switzerland", "der Schweiz", "Swiss", "schweizerisch"),
    ("Portugal", "Portugal", "Portuguese", "portugiesisch"),
    ("Ireland", "Irland", "Irish", "irisch"),
    ("Estonia", "Estland", "Estonian", "estnisch"),
    ("Spain", "Spanien", "Spanish", "spanisch"),
]
# (English, English plural, German, German plural, German gender)
INDUSTRIES = [
    ("shipping company", "shipping companies", "Reederei", "Reedereien", "f"),
    ("software company", "software companies", "Softwarehersteller", "Softwarehersteller", "m"),
    (
        "pharmaceutical company",
        "pharmaceutical companies",
        "Pharmaunternehmen",
        "Pharmaunternehmen",
        "n",
    ),
    ("food producer", "food producers", "Lebensmittelhersteller", "Lebensmittelhersteller", "m"),
    ("insurer", "insurers", "Versicherer", "Versicherer", "m"),
    ("furniture maker", "furniture makers", "Möbelhersteller", "Möbelhersteller", "m"),
    ("robotics firm", "robotics firms", "Robotikunternehmen", "Robotikunternehmen", "n"),
    ("textile manufacturer", "textile manufacturers", "Textilhersteller", "Textilhersteller", "m"),
]
SOFTWARE_KINDS = [
    ("database", "databases", "Datenbank", "Datenbanken", "f"),
    ("web framework", "web frameworks", "Webframework", "Webframeworks", "n"),
    ("text editor", "text editors", "Texteditor", "Texteditoren", "m"),
    ("compiler", "compilers", "Compiler", "Compiler", "m"),
    ("message broker", "message brokers", "Message-Broker", "Message-Broker", "m"),
    (
        "image processing library",
        "image processing libraries",
        "Bildverarbeitungsbibliothek",
        "Bildverarbeitungsbibliotheken",
        "f",
    ),
    (
        "static site generator",
        "static site generators",
        "Generator für statische Websites",
        "Generatoren für statische Websites",
        "m",
    ),
]
LANGUAGES = ["Rust", "Go", "C", "Python", "Java", "OCaml", "Zig", "Kotlin", "TypeScript"]
LICENCES = ["MIT", "Apache 2.0", "GPLv3", "BSD-3-Clause", "MPL 2.0", "LGPL 2.1"]
DRUG_CLASSES = [
    ("antibiotic", "antibiotics", "Antibiotikum", "Antibiotika", "n"),
    ("antihistamine", "antihistamines", "Antihistaminikum", "Antihistaminika", "n"),
    ("beta blocker", "beta blockers", "Betablocker", "Betablocker", "m"),
    ("anticoagulant", "anticoagulants", "Gerinnungshemmer", "Gerinnungshemmer", "m"),
    ("antiviral", "antivirals", "Virostatikum", "Virostatika", "n"),
    ("painkiller", "painkillers", "Schmerzmittel", "Schmerzmittel", "n"),
    ("statin", "statins", "Statin", "Statine", "n"),
    ("antidepressant", "antidepressants", "Antidepressivum", "Antidepressiva", "n"),
]
SHIP_TYPES = [
    ("ferry", "ferries", "Fähre", "Fähren", "f"),
    ("container ship", "container ships", "Containerschiff", "Containerschiffe", "n"),
    ("research vessel", "research vessels", "Forschungsschiff", "Forschungsschiffe", "n"),
    ("icebreaker", "icebreakers", "Eisbrecher", "Eisbrecher", "m"),
    ("tanker", "tankers", "Tanker", "Tanker", "m"),
    ("cruise ship", "cruise ships", "Kreuzfahrtschiff", "Kreuzfahrtschiffe", "n"),
]
SYLLABLES = [
    "vel",
    "mor",
    "bran",
    "nik",
    "ost",
    "ra",
    "ket",
    "lun",
    "dar",
    "sol",
    "vik",
    "tam",
    "ber",
    "quil",
    "zen",
    "tra",
    "hal",
    "dor",
    "pel",
    "mar",
    "ska",
    "rin",
    "gul",
    "fen",
    "tor",
    "sa",
    "bri",
    "vo",
    "lex",
    "ny",
    "ar",
    "cal",
    "ith",
    "om",
    "ru",
    "kes",
]
COMPANY_SUFFIXES = [
    "Group",
    "Holding",
    "Works",
    "Industries",
    "AS",
    "AB",
    "Oy",
    "BV",
    "GmbH",
    "SA",
    "& Co",
]
FIRST = [
    "Ines",
    "Tomas",
    "Greta",
    "Jonas",
    "Mira",
    "Pavel",
    "Sanne",
    "Ruben",
    "Lotte",
    "Anders",
    "Eva",
    "Nils",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Brandt",
    "Moreau",
    "Haugen",
    "Costa",
    "Virtanen",
    "Maas",
    "Keller",
    "Novak",
    "Byrne",
    "Ferreira",
]


def _a(phrase: str) -> str:
    """The phrase with its indefinite article: "an insurer", "a ferry"."""
    return f"{'an' if phrase[0].lower() in 'aeiou' else 'a'} {phrase}"


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


@dataclass
class Item:
    id: str
    kind: str  # "company", "software", "medicine", "ship"
    name: str
    german: bool
    a: dict = field(default_factory=dict)


# --- Numbers as written -----------------------------------------------------------------


def en_int(n: int) -> str:
    return f"{n:,}"


def de_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def de_dec(x: float, decimals: int = 1) -> str:
    return f"{x:,.{decimals}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def money_en(eur: float, rng: random.Random) -> str:
    if eur >= 1e9:
        b = f"{eur / 1e9:.1f}".rstrip("0").rstrip(".")
        return rng.choice([f"€{b}bn", f"EUR {b} billion", f"{b} billion euros"])
    if eur >= 1e6:
        m = f"{eur / 1e6:.1f}".rstrip("0").rstrip(".")
        forms = [f"€{m}m", f"EUR {m} million", f"{m} million euros", f"€{m} million"]
        if eur < 1e8:
            forms.append(f"€{int(eur):,}")
        return rng.choice(forms)
    return rng.choice([f"€{eur:,.2f}", f"EUR {eur:,.2f}", f"{eur:,.2f} euros"])


def money_de(eur: float, rng: random.Random) -> str:
    if eur >= 1e9:
        b = de_dec(eur / 1e9).removesuffix(",0")
        return rng.choice([f"{b} Mrd. €", f"{b} Milliarden Euro", f"{b} Mrd. EUR"])
    if eur >= 1e6:
        m = de_dec(eur / 1e6).removesuffix(",0")
        forms = [f"{m} Mio. EUR", f"{m} Millionen Euro", f"{m} Mio. €"]
        if eur < 1e8:
            forms.append(f"{de_int(int(eur))} €")
        return rng.choice(forms)
    return rng.choice([f"{de_dec(eur, 2)} €", f"{de_dec(eur, 2)} Euro", f"EUR {de_dec(eur, 2)}"])


def length_en(m: float, rng: random.Random) -> str:
    feet = round(m / 0.3048)
    return rng.choice([f"{m:.1f} m", f"{m:.1f} metres", f"{feet} ft ({m:.1f} m)", f"{m:.1f}m"])


def length_de(m: float, rng: random.Random) -> str:
    return rng.choice([f"{de_dec(m)} m", f"{de_dec(m)} Meter", f"{de_dec(m)} Metern"])


# --- Entities ---------------------------------------------------------------------------


def _revenue(employees: int, rng: random.Random) -> float:
    eur = employees * rng.uniform(60_000, 260_000)
    if eur >= 1e9:
        return round(eur / 1e8) * 1e8
    if eur >= 1e8:
        return round(eur / 1e6) * 1e6
    return round(eur / 1e5) * 1e5


def items_make(
    rng: random.Random, *, companies: int, software: int, medicines: int, ships: int
) -> list[Item]:
    used: set[str] = set()

    def fresh(make) -> str:
        while True:
            name = make()
            if name not in used and name.lower() not in {u.lower() for u in used}:
                used.add(name)
                return name

    cities = {
        c[0]: [
            _word(rng, 2) + rng.choice(["by", "holm", "stad", "berg", "ia", "ville", "ona"])
            for _ in range(4)
        ]
        for c in COUNTRIES
    }
    items: list[Item] = []
    for _ in range(companies):
        country = rng.choice(COUNTRIES)
        industry = rng.choice(INDUSTRIES)
        employees = int(round(10 ** rng.uniform(1.6, 4.7), -1))
        items.append(
            Item(
                "",
                "company",
                fresh(lambda: f"{_word(rng, 2)} {rng.choice(COMPANY_SUFFIXES)}"),
                rng.random() < 0.3,
                {
                    "country": country,
                    "industry": industry,
                    "city": rng.choice(cities[country[0]]),
                    "founded": rng.randint(1885, 2021),
                    "employees": employees,
                    "revenue": _revenue(employees, rng),
                    "fiscal": rng.choice([2022, 2023, 2024]),
                    "ceo": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                },
            )
        )
    company_names = [i.name for i in items]
    pharma = [i.name for i in items if i.a["industry"][0] == "pharmaceutical company"]
    shipping = [i.name for i in items if i.a["industry"][0] == "shipping company"]
    for _ in range(software):
        first = rng.randint(1994, 2024)
        items.append(
            Item(
                "",
                "software",
                fresh(
                    lambda: (
                        _word(rng, rng.choice([2, 3])).lower()
                        + rng.choice(["", "db", "js", "kit", "ly", "x"])
                    )
                ),
                rng.random() < 0.2,
                {
                    "kind": rng.choice(SOFTWARE_KINDS),
                    "language": rng.choice(LANGUAGES),
                    "licence": rng.choice(LICENCES),
                    "first": first,
                    "version": f"{rng.randint(0, 9)}.{rng.randint(0, 24)}.{rng.randint(0, 9)}",
                    "contributors": round(10 ** rng.uniform(0.6, 3.4)),
                    "sponsor": rng.choice(company_names) if rng.random() < 0.4 else None,
                },
            )
        )
    for _ in range(medicines):
        drug_class = rng.choice(DRUG_CLASSES)
        items.append(
            Item(
                "",
                "medicine",
                fresh(lambda: _word(rng, 2) + rng.choice(["ex", "ol", "ara", "ivo", "ent", "yn"])),
                rng.random() < 0.3,
                {
                    "class": drug_class,
                    "ingredient": _word(rng, 2).lower()
                    + rng.choice(["oxacin", "olol", "azole", "ivir", "statin", "amine", "afil"]),
                    "strength_mg": rng.choice(
                        [2.5, 5, 10, 20, 25, 40, 50, 75, 100, 150, 200, 250, 400, 500, 750, 1000]
                    ),
                    "approved": rng.randint(1968, 2024),
                    "price": round(
                        rng.choice(
                            [rng.uniform(3, 40), rng.uniform(40, 400), rng.uniform(400, 3000)]
                        ),
                        2,
                    ),
                    "half_life": rng.choice([2, 3, 4, 6, 8, 12, 18, 24, 36, 48]),
                    "holder": rng.choice(pharma or company_names),
                },
            )
        )
    for _ in range(ships):
        ship_type = rng.choice(SHIP_TYPES)
        low, high = {
            "ferry": (60, 220),
            "container ship": (140, 400),
            "research vessel": (40, 110),
            "icebreaker": (70, 175),
            "tanker": (120, 340),
            "cruise ship": (150, 360),
        }[ship_type[0]]
        length = round(rng.uniform(low, high), 1)
        items.append(
            Item(
                "",
                "ship",
                fresh(lambda: f"{rng.choice(['MV', 'MS', 'RV', 'MT'])} {_word(rng, 2)}"),
                rng.random() < 0.3,
                {
                    "type": ship_type,
                    "length": length,
                    "beam": round(length * rng.uniform(0.12, 0.18), 1),
                    "launched": rng.randint(1958, 2023),
                    "tonnage": int(round(length**2 * rng.uniform(0.9, 2.2), -2)),
                    "speed": rng.randint(11, 24),
                    "yard": rng.choice(COUNTRIES),
                    "operator": rng.choice(shipping or company_names),
                },
            )
        )
    rng.shuffle(items)
    for n, item in enumerate(items, start=1):
        item.id = f"c{n:04d}"
    return items


# --- Pages ------------------------------------------------------------------------------


def _de_article(gender: str, adjective: str = "") -> str:
    """The indefinite article with a strong adjective ending: "ein dänischer", "eine dänische"."""
    article = {"m": "ein", "f": "eine", "n": "ein"}[gender]
    if not adjective:
        return article
    return f"{article} {adjective}{ {'m': 'er', 'f': 'e', 'n': 'es'}[gender] }"


def _bullets(pairs: list[tuple[str, str]], rng: random.Random) -> str:
    bullet = rng.choice(["-", "*", "•"])
    separator = rng.choice([" – ", " — ", " = ", " → ", " - ", " :: "])
    return "\n".join(f"{bullet} {key}{separator}{value}" for key, value in pairs)


def _fact_sheet(pairs: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in pairs) + 4
    return "\n".join(f"{key.ljust(width)}{value}" for key, value in pairs)


def _wiki_infobox(kind: str, pairs: list[tuple[str, str]]) -> str:
    lines = [f"{{{{Infobox {kind}"]
    for key, value in pairs:
        # "Revenue (2023)": the year goes to the value, as infobox fields have no brackets.
        qualifier = re.search(r"\s*\((.*)\)$", key)
        if qualifier:
            key, value = key[: qualifier.start()], f"{value} ({qualifier.group(1)})"
        lines.append(f"| {key.lower().replace(' ', '_')} = {value}")
    return "\n".join([*lines, "}}"])


def _table(name: str, pairs: list[tuple[str, str]]) -> str:
    rows = [f"| {name} | |", "|---|---|"] + [f"| {key} | {value} |" for key, value in pairs]
    return "\n".join(rows)


def _structured(
    item: Item, pairs: list[tuple[str, str]], intro: str, rng: random.Random, infobox_kind: str
) -> str:
    shape = rng.choice(["bullets", "sheet", "wiki", "table"])
    if shape == "bullets":
        return f"{intro}\n\n{_bullets(pairs, rng)}\n"
    if shape == "sheet":
        heading = (
            "Eckdaten" if item.german else rng.choice(["Fact sheet", "At a glance", "Key data"])
        )
        return f"{intro}\n\n{heading}\n\n{_fact_sheet(pairs)}\n"
    if shape == "wiki":
        return f"{_wiki_infobox(infobox_kind, pairs)}\n\n{intro}\n"
    return f"{_table(item.name, pairs)}\n\n{intro}\n"


def _company(item: Item, rng: random.Random) -> str:
    a = item.a
    country, industry = a["country"], a["industry"]
    if item.german:
        intro = f"{item.name} ist {_de_article(industry[4], a['country'][3])} {industry[2]} mit Sitz in {a['city']}, {country[1].removeprefix('der ').removeprefix('den ')}."
        if rng.random() < 0.45:
            sentences = [
                rng.choice(
                    [
                        f"Das Unternehmen wurde {a['founded']} gegründet.",
                        f"Gegründet wurde es im Jahr {a['founded']} in {a['city']}.",
                        f"Die Gründung erfolgte {a['founded']}.",
                    ]
                ),
                rng.choice(
                    [
                        f"Heute beschäftigt es rund {de_int(a['employees'])} Mitarbeiterinnen und Mitarbeiter.",
                        f"Die Belegschaft umfasst {de_int(a['employees'])} Personen.",
                        f"Für das Unternehmen arbeiten {de_int(a['employees'])} Beschäftigte.",
                    ]
                ),
                rng.choice(
                    [
                        f"Im Geschäftsjahr {a['fiscal']} lag der Umsatz bei {money_de(a['revenue'], rng)}.",
                        f"{a['fiscal']} erwirtschaftete die Firma einen Umsatz von {money_de(a['revenue'], rng)}.",
                    ]
                ),
                f"Geschäftsführer ist {a['ceo']}.",
            ]
            return intro + " " + " ".join(sentences) + "\n"
        pairs = [
            ("Gründungsjahr", str(a["founded"])),
            ("Sitz", f"{a['city']}, {country[1].removeprefix('der ').removeprefix('den ')}"),
            ("Branche", industry[2]),
            ("Mitarbeiter", de_int(a["employees"])),
            (f"Umsatz ({a['fiscal']})", money_de(a["revenue"], rng)),
            ("Geschäftsführung", a["ceo"]),
        ]
        return _structured(item, pairs, intro, rng, "Unternehmen")
    intro = rng.choice(
        [
            f"{item.name} is {'an' if country[2][0] in 'AEIOU' else 'a'} {country[2]} {industry[0]} based in {a['city']}.",
            f"Headquartered in {a['city']}, {country[0]}, {item.name} is {_a(industry[0])}.",
            f"{item.name}, {_a(industry[0])} from {a['city']} in {country[0]}, is privately held.",
        ]
    )
    if rng.random() < 0.4:
        sentences = [
            rng.choice(
                [
                    f"It was set up in {a['founded']} by two engineers.",
                    f"The firm has been trading since {a['founded']}.",
                    f"Its history goes back to {a['founded']}, when the first workshop opened.",
                    f"The company was founded in {a['founded']}.",
                ]
            ),
            rng.choice(
                [
                    f"It employs {en_int(a['employees'])} people.",
                    f"The workforce numbers about {en_int(a['employees'])}.",
                    f"Some {en_int(a['employees'])} staff work for the group today.",
                    f"With a headcount of {en_int(a['employees'])}, it is one of the larger employers in the region.",
                ]
            ),
            rng.choice(
                [
                    f"Revenue for {a['fiscal']} came to {money_en(a['revenue'], rng)}.",
                    f"In {a['fiscal']} it reported sales of {money_en(a['revenue'], rng)}.",
                    f"Turnover reached {money_en(a['revenue'], rng)} in the {a['fiscal']} financial year.",
                ]
            ),
            rng.choice(
                [
                    f"{a['ceo']} has been chief executive since {min(2024, a['founded'] + rng.randint(3, 40))}.",
                    f"The company is run by {a['ceo']}.",
                ]
            ),
        ]
        return intro + " " + " ".join(sentences) + "\n"
    pairs = [
        (rng.choice(["Founded", "Established", "Year founded"]), str(a["founded"])),
        (rng.choice(["Headquarters", "HQ", "Head office"]), f"{a['city']}, {country[0]}"),
        (rng.choice(["Industry", "Sector"]), industry[0]),
        (
            rng.choice(["Employees", "Staff", "Headcount"]),
            rng.choice(
                [
                    en_int(a["employees"]),
                    f"c. {en_int(a['employees'])}",
                    f"approx. {en_int(a['employees'])}",
                ]
            ),
        ),
        (
            rng.choice([f"Revenue ({a['fiscal']})", "Revenue", "Annual turnover"]),
            money_en(a["revenue"], rng),
        ),
        (rng.choice(["CEO", "Chief executive", "Managing director"]), a["ceo"]),
    ]
    rng.shuffle(pairs)
    return _structured(item, pairs, intro, rng, "company")


def _software(item: Item, rng: random.Random) -> str:
    a = item.a
    kind = a["kind"]
    if item.german:
        intro = f"{item.name} ist {_de_article(kind[4])} quelloffene{'r' if kind[4] == 'm' else 's' if kind[4] == 'n' else ''} {kind[2]}, geschrieben in {a['language']}."
        if rng.random() < 0.5:
            text = (
                f"{intro} Die erste Version erschien {a['first']}. Das Projekt steht unter der Lizenz {a['licence']}"
                f" und hat {de_int(a['contributors'])} Mitwirkende. Aktuell ist Version {a['version']}."
            )
            if a["sponsor"]:
                text += f" Die Entwicklung wird von {a['sponsor']} finanziert."
            return text + "\n"
        pairs = [
            ("Erstveröffentlichung", str(a["first"])),
            ("Aktuelle Version", a["version"]),
            ("Programmiersprache", a["language"]),
            ("Lizenz", a["licence"]),
            ("Mitwirkende", de_int(a["contributors"])),
        ]
        return _structured(item, pairs, intro, rng, "Software")
    intro = rng.choice(
        [
            f"{item.name} is an open-source {kind[0]} written in {a['language']}.",
            f"{item.name} is {'an' if kind[0][0] in 'aeiou' else 'a'} {kind[0]}, implemented in {a['language']} and released as free software.",
        ]
    )
    if rng.random() < 0.4:
        text = (
            intro
            + " "
            + " ".join(
                [
                    rng.choice(
                        [
                            f"The first public release came out in {a['first']}.",
                            f"Development started in {a['first']}, the year of its first release.",
                            f"Version 0.1 was published in {a['first']}.",
                        ]
                    ),
                    rng.choice(
                        [
                            f"It is distributed under the {a['licence']} licence.",
                            f"The code is licensed under {a['licence']}.",
                        ]
                    ),
                    rng.choice(
                        [
                            f"{en_int(a['contributors'])} people have contributed code so far.",
                            f"The project counts {en_int(a['contributors'])} contributors.",
                        ]
                    ),
                    f"The current version is {a['version']}.",
                ]
            )
        )
        if a["sponsor"]:
            text += f" {a['sponsor']} sponsors its maintenance."
        return text + "\n"
    pairs = [
        (
            rng.choice(["Initial release", "First release", "Released"]),
            rng.choice(
                [str(a["first"]), f"{a['first']}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"]
            ),
        ),
        (rng.choice(["Stable release", "Latest version"]), a["version"]),
        (rng.choice(["Written in", "Language"]), a["language"]),
        (rng.choice(["License", "Licence"]), a["licence"]),
        ("Contributors", en_int(a["contributors"])),
    ]
    if a["sponsor"]:
        pairs.append(("Sponsor", a["sponsor"]))
    return _structured(item, pairs, intro, rng, "software")


def _medicine(item: Item, rng: random.Random) -> str:
    a = item.a
    drug_class = a["class"]
    strength = a["strength_mg"]
    if item.german:
        intro = f"{item.name} ist {_de_article(drug_class[4])} {drug_class[2]} mit dem Wirkstoff {a['ingredient']}."
        mg = de_dec(strength).removesuffix(",0")
        if rng.random() < 0.45:
            text = (
                f"{intro} Eine Tablette enthält {mg} mg {a['ingredient']}. "
                f"Das Arzneimittel wurde {a['approved']} zugelassen; Zulassungsinhaber ist {a['holder']}. "
                f"Eine Packung kostet {money_de(a['price'], rng)}, die Halbwertszeit beträgt etwa {a['half_life']} Stunden."
            )
            return text + "\n"
        pairs = [
            ("Wirkstoff", a["ingredient"]),
            ("Wirkstoffklasse", drug_class[2]),
            ("Stärke", f"{mg} mg"),
            ("Zulassung", str(a["approved"])),
            ("Packungspreis", money_de(a["price"], rng)),
            ("Halbwertszeit", f"{a['half_life']} Stunden"),
            ("Zulassungsinhaber", a["holder"]),
        ]
        return _structured(item, pairs, intro, rng, "Arzneimittel")
    grams = f"{strength / 1000:g} g"
    strength_text = rng.choice(
        [
            f"{strength:g} mg",
            f"{strength:g} milligrams",
            grams if strength >= 100 else f"{strength:g}mg",
        ]
    )
    intro = rng.choice(
        [
            f"{item.name} is a prescription-only {drug_class[0]} containing {a['ingredient']}.",
            f"{item.name} ({a['ingredient']}) belongs to the {drug_class[1]}.",
        ]
    )
    if rng.random() < 0.4:
        text = (
            intro
            + " "
            + " ".join(
                [
                    f"Each tablet contains {strength_text} of the active substance.",
                    rng.choice(
                        [
                            f"It received marketing authorisation in {a['approved']}.",
                            f"Regulators cleared it for sale in {a['approved']}.",
                            f"The medicine has been on the market since {a['approved']}.",
                        ]
                    ),
                    rng.choice(
                        [
                            f"A pack of 30 costs {money_en(a['price'], rng)}.",
                            f"The list price is {money_en(a['price'], rng)} per pack.",
                        ]
                    ),
                    f"Its elimination half-life is about {a['half_life']} hours, and it is marketed by {a['holder']}.",
                ]
            )
        )
        return text + "\n"
    pairs = [
        (rng.choice(["Active ingredient", "Active substance"]), a["ingredient"]),
        (rng.choice(["Drug class", "Class"]), drug_class[0]),
        (rng.choice(["Strength", "Dose per tablet"]), strength_text),
        (
            rng.choice(["Approved", "Authorised", "Approval"]),
            rng.choice([str(a["approved"]), f"{rng.randint(1, 12):02d}/{a['approved']}"]),
        ),
        (rng.choice(["Pack price", "Price per pack"]), money_en(a["price"], rng)),
        ("Half-life", f"{a['half_life']} h"),
        (rng.choice(["Marketing authorisation holder", "Marketed by"]), a["holder"]),
    ]
    return _structured(item, pairs, intro, rng, "drug")


def _ship(item: Item, rng: random.Random) -> str:
    a = item.a
    ship_type, yard = a["type"], a["yard"]
    if item.german:
        intro = f"Die {item.name} ist {_de_article(ship_type[4])} {ship_type[2]} der Reederei {a['operator']}."
        if rng.random() < 0.45:
            text = (
                f"{intro} Das Schiff lief {a['launched']} in {yard[1].removeprefix('der ').removeprefix('den ')} vom Stapel. "
                f"Es ist {length_de(a['length'], rng)} lang und {de_dec(a['beam'])} m breit, "
                f"die Bruttoraumzahl liegt bei {de_int(a['tonnage'])}. Die Dienstgeschwindigkeit beträgt {a['speed']} Knoten."
            )
            return text + "\n"
        pairs = [
            ("Schiffstyp", ship_type[2]),
            ("Stapellauf", str(a["launched"])),
            ("Länge", length_de(a["length"], rng)),
            ("Breite", f"{de_dec(a['beam'])} m"),
            ("Vermessung", f"{de_int(a['tonnage'])} BRZ"),
            ("Geschwindigkeit", f"{a['speed']} kn"),
            ("Reederei", a["operator"]),
        ]
        return _structured(item, pairs, intro, rng, "Schiff")
    intro = rng.choice(
        [
            f"{item.name} is {'an' if ship_type[0][0] in 'aeiou' else 'a'} {ship_type[0]} operated by {a['operator']}.",
            f"The {ship_type[0]} {item.name} sails for {a['operator']}.",
        ]
    )
    if rng.random() < 0.4:
        text = (
            intro
            + " "
            + " ".join(
                [
                    f"Built at {_a(yard[2])} yard, she was launched in {a['launched']}.",
                    rng.choice(
                        [
                            f"She measures {length_en(a['length'], rng)} overall with a beam of {a['beam']:.1f} m.",
                            f"The hull is {length_en(a['length'], rng)} long and {a['beam']:.1f} m wide.",
                        ]
                    ),
                    f"Her gross tonnage is {en_int(a['tonnage'])} and she makes {a['speed']} knots in service.",
                ]
            )
        )
        return text + "\n"
    pairs = [
        ("Type", ship_type[0]),
        (rng.choice(["Launched", "Built"]), str(a["launched"])),
        (rng.choice(["Length overall", "Length", "LOA"]), length_en(a["length"], rng)),
        ("Beam", f"{a['beam']:.1f} m"),
        ("Gross tonnage", en_int(a["tonnage"])),
        ("Speed", f"{a['speed']} knots"),
        (rng.choice(["Operator", "Owner"]), a["operator"]),
        ("Shipyard", f"{yard[2]} yard"),
    ]
    return _structured(item, pairs, intro, rng, "ship")


def page(item: Item, rng: random.Random) -> dict:
    writer = {"company": _company, "software": _software, "medicine": _medicine, "ship": _ship}[
        item.kind
    ]
    return {"_id": item.id, "title": item.name, "text": writer(item, rng)}


# --- Questions --------------------------------------------------------------------------


@dataclass
class Question:
    text: str
    category: str
    language: str
    relevant: list[str]


NAME = {
    ("company", "en"): [
        "When was {n} founded?",
        "How many employees does {n} have?",
        "What was the revenue of {n}?",
        "Who runs {n}?",
        "{n} headquarters",
    ],
    ("company", "de"): [
        "Wann wurde {n} gegründet?",
        "Wie viele Mitarbeiter hat {n}?",
        "Wie hoch war der Umsatz von {n}?",
        "Wo sitzt {n}?",
    ],
    ("software", "en"): [
        "What licence does {n} use?",
        "When was {n} first released?",
        "Which language is {n} written in?",
        "{n} latest version",
    ],
    ("software", "de"): [
        "Unter welcher Lizenz steht {n}?",
        "Wann erschien {n} zum ersten Mal?",
        "In welcher Sprache ist {n} programmiert?",
    ],
    ("medicine", "en"): [
        "What is the active ingredient of {n}?",
        "How much does a pack of {n} cost?",
        "{n} strength mg",
        "When was {n} approved?",
    ],
    ("medicine", "de"): [
        "Welchen Wirkstoff enthält {n}?",
        "Was kostet eine Packung {n}?",
        "Wann wurde {n} zugelassen?",
    ],
    ("ship", "en"): [
        "How long is {n}?",
        "When was {n} launched?",
        "Who operates {n}?",
        "{n} gross tonnage",
    ],
    ("ship", "de"): [
        "Wie lang ist die {n}?",
        "Wann lief die {n} vom Stapel?",
        "Welche Reederei betreibt die {n}?",
    ],
}


def _name_questions(rng, items, count, language):
    return [
        Question(rng.choice(NAME[(i.kind, language)]).format(n=i.name), "name", language, [i.id])
        for i in rng.sample(items, count)
    ]


def _matching(items, predicate) -> list[str]:
    return [i.id for i in items if predicate(i)]


def _description_questions(rng, items, count, language):
    """The entity described, never named: what it is and two things about it."""
    out: list[Question] = []
    while len(out) < count:
        item = rng.choice(items)
        a = item.a
        de = language == "de"
        if item.kind == "company":
            text = (
                f"Welche {a['industry'][2]} hat ihren Sitz in {a['city']}?"
                if de and a["industry"][4] == "f"
                else f"Welcher {a['industry'][2]} sitzt in {a['city']}?"
                if de and a["industry"][4] == "m"
                else f"Welches {a['industry'][2]} sitzt in {a['city']}?"
                if de
                else rng.choice(
                    [
                        f"Which {a['industry'][0]} is headquartered in {a['city']}?",
                        f"the {a['industry'][0]} with its head office in {a['city']}",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "company"
                    and i.a["industry"] == a["industry"]
                    and i.a["city"] == a["city"]
                ),
            )
        elif item.kind == "software":
            text = (
                f"{a['kind'][2]} in {a['language']} unter der Lizenz {a['licence']}"
                if de
                else rng.choice(
                    [
                        f"the {a['kind'][0]} written in {a['language']} under the {a['licence']} licence",
                        f"Which {a['language']} {a['kind'][0]} is licensed under {a['licence']}?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "software"
                    and all(i.a[k] == a[k] for k in ("kind", "language", "licence"))
                ),
            )
        elif item.kind == "medicine":
            text = (
                f"Welches Medikament enthält den Wirkstoff {a['ingredient']}?"
                if de
                else rng.choice(
                    [
                        f"Which drug contains {a['ingredient']}?",
                        f"the {a['class'][0]} whose active substance is {a['ingredient']}",
                    ]
                )
            )
            relevant = _matching(
                items, lambda i: i.kind == "medicine" and i.a["ingredient"] == a["ingredient"]
            )
        else:
            text = (
                f"{a['type'][2]} der Reederei {a['operator']}"
                if de
                else rng.choice(
                    [
                        f"the {a['type'][0]} operated by {a['operator']}",
                        f"Which {a['type'][1]} does {a['operator']} run?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "ship"
                    and i.a["type"] == a["type"]
                    and i.a["operator"] == a["operator"]
                ),
            )
        if len(relevant) <= 3 and text not in {q.text for q in out}:
            out.append(Question(text, "description", language, relevant))
    return out


def _multi_questions(rng, items, count, language):
    """Several attributes at once, one of them a year or a class, none a range."""
    out: list[Question] = []
    while len(out) < count:
        item = rng.choice(items)
        a = item.a
        de = language == "de"
        if item.kind == "company":
            text = (
                f"{a['country'][3].capitalize()}e {a['industry'][3]}, gegründet {a['founded']}"
                if de
                else rng.choice(
                    [
                        f"{a['country'][2]} {a['industry'][1]} founded in {a['founded']}",
                        f"Which {a['industry'][0]} from {a['country'][0]} was established in {a['founded']}?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "company"
                    and i.a["country"] == a["country"]
                    and i.a["industry"] == a["industry"]
                    and i.a["founded"] == a["founded"]
                ),
            )
        elif item.kind == "software":
            text = (
                f"{a['kind'][3]} in {a['language']}, erstmals veröffentlicht {a['first']}"
                if de
                else f"{a['language']} {a['kind'][1]} first released in {a['first']}"
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "software"
                    and i.a["kind"] == a["kind"]
                    and i.a["language"] == a["language"]
                    and i.a["first"] == a["first"]
                ),
            )
        elif item.kind == "medicine":
            text = (
                f"{a['class'][3]} von {a['holder']}, zugelassen {a['approved']}"
                if de
                else rng.choice(
                    [
                        f"{a['class'][1]} by {a['holder']} approved in {a['approved']}",
                        f"Which {a['class'][0]} of {a['holder']} was authorised in {a['approved']}?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "medicine"
                    and i.a["class"] == a["class"]
                    and i.a["holder"] == a["holder"]
                    and i.a["approved"] == a["approved"]
                ),
            )
        else:
            text = (
                f"{a['type'][3]} von {a['operator']}, Stapellauf {a['launched']}"
                if de
                else f"{a['type'][1]} of {a['operator']} launched in {a['launched']}"
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "ship"
                    and i.a["type"] == a["type"]
                    and i.a["operator"] == a["operator"]
                    and i.a["launched"] == a["launched"]
                ),
            )
        if text not in {q.text for q in out}:
            out.append(Question(text, "multi-attribute", language, relevant))
    return out


def _range_questions(rng, items, count, language):
    """A condition on a number, often with a kind or a country; all that satisfy it."""
    de = language == "de"
    companies = [i for i in items if i.kind == "company"]
    out: list[Question] = []
    attempts = 0
    while len(out) < count and attempts < 5000:
        attempts += 1
        shape = rng.randrange(9)
        if shape == 0:
            country = rng.choice(COUNTRIES)
            n = rng.choice([500, 1000, 2000, 5000, 10000])
            text = (
                f"Unternehmen aus {country[1]} mit mehr als {de_int(n)} Mitarbeitern"
                if de
                else rng.choice(
                    [
                        f"Which companies in {country[0]} have more than {en_int(n)} employees?",
                        f"{country[2]} companies with over {en_int(n)} staff",
                    ]
                )
            )
            relevant = _matching(
                companies, lambda i: i.a["country"] == country and i.a["employees"] > n
            )
        elif shape == 1:
            industry = rng.choice(INDUSTRIES)
            year = rng.choice([1900, 1950, 1970, 1990, 2000, 2010])
            before = rng.random() < 0.5
            text = (
                f"{industry[3]}, die {'vor' if before else 'nach'} {year} gegründet wurden"
                if de
                else f"{industry[1]} founded {'before' if before else 'after'} {year}"
            )
            relevant = _matching(
                companies,
                lambda i: (
                    i.a["industry"] == industry
                    and (i.a["founded"] < year if before else i.a["founded"] > year)
                ),
            )
        elif shape == 2:
            industry = rng.choice(INDUSTRIES)
            amount, en, de_text = rng.choice(
                [
                    (1e9, "€1 billion", "1 Mrd. €"),
                    (5e8, "€500 million", "500 Mio. Euro"),
                    (1e8, "EUR 100m", "100 Mio. EUR"),
                    (2e7, "€20m", "20 Millionen Euro"),
                ]
            )
            text = (
                f"{industry[3]} mit einem Umsatz von mehr als {de_text}"
                if de
                else f"Which {industry[1]} had revenue above {en}?"
            )
            relevant = _matching(
                companies, lambda i: i.a["industry"] == industry and i.a["revenue"] > amount
            )
        elif shape == 3:
            lang = rng.choice(LANGUAGES)
            year = rng.choice([2005, 2010, 2015, 2020])
            text = (
                f"Welche {lang}-Projekte erschienen vor {year}?"
                if de
                else rng.choice(
                    [
                        f"{lang} projects first released before {year}",
                        f"Which software written in {lang} was released before {year}?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: i.kind == "software" and i.a["language"] == lang and i.a["first"] < year,
            )
        elif shape == 4:
            n = rng.choice([200, 500, 1000])
            kind = rng.choice(SOFTWARE_KINDS)
            text = (
                f"{kind[3]} mit mehr als {de_int(n)} Mitwirkenden"
                if de
                else f"{kind[1]} with more than {en_int(n)} contributors"
            )
            relevant = _matching(
                items,
                lambda i: i.kind == "software" and i.a["kind"] == kind and i.a["contributors"] > n,
            )
        elif shape == 5:
            drug_class = rng.choice(DRUG_CLASSES)
            year = rng.choice([1990, 2000, 2010, 2015])
            text = (
                f"{drug_class[3]}, die nach {year} zugelassen wurden"
                if de
                else rng.choice(
                    [
                        f"{drug_class[1]} approved after {year}",
                        f"Which {drug_class[1]} were authorised after {year}?",
                    ]
                )
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "medicine" and i.a["class"] == drug_class and i.a["approved"] > year
                ),
            )
        elif shape == 6:
            price, en, de_text = rng.choice(
                [
                    (20, "€20", "20 €"),
                    (50, "50 euros", "50 Euro"),
                    (100, "EUR 100", "100 EUR"),
                    (1000, "€1,000", "1.000 €"),
                ]
            )
            drug_class = rng.choice(DRUG_CLASSES)
            cheaper = rng.random() < 0.5
            text = (
                f"{drug_class[3]}, deren Packung {'weniger' if cheaper else 'mehr'} als {de_text} kostet"
                if de
                else f"{drug_class[1]} costing {'less' if cheaper else 'more'} than {en} per pack"
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "medicine"
                    and i.a["class"] == drug_class
                    and (i.a["price"] < price if cheaper else i.a["price"] > price)
                ),
            )
        elif shape == 7:
            mg = rng.choice([50, 100, 250, 500])
            drug_class = rng.choice(DRUG_CLASSES)
            text = (
                f"{drug_class[3]} mit mehr als {mg} mg Wirkstoff pro Tablette"
                if de
                else f"{drug_class[1]} with more than {mg} mg per tablet"
            )
            relevant = _matching(
                items,
                lambda i: (
                    i.kind == "medicine" and i.a["class"] == drug_class and i.a["strength_mg"] > mg
                ),
            )
        else:
            ship_type = rng.choice(SHIP_TYPES)
            metres = rng.choice([100, 150, 200, 250, 300])
            longer = rng.random() < 0.6
            if rng.random() < 0.3:
                low, high = metres - 50, metres + 50
                text = (
                    f"{ship_type[3]} zwischen {low} und {high} m Länge"
                    if de
                    else f"{ship_type[1]} between {low} and {high} metres long"
                )
                relevant = _matching(
                    items,
                    lambda i: (
                        i.kind == "ship"
                        and i.a["type"] == ship_type
                        and low <= i.a["length"] <= high
                    ),
                )
            else:
                text = (
                    f"{ship_type[3]}, die {'länger' if longer else 'kürzer'} als {metres} Meter sind"
                    if de
                    else f"Which {ship_type[1]} are {'longer' if longer else 'shorter'} than {metres} m?"
                )
                relevant = _matching(
                    items,
                    lambda i: (
                        i.kind == "ship"
                        and i.a["type"] == ship_type
                        and (i.a["length"] > metres if longer else i.a["length"] < metres)
                    ),
                )
        if 1 <= len(relevant) <= 15 and text not in {q.text for q in out}:
            out.append(Question(text, "numeric-range", language, relevant))
    return out


MISSING = {
    "en": [
        "When was {n} founded?",
        "What licence does {n} use?",
        "How long is the ship {n}?",
        "What does a pack of {n} cost?",
    ],
    "de": ["Wann wurde {n} gegründet?", "Wie viele Mitwirkende hat {n}?", "Was kostet {n}?"],
}
EMPTY = {
    "en": [
        "Which ferries are longer than 400 m?",
        "software companies founded before 1850",
        "antibiotics costing more than €5,000 per pack",
        "Which companies have more than 200,000 employees?",
        "research vessels launched before 1920",
    ],
    "de": [
        "Fähren, die länger als 400 Meter sind",
        "Unternehmen mit mehr als 200.000 Mitarbeitern",
        "Statine, die vor 1950 zugelassen wurden",
    ],
}


def catalogue_set(rng: random.Random) -> tuple[list[dict], list[Question], list[Question]]:
    """(pages, answerable questions, unanswerable ones: unknown names, empty ranges)."""
    items = items_make(rng, companies=140, software=110, medicines=110, ships=80)
    pages = [page(i, rng) for i in items]
    questions: list[Question] = []
    for language, share in (("en", 1.0), ("de", 0.5)):
        questions += _name_questions(rng, items, round(30 * share), language)
        questions += _description_questions(rng, items, round(26 * share), language)
        questions += _multi_questions(rng, items, round(26 * share), language)
        questions += _range_questions(rng, items, round(36 * share), language)
    for question in questions:
        if question.language == "de":
            question.category = f"de-{question.category}"
    names = {i.name.lower() for i in items}
    missing: list[Question] = []
    while len(missing) < 18:
        language = "de" if len(missing) % 3 == 0 else "en"
        name = rng.choice(
            [
                f"{_word(rng, 3)} {rng.choice(COMPANY_SUFFIXES)}",
                _word(rng, 3).lower() + "db",
                _word(rng, 3) + "ol",
            ]
        )
        if name.lower() in names or any(name in q.text for q in missing):
            continue
        missing.append(
            Question(rng.choice(MISSING[language]).format(n=name), "nonexistent", language, [])
        )
    for language, texts in EMPTY.items():
        missing += [Question(text, "empty-range", language, []) for text in texts]
    return pages, questions, missing
