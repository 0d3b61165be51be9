"""Counting-Stars over its own pinned haystack, as the official test files are made.

Our own implementation of the definition in nick7nlp/Counting-Stars at commit
32e16f2c2d2be9f38d710e782236315e0821a038, ``gen_test_data.ipynb`` (``get_context``, ``sentence_with_star``,
``select_question`` and its main loop); no code or data of that repository is shipped here.

1. The haystack. Chinese (``language: "zh"``): ``haystack_path`` names The Story of the Stone
   (``context_data/The_Story_of_the_Stone.txt``), read as text (UTF-8, universal newlines); each line is
   stripped, ``"------------"`` becomes a space, spaces are dropped and the lines run together; then the
   ASCII punctuation (``string.punctuation``) and the Latin letters are removed. English (``"en"``):
   ``haystack_path`` names a folder of essays (the repository's ``context_data/PaulGrahamEssays``); each
   essay's newlines become spaces and the essays run together. Upstream reads them in ``glob.glob``
   order, the file system's, which no one can reproduce; here they are read sorted by name (as
   ``niah_essays`` reads them).
2. ``num_sizes`` (n) sizes: ``interval = int(max_context_length / n)``; a nominal size ``i`` runs over
   ``range(interval, max_context_length + 1, interval)`` and the haystack is cut to
   ``int(i * size_scale)`` words (English: the first words of ``split(" ")``, joined by spaces) or
   characters (Chinese); ``size_scale`` is 0.8 in English and 0.7 in Chinese unless given.
3. ``num_needles`` (m) star sentences go in one after the other, each into the text as it is by then,
   at the notebook's offsets: for the ``indicator``-th star, with ``step = int(j / m)`` and ``k`` its
   ``indicator``-th value of ``range(0, j, step)``, at character ``k + step + len(star) * indicator``
   (Chinese) or after the first ``k + step + len(star.split(" ")) * indicator`` words of the text
   split on spaces (English; the rest is joined after the star). ``len(star)`` is the current star's
   own length, as upstream computes it.
4. The star sentences are the notebook's (``harness.data.synthetic.counting_stars._STAR_NEEDLES``), with
   the right counts ``counts`` and, in the ``reasoning`` variant, the wrong counts ``wrong_counts``
   first: the benchmark's a_stars and r_stars for m (``context_data/{a,r}_stars.txt``), given in the
   manifest, pinned with it.

A sample is one size: ``context`` is the text with its stars (the official row's ``question`` less the
four newlines and the question, which the task's template appends: ``counting_stars/{en,zh}_*.j2``),
``answers`` the right counts, ``length`` the nominal size, ``context_size`` the cut (the official
``context_size``), ``wrong_counts`` (reasoning), ``language`` and ``context_tokens``.

The haystack is an input, pinned as ``niah_essays`` pins its essays: ``haystack_path`` (a file or a
folder; relative to the manifest's folder and inside it, or absolute) and ``haystack_sha256``, the
sha256 of its text as read (UTF-8; a folder's essays concatenated in name order); a missing or different
hash is refused. A haystack shorter than the largest cut is refused (upstream would cut less).

Checked against the official files: with the repository's The_Story_of_the_Stone.txt, its a_stars and
r_stars for 32 and the defaults, the rows written as the notebook writes them (the ``question`` being this
``context`` rendered by the ``zh_*`` template) have the git blob ids of
``test_data/Counting_Stars_ZH_multi-evidence-retrieval-{searching,reasoning}_128000_32_32.jsonl``: byte for
byte the same files. The English files depend on the unknown ``glob`` order and were not reproduced.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import Any

from harness.data.synthetic.common import Sample, TextTokenizer
from harness.data.synthetic.counting_stars import _STAR_NEEDLES
from harness.data.synthetic.niah_essays import checked_pin, read_text
from loomcore.errors import InputError

# gen_test_data.ipynb ``scalar``: English cut in words, Chinese in characters.
SIZE_SCALE = {"en": 0.8, "zh": 0.7}
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")
_LATIN = re.compile("[a-zA-Z]")


def pinned_text(params: dict[str, Any]) -> str:
    """The haystack's text, after checking it against ``haystack_sha256``."""
    if not params["haystack_path"]:
        raise InputError("dataset.params.haystack_path: missing — name the haystack (The Story of the Stone for "
                         "zh, the folder of essays for en) and pin its text with haystack_sha256")
    path = Path(params["haystack_path"])
    return checked_pin(read_text(path), params["haystack_sha256"], f"the text of {path}")


