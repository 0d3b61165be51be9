"""Offline haystack text: seeded filler sentences and needle keys, shipped as code (no download).

RULER and LOOM-Scope fill their haystacks with Paul Graham essays or repeated sentences. Neither
can be fetched here, so the filler is generated from small word tables with a seeded
``random.Random``: the same (seed, count) gives the same text on every machine and Python build.
Changing any table or sentence shape changes every synthetic dataset, so it bumps
``HAYSTACK_VERSION``, which is part of the version of each generator that uses the filler.
"""

from __future__ import annotations

import random

HAYSTACK_VERSION = "1"

NOUNS = (
    "river mountain forest garden window table lantern village harbor meadow bridge castle "
    "candle valley ocean island desert library market kitchen teacher farmer sailor painter "
    "doctor child student traveler merchant soldier baker poet hunter singer pilot captain "
    "engine wagon ladder mirror basket hammer blanket bottle button carpet pencil pocket "
    "ribbon saddle shovel statue tunnel wheel cloud storm breeze shadow sunrise winter summer "
    "autumn spring morning evening letter story song picture garden orchard field road path "
    "stone feather leaf branch flower seed cottage tower chapel fountain plaza bakery school"
).split()

ADJECTIVES = (
    "quiet bright gentle ancient silver golden narrow broad distant hidden patient clever "
    "careful humble proud tired eager calm brave cold warm dusty empty heavy light little "
    "lonely lucky modern noisy old pale quick rare rough round shiny short silent simple "
    "slow smooth soft steady strange strong sweet tall tiny wild wise young green blue red"
).split()

VERBS = (
    "watched painted carried followed visited crossed opened closed found remembered "
    "described admired cleaned repaired built measured counted studied noticed praised "
    "guarded explored borrowed polished sketched named greeted described lifted covered"
).split()

PLACES = (
    "near the old bridge", "before the long winter", "after the morning rain", "in the small town",
    "beside the quiet lake", "under the tall trees", "across the wide field", "at the end of the road",
    "during the busy market", "along the narrow path", "behind the stone wall", "on the first day",
)


def filler_sentence(rng: random.Random) -> str:
    """One grammatical, meaningless sentence, e.g. 'The quiet farmer painted a golden lantern near the old bridge.'"""
    subject = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    obj = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    article = "an" if obj[0] in "aeiou" else "a"
    return f"The {subject} {rng.choice(VERBS)} {article} {obj} {rng.choice(PLACES)}."


def filler_sentences(rng: random.Random, count: int) -> list[str]:
    return [filler_sentence(rng) for _ in range(count)]


def needle_key(rng: random.Random) -> str:
    """A two-word key such as 'brave-harbor' (RULER draws its keys from a word list the same way)."""
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"


def needle_number(rng: random.Random, digits: int = 7) -> str:
    """A number with exactly ``digits`` digits and no leading zero."""
    return str(rng.randrange(10 ** (digits - 1), 10**digits))


def vocabulary() -> list[str]:
    """Every word the filler can produce; used to train the tiny model's tokenizer."""
    words = set(NOUNS) | set(ADJECTIVES) | set(VERBS)
    for place in PLACES:
        words.update(place.split())
    return sorted(words)
