# ruff: noqa: E501 (sentence templates are data)
"""The entity knowledge base: short English pages of fictional people, products and places.

Every page states its attributes twice over the corpus as a whole (some pages in prose,
some as ``Key: value`` lines, tables or bullet infoboxes, in varied units), and the
questions ask for them by name, by description, by several attributes at once and by
numeric range, in English and in German. Relevance is computed from the generated
attributes, so a range question's relevant documents are all that satisfy it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# (English adjective, German adjective in the plural/predicative form, country, Land)
NATIONALITIES = [
    ("Danish", "dänisch", "Denmark", "Dänemark"),
    ("Norwegian", "norwegisch", "Norway", "Norwegen"),
    ("Brazilian", "brasilianisch", "Brazil", "Brasilien"),
    ("Canadian", "kanadisch", "Canada", "Kanada"),
    ("Polish", "polnisch", "Poland", "Polen"),
    ("Portuguese", "portugiesisch", "Portugal", "Portugal"),
    ("Irish", "irisch", "Ireland", "Irland"),
    ("Austrian", "österreichisch", "Austria", "Österreich"),
    ("Chilean", "chilenisch", "Chile", "Chile"),
    ("Finnish", "finnisch", "Finland", "Finnland"),
    ("Greek", "griechisch", "Greece", "Griechenland"),
    ("Kenyan", "kenianisch", "Kenya", "Kenia"),
    ("Scottish", "schottisch", "Scotland", "Schottland"),
    ("Dutch", "niederländisch", "the Netherlands", "den Niederlanden"),
]
# (English, German, plural English)
OCCUPATIONS = [
    ("marine biologist", "Meeresbiologin", "marine biologists"),
    ("architect", "Architektin", "architects"),
    ("cellist", "Cellistin", "cellists"),
    ("rower", "Ruderin", "rowers"),
    ("basketball player", "Basketballspielerin", "basketball players"),
    ("novelist", "Schriftstellerin", "novelists"),
    ("glaciologist", "Glaziologin", "glaciologists"),
    ("chef", "Köchin", "chefs"),
    ("mountaineer", "Bergsteigerin", "mountaineers"),
    ("volleyball player", "Volleyballspielerin", "volleyball players"),
    ("typographer", "Typografin", "typographers"),
    ("astronomer", "Astronomin", "astronomers"),
    ("bridge engineer", "Brückeningenieurin", "bridge engineers"),
    ("photographer", "Fotografin", "photographers"),
    ("economist", "Ökonomin", "economists"),
    ("sculptor", "Bildhauerin", "sculptors"),
]
OCCUPATION_SYNONYMS = {
    "marine biologist": "ocean scientist",
    "architect": "building designer",
    "cellist": "cello player",
    "rower": "oarsman or oarswoman",
    "novelist": "fiction writer",
    "chef": "cook",
    "photographer": "photo artist",
    "economist": "economics researcher",
    "sculptor": "sculpture artist",
    "astronomer": "stargazer by profession",
    "mountaineer": "climber",
    "typographer": "type designer",
}
# Achievements: (page verb phrase, question paraphrase, German participle clause)
ACHIEVEMENT_VERBS = [
    ("designed the first {o}", "came up with the earliest {o}", "als Erste {d} entworfen hat"),
    (
        "restored the oldest surviving {o}",
        "repaired the most ancient remaining {o}",
        "die älteste erhaltene {d} restauriert hat",
    ),
    (
        "catalogued every known {o}",
        "made an inventory of all recorded {o}",
        "alle bekannten {d} katalogisiert hat",
    ),
    (
        "won a national prize for a study of the {o}",
        "received an award in their country for research on the {o}",
        "für eine Studie über {d} einen Landespreis gewann",
    ),
    (
        "wrote a bestselling book about the {o}",
        "authored a hit book on the {o}",
        "einen Bestseller über {d} geschrieben hat",
    ),
    (
        "built a replica of a medieval {o}",
        "constructed a copy of a {o} from the Middle Ages",
        "eine Nachbildung {d} aus dem Mittelalter gebaut hat",
    ),
]
# (English object, German noun phrase)
ACHIEVEMENT_OBJECTS = [
    ("solar-powered ferry", "eine solarbetriebene Fähre"),
    ("wooden observatory", "eine hölzerne Sternwarte"),
    ("floating library", "eine schwimmende Bibliothek"),
    ("glacier research hut", "eine Forschungshütte auf dem Gletscher"),
    ("harbour crane", "einen Hafenkran"),
    ("lighthouse lens", "eine Leuchtturmlinse"),
    ("salt-water greenhouse", "ein Salzwasser-Gewächshaus"),
    ("cable car", "eine Seilbahn"),
    ("pipe organ", "eine Pfeifenorgel"),
    ("clock tower", "einen Uhrturm"),
    ("coral nursery", "eine Korallenzucht"),
    ("suspension footbridge", "eine Hängebrücke für Fußgänger"),
    ("paper mill", "eine Papiermühle"),
    ("windmill", "eine Windmühle"),
    ("printing press", "eine Druckerpresse"),
    ("ice road", "eine Eisstraße"),
    ("seed vault", "einen Saatgut-Tresor"),
    ("tidal power station", "ein Gezeitenkraftwerk"),
]
# (English singular, German singular, English plural, German plural)
PRODUCT_CATEGORIES = [
    ("kettle", "Wasserkocher", "kettles", "Wasserkocher"),
    ("e-bike", "E-Bike", "e-bikes", "E-Bikes"),
    ("drone", "Drohne", "drones", "Drohnen"),
    ("headphones", "Kopfhörer", "headphones", "Kopfhörer"),
    ("tent", "Zelt", "tents", "Zelte"),
    ("coffee grinder", "Kaffeemühle", "coffee grinders", "Kaffeemühlen"),
    ("backpack", "Rucksack", "backpacks", "Rucksäcke"),
    ("desk lamp", "Schreibtischlampe", "desk lamps", "Schreibtischlampen"),
    ("smartwatch", "Smartwatch", "smartwatches", "Smartwatches"),
    ("robot vacuum", "Saugroboter", "robot vacuums", "Saugroboter"),
    ("camera", "Kamera", "cameras", "Kameras"),
    ("blender", "Standmixer", "blenders", "Standmixer"),
    ("kayak", "Kajak", "kayaks", "Kajaks"),
    ("keyboard", "Tastatur", "keyboards", "Tastaturen"),
]
PRODUCT_PRICE_RANGE = {  # EUR: (low, high), so categories overlap in price
    "kettle": (15, 140),
    "e-bike": (900, 4500),
    "drone": (60, 2200),
    "headphones": (19, 480),
    "tent": (35, 900),
    "coffee grinder": (25, 600),
    "backpack": (20, 320),
    "desk lamp": (12, 260),
    "smartwatch": (49, 900),
    "robot vacuum": (120, 1300),
    "camera": (90, 3800),
    "blender": (25, 700),
    "kayak": (250, 2600),
    "keyboard": (15, 350),
}
PRODUCT_WEIGHT_RANGE = {  # grams
    "kettle": (700, 1900),
    "e-bike": (16000, 31000),
    "drone": (240, 4200),
    "headphones": (150, 420),
    "tent": (900, 9000),
    "coffee grinder": (300, 5000),
    "backpack": (400, 2600),
    "desk lamp": (350, 2400),
    "smartwatch": (25, 90),
    "robot vacuum": (2200, 4800),
    "camera": (300, 1600),
    "blender": (1200, 6500),
    "kayak": (9000, 32000),
    "keyboard": (300, 1400),
}
PRODUCT_FEATURES = [  # (English, German)
    ("a replaceable battery", "einem austauschbaren Akku"),
    ("a solar charging panel", "einem Solarladepanel"),
    ("a recycled aluminium housing", "einem Gehäuse aus recyceltem Aluminium"),
    ("voice control", "Sprachsteuerung"),
    ("a ten-year warranty", "zehn Jahren Garantie"),
    ("a built-in thermometer", "einem eingebauten Thermometer"),
    ("a hemp fabric cover", "einem Bezug aus Hanfstoff"),
    ("an e-ink display", "einem E-Ink-Display"),
    ("a foldable frame", "einem faltbaren Rahmen"),
    ("a magnetic mount", "einer Magnethalterung"),
]
PLACE_KINDS = [("town", "Stadt"), ("village", "Dorf"), ("city", "Großstadt"), ("island", "Insel")]
LANDMARKS = [  # (English, German)
    ("salt marshes", "Salzwiesen"),
    ("Baroque clock tower", "barocken Uhrturm"),
    ("basalt cliffs", "Basaltklippen"),
    ("cherry orchards", "Kirschgärten"),
    ("floating market", "schwimmenden Markt"),
    ("old copper mine", "alte Kupfermine"),
    ("glass museum", "Glasmuseum"),
    ("hot springs", "heißen Quellen"),
    ("wooden stave church", "hölzerne Stabkirche"),
    ("lavender fields", "Lavendelfelder"),
    ("tidal island causeway", "Gezeitendamm"),
    ("puppet theatre", "Puppentheater"),
    ("jazz festival", "Jazzfestival"),
    ("pilgrims' bridge", "Pilgerbrücke"),
    ("oyster beds", "Austernbänke"),
    ("sand dunes", "Sanddünen"),
]
SYLLABLES = [
    "ka",
    "lo",
    "ver",
    "mi",
    "sa",
    "dren",
    "tu",
    "bel",
    "or",
    "an",
    "vik",
    "el",
    "ra",
    "sto",
    "lin",
    "quo",
    "ba",
    "nes",
    "ti",
    "mar",
    "gul",
    "de",
    "wen",
    "hal",
    "ry",
    "fen",
    "ot",
    "is",
    "kor",
    "pa",
    "zel",
    "um",
]
FIRST_NAMES = [
    "Maren",
    "Tobias",
    "Ines",
    "Jonah",
    "Aylin",
    "Sören",
    "Marta",
    "Elio",
    "Ruth",
    "Kasimir",
    "Noor",
    "Vesna",
    "Oskar",
    "Lior",
    "Greta",
    "Tiago",
    "Helka",
    "Ilan",
    "Saoirse",
    "Anouk",
    "Björn",
    "Dalia",
    "Fenna",
    "Iker",
    "Jarno",
    "Kaja",
    "Lavinia",
    "Milo",
    "Nadia",
    "Orla",
    "Pavel",
    "Rosa",
    "Silje",
    "Teodor",
    "Una",
    "Viggo",
    "Wanda",
    "Ximena",
    "Yannick",
    "Zofia",
]
BRANDS = [
    "Norvik",
    "Aldrono",
    "Kestrel & Co",
    "Halvorsen",
    "Tessaly",
    "Brightwell",
    "Orbisa",
    "Quillon",
    "Varga Werke",
    "Lumina",
    "Stoneford",
    "Peltari",
]


def _made_up(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


@dataclass
class Entity:
    id: str
    kind: str  # person | product | place
    name: str
    attrs: dict = field(default_factory=dict)


def _heights(cm: int, rng: random.Random) -> str:
    feet, inches = divmod(round(cm / 2.54), 12)
    return rng.choice(
        [
            f"{cm / 100:.2f} m",
            f"{cm} cm",
            f"{cm} centimetres",
            f"{feet} ft {inches} in ({cm} cm)",
            f"{cm / 100:.2f} metres",
        ]
    )


def _price(eur: float, rng: random.Random) -> str:
    whole = f"{eur:,.0f}" if eur == int(eur) else f"{eur:,.2f}"
    return rng.choice([f"€{whole}", f"{whole} EUR", f"EUR {eur:,.2f}", f"{whole} euros"])


def _weight(grams: int, rng: random.Random) -> str:
    if grams >= 1000:
        return rng.choice(
            [f"{grams / 1000:.1f} kg", f"{grams:,} g", f"{grams / 1000:.2f} kilograms"]
        )
    return rng.choice([f"{grams} g", f"{grams} grams", f"{grams / 1000:.2f} kg"])


def _population(people: int, rng: random.Random) -> str:
    options = [f"{people:,}", f"{people:,} inhabitants", f"about {people:,} people"]
    if people >= 100_000:
        options.append(f"{people / 1_000_000:.2f} million")
    return rng.choice(options)


def _area(km2: float, rng: random.Random) -> str:
    return rng.choice([f"{km2:.1f} km²", f"{km2:.1f} square kilometres", f"{km2:.0f} km2"])


def entities_make(rng: random.Random, *, people: int, products: int, places: int) -> list[Entity]:
    entities: list[Entity] = []
    used: set[str] = set()

    def unique(make) -> str:
        while True:
            name = make()
            if name not in used:
                used.add(name)
                return name

    place_names: list[tuple[str, str]] = []
    for n in range(places):
        nat = rng.choice(NATIONALITIES)
        kind = rng.choices(PLACE_KINDS, weights=[5, 4, 2, 1])[0]
        name = unique(lambda: _made_up(rng, rng.choice([2, 3])))
        population = {
            "town": rng.randint(3_000, 90_000),
            "village": rng.randint(80, 4_000),
            "city": rng.randint(90_000, 2_400_000),
            "island": rng.randint(40, 60_000),
        }[kind[0]]
        landmarks = rng.sample(LANDMARKS, 2)
        entities.append(
            Entity(
                f"place-{n:04d}",
                "place",
                name,
                {
                    "place_kind": kind,
                    "country": nat,
                    "population": population,
                    "area_km2": round(rng.uniform(0.8, 40.0) * (population**0.35) / 4, 1),
                    "founded": rng.randint(780, 1950),
                    "elevation_m": rng.randint(0, 2400),
                    "landmarks": landmarks,
                },
            )
        )
        place_names.append((name, nat[2]))
    surnames = [_made_up(rng, rng.choice([2, 3])) for _ in range(people // 3)]
    for n in range(people):
        occupation = rng.choice(OCCUPATIONS)
        tall = occupation[0] in ("basketball player", "volleyball player", "rower")
        height = int(rng.gauss(196 if tall else 171, 9 if tall else 8))
        name = unique(lambda: f"{rng.choice(FIRST_NAMES)} {rng.choice(surnames)}")
        achievement = None
        if rng.random() < 0.6:
            verb = rng.choice(ACHIEVEMENT_VERBS)
            obj = rng.choice(ACHIEVEMENT_OBJECTS)
            achievement = (verb, obj)
        entities.append(
            Entity(
                f"person-{n:04d}",
                "person",
                name,
                {
                    "birth_year": rng.randint(1921, 2003),
                    "height_cm": height,
                    "nationality": rng.choice(NATIONALITIES),
                    "occupation": occupation,
                    "birthplace": rng.choice(place_names)[0],
                    "achievement": achievement,
                    "pronoun": rng.choice(["she", "he"]),
                },
            )
        )
    for n in range(products):
        category = rng.choice(PRODUCT_CATEGORIES)
        low, high = PRODUCT_PRICE_RANGE[category[0]]
        price = round(rng.uniform(low, high) * rng.choice([1, 1, 1, 0.9]), 0) - rng.choice(
            [0, 0.01]
        )
        wlow, whigh = PRODUCT_WEIGHT_RANGE[category[0]]
        name = unique(
            lambda: (
                f"{rng.choice(BRANDS)} {_made_up(rng, 2)} {rng.choice(['', 'X', 'Pro', 'Mini', '2', 'S', 'Air'])}".strip()
            )
        )
        entities.append(
            Entity(
                f"product-{n:04d}",
                "product",
                name,
                {
                    "category": category,
                    "launch_year": rng.randint(1994, 2025),
                    "price_eur": max(round(price, 2), 9.99),
                    "weight_g": rng.randint(wlow, whigh),
                    "brand": name.split(" ")[0]
                    if not name.startswith("Kestrel")
                    else "Kestrel & Co",
                    "feature": rng.choice(PRODUCT_FEATURES) if rng.random() < 0.7 else None,
                    "made_in": rng.choice(NATIONALITIES)[2],
                },
            )
        )
    rng.shuffle(entities)
    return entities


# --- Pages ----------------------------------------------------------------------------


def _person_page(e: Entity, rng: random.Random) -> str:
    a = e.attrs
    she = a["pronoun"]
    her = "her" if she == "she" else "his"
    occ, nat = a["occupation"][0], a["nationality"][0]
    surname = e.name.split(" ")[-1]
    deed = ""
    if a["achievement"]:
        verb, obj = a["achievement"]
        deed = verb[0].format(o=obj[0])
    article = "an" if nat[0] in "AEIOU" else "a"
    intro = rng.choice(
        [
            f"{e.name} (born {a['birth_year']}) is {article} {nat} {occ}.",
            f"{e.name} is {article} {nat} {occ}, born in {a['birthplace']} in {a['birth_year']}.",
            f"Born in {a['birth_year']}, {e.name} works as {'an' if occ[0] in 'aeiou' else 'a'} {occ}.",
        ]
    )
    if deed:
        intro += " " + rng.choice(
            [
                f"{surname} {deed}.",
                f"{she.capitalize()} is best known because {she} {deed}.",
                f"Among other things, {surname} {deed}.",
            ]
        )
    height = _heights(a["height_cm"], rng)
    style = rng.randrange(5)
    if style == 0:
        body = (
            f"\n\nBorn: {a['birth_year']}\nHeight: {height}\nNationality: {nat}\n"
            f"Occupation: {occ}\nBirthplace: {a['birthplace']}\n"
        )
    elif style == 1:
        body = (
            "\n\n| Attribute | Value |\n|---|---|\n"
            f"| Year of birth | {a['birth_year']} |\n| Height | {height} |\n"
            f"| Citizenship | {nat} |\n| Profession | {occ} |\n"
        )
    elif style == 2:
        body = (
            f"\n\n{surname} grew up in {a['birthplace']}. {she.capitalize()} stands {height} "
            f"tall and holds {nat} citizenship. Colleagues describe {her} work as patient "
            f"and precise."
        )
    elif style == 3:
        body = (
            f"\n\n- **Born:** {rng.randint(1, 28)} {rng.choice(['March', 'May', 'July', 'October', 'January'])} "
            f"{a['birth_year']}, {a['birthplace']}\n- **Height:** {height}\n"
            f"- **Nationality:** {nat}\n- **Known as:** {occ}\n"
        )
    else:
        body = f"\n\nProfile: {e.name}; born {a['birth_year']}; height {height}; {nat}; {occ}."
    extra = rng.choice(
        [
            f" {surname} has given talks in several countries.",
            "",
            f" In interviews {she} mentions {her} childhood in {a['birthplace']}.",
            f" {she.capitalize()} lives with {her} family near the coast.",
        ]
    )
    more = rng.choice(
        [
            f" Before that, {surname} trained for several years abroad.",
            f" {she.capitalize()} has received several awards for {her} work.",
            f" Outside work, {surname} collects old maps and restores bicycles.",
            f" {surname} is a member of a regional association of {a['occupation'][2]}.",
            "",
        ]
    )
    return intro + extra + more + body


def _product_page(e: Entity, rng: random.Random) -> str:
    a = e.attrs
    cat = a["category"][0]
    price, weight = _price(a["price_eur"], rng), _weight(a["weight_g"], rng)
    feature = f" with {a['feature'][0]}" if a["feature"] else ""
    intro = rng.choice(
        [
            f"The {e.name} is a {cat}{feature} made by {a['brand']}, first sold in {a['launch_year']}.",
            f"{a['brand']} launched the {e.name}, a {cat}{feature}, in {a['launch_year']}.",
            f"{e.name}: {cat} by {a['brand']}{feature}.",
        ]
    )
    style = rng.randrange(4)
    if style == 0:
        body = (
            f"\n\nLaunch year: {a['launch_year']}\nPrice: {price}\nWeight: {weight}\n"
            f"Category: {cat}\nManufactured in: {a['made_in']}\n"
        )
    elif style == 1:
        body = (
            "\n\n| Spec | |\n|---|---|\n"
            f"| Released | {a['launch_year']} |\n| List price | {price} |\n"
            f"| Mass | {weight} |\n| Made in | {a['made_in']} |\n"
        )
    elif style == 2:
        body = (
            f"\n\nAt launch it cost {price}. It weighs {weight} and is assembled in "
            f"{a['made_in']}. Reviewers praised its build quality."
        )
    else:
        body = (
            f"\n\n- Introduced: {a['launch_year']}\n- RRP: {price}\n- Weight: {weight}\n"
            f"- Origin: {a['made_in']}\n"
        )
    more = rng.choice(
        [
            " Spare parts are sold for at least seven years.",
            f" A successor model was announced in {a['launch_year'] + rng.randint(2, 6)}.",
            " It ships with a printed manual in eleven languages.",
            " The packaging is made of recycled cardboard.",
            "",
        ]
    )
    return intro + more + body


def _place_page(e: Entity, rng: random.Random) -> str:
    a = e.attrs
    kind, country = a["place_kind"][0], a["country"][2]
    first, second = (lm[0] for lm in a["landmarks"])
    article = "an" if kind[0] in "aeiou" else "a"
    intro = rng.choice(
        [
            f"{e.name} is {article} {kind} in {country}, known for its {first} and its {second}.",
            f"{e.name}, {article} {kind} in {country}, is famous for its {first}; visitors also "
            f"come for the {second}.",
            f"The {kind} of {e.name} ({country}) has {first} and {second}.",
        ]
    )
    population, area = _population(a["population"], rng), _area(a["area_km2"], rng)
    style = rng.randrange(4)
    if style == 0:
        body = (
            f"\n\nPopulation: {population}\nArea: {area}\nFounded: {a['founded']}\n"
            f"Elevation: {a['elevation_m']} m\nCountry: {country}\n"
        )
    elif style == 1:
        body = (
            "\n\n| Fact | Value |\n|---|---|\n"
            f"| Inhabitants | {population} |\n| Area | {area} |\n"
            f"| First recorded | {a['founded']} |\n| Altitude | {a['elevation_m']} m |\n"
        )
    elif style == 2:
        body = (
            f"\n\nFirst mentioned in {a['founded']}, the {kind} today has {population} "
            f"residents on {area}, at {a['elevation_m']} metres above sea level."
        )
    else:
        body = (
            f"\n\n- Founded: {a['founded']}\n- Population: {population}\n- Area: {area}\n"
            f"- Elevation: {a['elevation_m']} m\n"
        )
    more = rng.choice(
        [
            f" A weekly market is held on the main square. The railway reached the {kind} late.",
            f" Many residents commute to larger towns in {country}.",
            " Tourism is the main source of income in summer.",
            f" The {kind} is twinned with a town abroad and hosts an annual fair.",
            "",
        ]
    )
    return intro + more + body


def page(e: Entity, rng: random.Random) -> dict:
    text = {"person": _person_page, "product": _product_page, "place": _place_page}[e.kind](e, rng)
    return {"_id": e.id, "title": e.name, "text": text}


# --- Questions ------------------------------------------------------------------------


@dataclass
class Question:
    text: str
    category: str
    language: str
    relevant: list[str]


NAME_EN = {
    "person": [
        "When was {n} born?",
        "How tall is {n}?",
        "What does {n} do for a living?",
        "{n} nationality",
        "Tell me about {n}.",
        "Where was {n} born?",
        "What is {n}'s height in metres?",
    ],
    "product": [
        "How much does the {n} cost?",
        "When did the {n} come out?",
        "{n} weight",
        "Who makes the {n}?",
        "What is the {n}?",
    ],
    "place": [
        "How many people live in {n}?",
        "Where is {n}?",
        "When was {n} founded?",
        "{n} area",
        "What is {n} known for?",
    ],
}
NAME_DE = {
    "person": [
        "Wann wurde {n} geboren?",
        "Wie groß ist {n}?",
        "Welchen Beruf hat {n}?",
        "Welche Staatsangehörigkeit hat {n}?",
        "Wer ist {n}?",
    ],
    "product": [
        "Was kostet der {n}?",
        "Wann kam {n} auf den Markt?",
        "Wie schwer ist {n}?",
        "Wer stellt {n} her?",
    ],
    "place": [
        "Wie viele Einwohner hat {n}?",
        "Wo liegt {n}?",
        "Wann wurde {n} gegründet?",
        "Wie groß ist die Fläche von {n}?",
    ],
}


def _name_questions(rng, entities, count, language):
    templates = NAME_EN if language == "en" else NAME_DE
    out = []
    for e in rng.sample(entities, count):
        out.append(
            Question(rng.choice(templates[e.kind]).format(n=e.name), "name", language, [e.id])
        )
    return out


def _description_questions(rng, entities, count, language):
    """People by what they did, places by their two landmarks; the name is never given."""
    out = []
    people = [e for e in entities if e.kind == "person" and e.attrs["achievement"]]
    places = [e for e in entities if e.kind == "place"]
    for _ in range(count):
        if rng.random() < 0.6:
            e = rng.choice(people)
            (verb, obj), occ = e.attrs["achievement"], e.attrs["occupation"]
            same = [
                p.id
                for p in people
                if p.attrs["achievement"] == e.attrs["achievement"] and p.attrs["occupation"] == occ
            ]
            if language == "en":
                who = OCCUPATION_SYNONYMS.get(occ[0], occ[0])
                text = rng.choice(
                    [
                        f"Who is the {who} that {verb[1].format(o=obj[0])}?",
                        f"which {occ[0]} {verb[0].format(o=obj[0])}",
                        f"I'm looking for the {who} who {verb[1].format(o=obj[0])}.",
                    ]
                )
            else:
                text = rng.choice(
                    [
                        f"Wer ist die {occ[1]}, die {verb[2].format(d=obj[1])}?",
                        f"Welche Person, von Beruf {occ[1]}, {verb[2].format(d=obj[1])}?",
                    ]
                )
            out.append(Question(text, "description", language, same))
        else:
            e = rng.choice(places)
            (l1, l2) = e.attrs["landmarks"]
            pair = {l1[0], l2[0]}
            country, kind = e.attrs["country"], e.attrs["place_kind"]
            if language == "en":
                shape = rng.randrange(3)
                text = [
                    f"Which place in {country[2]} has {l1[0]} and {l2[0]}?",
                    f"the {kind[0]} famous for its {l2[0]} and {l1[0]}",
                    f"Where can I see {l1[0]} and {l2[0]} in {country[2]}?",
                ][shape]
            else:
                shape = rng.choice([0, 2])
                text = (
                    f"Welcher Ort in {country[3]} ist für {l1[1]} und {l2[1]} bekannt?"
                    if shape == 0
                    else f"Wo in {country[3]} gibt es {l1[1]} und {l2[1]}?"
                )
            # Relevant: every place with both landmarks and with what else the question
            # names (its country, or its kind of place).
            same = [
                p.id
                for p in places
                if {x[0] for x in p.attrs["landmarks"]} == pair
                and (p.attrs["place_kind"] == kind if shape == 1 else p.attrs["country"] == country)
            ]
            out.append(Question(text, "description", language, same))
    return out


def _multi_questions(rng, entities, count, language):
    """Two or three attributes at once; relevant: every entity with all of them."""
    out = []
    people = [e for e in entities if e.kind == "person"]
    products = [e for e in entities if e.kind == "product"]
    while len(out) < count:
        if rng.random() < 0.55:
            e = rng.choice(people)
            nat, occ, year = e.attrs["nationality"], e.attrs["occupation"], e.attrs["birth_year"]
            same = [
                p.id
                for p in people
                if p.attrs["nationality"] == nat
                and p.attrs["occupation"] == occ
                and p.attrs["birth_year"] == year
            ]
            if language == "en":
                text = rng.choice(
                    [
                        f"{nat[0]} {occ[0]} born in {year}",
                        f"Which {occ[0]} from {nat[2]} was born in {year}?",
                        f"Find the {nat[0]} {occ[2]} whose year of birth is {year}.",
                    ]
                )
            else:
                text = rng.choice(
                    [
                        f"Welche {nat[1]}e {occ[1]} wurde {year} geboren?",
                        f"{occ[1]} aus {nat[3]}, Jahrgang {year}",
                    ]
                )
        else:
            e = rng.choice(products)
            cat, brand, year = e.attrs["category"], e.attrs["brand"], e.attrs["launch_year"]
            same = [
                p.id
                for p in products
                if p.attrs["category"] == cat
                and p.attrs["brand"] == brand
                and p.attrs["launch_year"] == year
            ]
            if language == "en":
                text = rng.choice(
                    [
                        f"{brand} {cat[0]} released in {year}",
                        f"Which {cat[0]} did {brand} launch in {year}?",
                        f"the {year} {cat[0]} from {brand}",
                    ]
                )
            else:
                text = rng.choice(
                    [
                        f"Welche {cat[1]} brachte {brand} {year} heraus?",
                        f"{cat[1]} von {brand} aus dem Jahr {year}",
                    ]
                )
        out.append(Question(text, "multi-attribute", language, same))
    return out


def _de_number(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def _range_questions(rng, entities, count, language):
    """Numeric ranges; relevant: all entities that satisfy them (between 1 and 25)."""
    out = []
    people = [e for e in entities if e.kind == "person"]
    products = [e for e in entities if e.kind == "product"]
    places = [e for e in entities if e.kind == "place"]
    en = language == "en"
    while len(out) < count:
        shape = rng.randrange(6)
        if shape == 0:
            occ = rng.choice(OCCUPATIONS)
            cm = rng.choice([190, 195, 198, 200, 205])
            hits = [p for p in people if p.attrs["occupation"] == occ and p.attrs["height_cm"] > cm]
            text = (
                rng.choice(
                    [
                        f"Which {occ[2]} are taller than {cm / 100:.2f} m?",
                        f"{occ[2]} over {cm} cm tall",
                    ]
                )
                if en
                else f"Welche {occ[1]}nen sind größer als {_de_number(cm / 100, 2)} m?"
            )
        elif shape == 1:
            nat, year = rng.choice(NATIONALITIES), rng.choice([1930, 1935, 1940, 1945])
            hits = [
                p for p in people if p.attrs["nationality"] == nat and p.attrs["birth_year"] < year
            ]
            text = (
                rng.choice(
                    [
                        f"{nat[0]} people born before {year}",
                        f"Who from {nat[2]} was born earlier than {year}?",
                    ]
                )
                if en
                else f"Welche Personen aus {nat[3]} wurden vor {year} geboren?"
            )
        elif shape == 2:
            cat = rng.choice(PRODUCT_CATEGORIES)
            year, price = rng.choice([2000, 2005, 2010]), rng.choice([50, 100, 200, 500])
            hits = [
                p
                for p in products
                if p.attrs["category"] == cat
                and p.attrs["launch_year"] < year
                and p.attrs["price_eur"] < price
            ]
            text = (
                rng.choice(
                    [
                        f"{cat[2]} launched before {year} that cost under {price} EUR",
                        f"Which {cat[2]} came out before {year} and are cheaper than €{price}?",
                    ]
                )
                if en
                else f"{cat[3]}, die vor {year} erschienen sind und weniger als {price} € kosten"
            )
        elif shape == 3:
            cat = rng.choice(PRODUCT_CATEGORIES)
            grams = rng.choice([100, 300, 500, 1000, 2000, 5000])
            hits = [
                p for p in products if p.attrs["category"] == cat and p.attrs["weight_g"] < grams
            ]
            shown = f"{grams / 1000:g} kg" if grams >= 1000 else f"{grams} g"
            text = (
                rng.choice(
                    [f"{cat[2]} lighter than {shown}", f"Which {cat[2]} weigh less than {shown}?"]
                )
                if en
                else f"Welche {cat[3]} wiegen weniger als {shown.replace('.', ',')}?"
            )
        elif shape == 4:
            nat = rng.choice(NATIONALITIES)
            people_min = rng.choice([50_000, 100_000, 250_000, 500_000])
            hits = [
                p
                for p in places
                if p.attrs["country"] == nat and p.attrs["population"] > people_min
            ]
            text = (
                rng.choice(
                    [
                        f"places in {nat[2]} with more than {people_min:,} inhabitants",
                        f"Which towns or cities in {nat[2]} have a population above "
                        f"{people_min / 1000:g} thousand?",
                    ]
                )
                if en
                else f"Orte in {nat[3]} mit mehr als {_de_number(people_min, 0)} Einwohnern"
            )
        else:
            nat, year = rng.choice(NATIONALITIES), rng.choice([1000, 1100, 1200, 1300])
            hits = [p for p in places if p.attrs["country"] == nat and p.attrs["founded"] < year]
            text = (
                rng.choice(
                    [
                        f"Which places in {nat[2]} were founded before {year}?",
                        f"settlements in {nat[2]} older than the year {year}",
                    ]
                )
                if en
                else f"Welche Orte in {nat[3]} wurden vor dem Jahr {year} gegründet?"
            )
        if 1 <= len(hits) <= 25:
            out.append(Question(text, "numeric-range", language, [h.id for h in hits]))
    return out


MISSING_EN = [
    "When was {n} born?",
    "How tall is {n}?",
    "How much does the {n} cost?",
    "How many people live in {n}?",
]
MISSING_DE = [
    "Wann wurde {n} geboren?",
    "Wie groß ist {n}?",
    "Was kostet der {n}?",
    "Wie viele Einwohner hat {n}?",
]


def entity_set(rng: random.Random) -> tuple[list[dict], list[Question], list[Question]]:
    """(pages, answerable questions, questions about entities that do not exist)."""
    entities = entities_make(rng, people=620, products=520, places=320)
    pages = [page(e, rng) for e in entities]
    questions: list[Question] = []
    for language, share in (("en", 1.0), ("de", 0.6)):
        questions += _name_questions(rng, entities, round(32 * share), language)
        questions += _description_questions(rng, entities, round(32 * share), language)
        questions += _multi_questions(rng, entities, round(30 * share), language)
        questions += _range_questions(rng, entities, round(30 * share), language)
    names = {e.name for e in entities}
    missing: list[Question] = []
    while len(missing) < 30:
        language = "en" if len(missing) % 3 else "de"
        name = rng.choice(
            [
                f"{rng.choice(FIRST_NAMES)} {_made_up(rng, 3)}",
                f"{rng.choice(BRANDS)} {_made_up(rng, 3)}",
                _made_up(rng, 4),
            ]
        )
        if name in names:
            continue
        template = rng.choice(MISSING_EN if language == "en" else MISSING_DE)
        missing.append(Question(template.format(n=name), "nonexistent", language, []))
    return pages, questions, missing