def clean_haystack(text: str, language: str) -> str:
    """Step 1: the notebook's ``get_context`` on the text read."""
    if language == "en":
        return text.replace("\n", " ")
    lines = text.split("\n")  # readlines(): each line's own newline is stripped with it
    context = "".join(line.strip().replace("------------", " ").replace("\n", " ").replace(" ", "")
                      for line in lines)
    return _LATIN.sub("", _PUNCTUATION.sub("", context))


def context_sizes(max_length: int, num_sizes: int, scale: float) -> list[tuple[int, int]]:
    """Step 2: (nominal size, cut) pairs."""
    interval = int(max_length / num_sizes)
    if interval < 1:
        raise InputError(f"dataset.params.num_sizes: {num_sizes} sizes do not fit in max_context_length "
                         f"{max_length} — give fewer sizes or a longer maximum")
    return [(i, int(i * scale)) for i in range(interval, max_length + 1, interval)]


def _insert_zh(text: str, star: str, at: int) -> str:
    return text[:at] + star + text[at:]


def _insert_en(text: str, star: str, at: int) -> str:
    words = text.split(" ")
    return " ".join(words[:at]) + star + " ".join(words[at:])


def sprinkle(context: str, stars: list[str], size: int, language: str) -> str:
    """Step 3: the stars into the cut haystack at the notebook's offsets."""
    step = int(size / len(stars))
    if step < 1:
        raise InputError(f"dataset.params.num_needles: {len(stars)} stars do not fit in a cut of {size} — give "
                         "fewer stars or larger sizes")
    insert, measure = (_insert_en, lambda s: len(s.split(" "))) if language == "en" else (_insert_zh, len)
    for indicator, k in zip(range(len(stars)), range(0, size, step)):
        star = stars[indicator]
        context = insert(context, star, k + step + measure(star) * indicator)
    return context


def _counts(params: dict[str, Any]) -> tuple[list[int], list[int]]:
    m = params["num_needles"]
    right, wrong = params["counts"], params["wrong_counts"]
    if len(right) != m:
        raise InputError(f"dataset.params.counts: {len(right)} counts for {m} stars — give the benchmark's "
                         f"{m} right counts (Counting-Stars' a_stars for {m})")
    if params["variant"] == "reasoning" and len(wrong) != m:
        raise InputError(f"dataset.params.wrong_counts: {len(wrong)} wrong counts for {m} stars — give the "
                         f"benchmark's {m} wrong counts (Counting-Stars' r_stars for {m})")
    return right, wrong if params["variant"] == "reasoning" else right


def _cut(haystack: str, size: int, language: str) -> str:
    return " ".join(haystack.split(" ")[:size]) if language == "en" else haystack[:size]


def counting_stars_text(params: dict[str, Any], rng: random.Random, tok: TextTokenizer) -> list[Sample]:
    """One sample per size of the pinned haystack with its stars (see the module). Deterministic:
    ``rng`` is not used."""
    language, variant = params["language"], params["variant"]
    right, wrong = _counts(params)
    template = _STAR_NEEDLES[(language, variant)]
    stars = [template.format(right=r, wrong=w) for r, w in zip(right, wrong)]
    haystack = clean_haystack(pinned_text(params), language)
    scale = SIZE_SCALE[language] if params["size_scale"] is None else params["size_scale"]
    sizes = context_sizes(params["max_context_length"], params["num_sizes"], scale)
    available = len(haystack.split(" ")) if language == "en" else len(haystack)
    if sizes and available < sizes[-1][1]:
        raise InputError(f"dataset.params.haystack_path: the haystack has {available} "
                         f"{'words' if language == 'en' else 'characters'}, fewer than the largest cut "
                         f"{sizes[-1][1]} — give a longer haystack or smaller sizes")
    samples = []
    for length, size in sizes:
        context = sprinkle(_cut(haystack, size, language), stars, size, language)
        sample = {"id": f"{params['task']}-{length}-0000", "context": context, "answers": [str(r) for r in right],
                  "length": length, "context_size": size, "language": language,
                  "context_tokens": tok.count_many([context])[0]}
        if variant == "reasoning":
            sample["wrong_counts"] = [str(w) for w in wrong]
        samples.append(sample)
    return samples
