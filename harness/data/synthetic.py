"""Offline synthetic generators: NIAH, the RULER families and counting-stars, deterministic from
(generator version, seed, params) and measured in the evaluated model's tokens.

A generator is a pure function ``(params, rng, tokenizer) -> list[sample]``; samples are plain
dicts of strings, numbers and lists so that their canonical JSON (see ``harness.data.hashing``) is
the same on every machine. Each generator carries a version: any change to what it emits must bump
it, and the manifest pins ``generator_version`` so a stale pin fails instead of scoring new data.

Task shapes follow RULER (NVIDIA, ``scripts/data/synthetic/{niah,variable_tracking,
common_words_extraction,freq_words_extraction}.py``) and Counting-Stars (Song et al. 2024); the
haystack is our own generated filler (``harness.data.haystack``) because no essay corpus can be
downloaded here. Context length is the number of tokens of the ``context`` field alone.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.data import haystack
from harness.errors import InputError


class TokenCounter(Protocol):
    def count_many(self, texts: Sequence[str]) -> list[int]: ...


Sample = dict[str, Any]
GeneratorFn = Callable[[dict[str, Any], random.Random, TokenCounter], list[Sample]]


@dataclass(frozen=True)
class Generator:
    name: str
    version: str
    fn: GeneratorFn
    defaults: dict[str, Any]


def _needle(key: str, value: str) -> str:
    return f"The special magic number for {key} is: {value}."


class _Haystack:
    """Filler sentences with their token counts, drawn lazily from one seeded stream."""

    def __init__(self, rng: random.Random, tokenizer: TokenCounter):
        self._rng = rng
        self._tokenizer = tokenizer
        self._sentences: list[str] = []
        self._counts: list[int] = []

    def _grow(self, n: int) -> None:
        fresh = haystack.filler_sentences(self._rng, n)
        self._sentences.extend(fresh)
        self._counts.extend(self._tokenizer.count_many([" " + s for s in fresh]))

    def take(self, budget: int) -> list[str]:
        """Consecutive new sentences whose tokens sum to at most ``budget`` (at least one)."""
        out: list[str] = []
        used = 0
        while True:
            if not self._sentences:
                self._grow(256)
            cost = self._counts[0]
            if out and used + cost > budget:
                return out
            out.append(self._sentences.pop(0))
            self._counts.pop(0)
            used += cost


def _insert(sentences: list[str], needles: Sequence[str], depths: Sequence[float]) -> str:
    """Insert each needle at a sentence boundary at its depth (0 = start, 1 = end)."""
    text = list(sentences)
    placed = sorted(zip(depths, range(len(needles))), reverse=True)
    for depth, i in placed:
        position = round(depth * len(sentences))
        text.insert(position, needles[i])
    return " ".join(text)


def _haystack_context(
    rng: random.Random, tokenizer: TokenCounter, length: int, needles: Sequence[str], depths: Sequence[float]
) -> tuple[str, int]:
    needle_tokens = sum(tokenizer.count_many([" " + n for n in needles]))
    sentences = _Haystack(rng, tokenizer).take(max(1, length - needle_tokens))
    context = _insert(sentences, needles, depths)
    return context, tokenizer.count_many([context])[0]


def _distinct_keys(rng: random.Random, n: int) -> list[str]:
    keys: list[str] = []
    while len(keys) < n:
        key = haystack.needle_key(rng)
        if key not in keys:
            keys.append(key)
    return keys


def _sample_id(task: str, length: int, index: int) -> str:
    return f"{task}-{length}-{index:04d}"


def niah_grid(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Single needle over a depth x length grid (LOOM-Scope NIAH / Kamradt needle test)."""
    samples = []
    for length in params["lengths"]:
        for depth in params["depths"]:
            for rep in range(params["samples_per_cell"]):
                key = haystack.needle_key(rng)
                value = haystack.needle_number(rng, params["value_digits"])
                context, n = _haystack_context(rng, tok, length, [_needle(key, value)], [depth])
                samples.append({
                    "id": f"niah-{length}-d{round(depth * 100):03d}-{rep:02d}",
                    "context": context, "query": key, "answers": [value],
                    "length": length, "depth": depth, "context_tokens": n,
                })
    return samples


def ruler_niah(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER's NIAH family. ``num_keys`` needles with distinct keys (multi-key distractors),
    ``num_values`` values for the queried key (multi-value), ``num_queries`` keys asked at once
    (multi-query); all needles at uniformly random depths, as in RULER."""
    num_keys, num_values, num_queries = params["num_keys"], params["num_values"], params["num_queries"]
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            keys = _distinct_keys(rng, max(num_keys, num_queries))
            values = {k: [haystack.needle_number(rng, params["value_digits"])
                          for _ in range(num_values if i < num_queries else 1)]
                      for i, k in enumerate(keys)}
            needles = [_needle(k, v) for k in keys for v in values[k]]
            rng.shuffle(needles)
            depths = [rng.random() for _ in needles]
            context, n = _haystack_context(rng, tok, length, needles, depths)
            queried = keys[:num_queries]
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context,
                "query": ", ".join(queried[:-1]) + " and " + queried[-1] if len(queried) > 1 else queried[0],
                "answers": [v for k in queried for v in values[k]],
                "length": length, "context_tokens": n,
            })
    return samples


def _var_name(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(5))


def variable_tracking(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``vt``: a chain ``VAR A = 12345``, ``VAR B = VAR A``, ...; the answer is every name
    that holds the value."""
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            names: list[str] = []
            while len(names) < params["num_hops"] + 1:
                name = _var_name(rng)
                if name not in names:
                    names.append(name)
            value = haystack.needle_number(rng, 5)
            chain = [f"VAR {names[0]} = {value}."] + [
                f"VAR {names[i]} = VAR {names[i - 1]}." for i in range(1, len(names))]
            depths = sorted(rng.random() for _ in chain)
            context, n = _haystack_context(rng, tok, length, chain, depths)
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context, "query": value, "answers": names,
                "length": length, "context_tokens": n,
            })
    return samples


def _coded_word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def common_words(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``cwe``: a numbered word list where ``num_common`` words appear ``common_freq`` times
    and coded filler words ``uncommon_freq`` times; the answer is the common words. The number of
    filler words is the largest that keeps the list within ``length`` tokens (binary search, as
    RULER searches its word count). Where the common words alone would fill over half the length, their
    frequency is lowered until they take at most half of it, and recorded in the sample."""
    vocab = haystack.vocabulary()
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            common = rng.sample(vocab, params["num_common"])
            # Every item costs at least three tokens ('7.', ' w'), which bounds the filler count.
            fillers = [_coded_word(rng, 6) for _ in range(length // (3 * params["uncommon_freq"]) + 1)]
            order_seed = rng.random()

            def build(freq: int, n_fill: int) -> str:
                words = common * freq + fillers[:n_fill] * params["uncommon_freq"]
                random.Random(order_seed).shuffle(words)
                return " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))

            freq = params["common_freq"]
            while freq > params["uncommon_freq"] + 1 and tok.count_many([build(freq, 0)])[0] > length // 2:
                freq -= 1
            lo, hi = 0, len(fillers)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if tok.count_many([build(freq, mid)])[0] <= length:
                    lo = mid
                else:
                    hi = mid - 1
            context = build(freq, lo)
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context, "query": str(params["num_common"]), "answers": sorted(common),
                "length": length, "common_freq": freq, "context_tokens": tok.count_many([context])[0],
            })
    return samples


def frequent_words(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``fwe``: coded words drawn from a Zipf distribution (alpha ``alpha``); the answer is
    the ``num_answers`` most frequent ones. Word 0 ('...') is noise, as in RULER, and never asked."""
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            vocab_size = params["vocab_size"]
            coded: list[str] = []
            while len(coded) < vocab_size:
                word = "".join(rng.choice(string.ascii_lowercase) for _ in range(params["word_length"]))
                if word not in coded:
                    coded.append(word)
            weights = [1.0 / (rank + 1) ** params["alpha"] for rank in range(vocab_size)]
            n_words = length  # every word costs at least one token
            draws = rng.choices(range(vocab_size), weights=weights, k=n_words)
            text_words = ["..." if d == 0 else coded[d] for d in draws]
            freq: dict[str, int] = {}
            context_words, used = [], 0
            costs = tok.count_many([" " + w for w in text_words])
            for w, cost in zip(text_words, costs):
                if context_words and used + cost > length:
                    break
                context_words.append(w)
                used += cost
                if w != "...":
                    freq[w] = freq.get(w, 0) + 1
            ranked = sorted(freq, key=lambda w: (-freq[w], w))
            context = " ".join(context_words)
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context, "query": str(params["num_answers"]),
                "answers": ranked[: params["num_answers"]],
                "length": length, "context_tokens": tok.count_many([context])[0],
            })
    return samples


def counting_stars(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Counting-Stars (Song et al., 2024), acquisition variant: ``num_needles`` sentences 'The
    little penguin counted N stars.' at evenly spaced depths; the answer is the counts in order."""
    samples = []
    m = params["num_needles"]
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            counts = [str(rng.randrange(1, 100)) for _ in range(m)]
            needles = [f"The little penguin counted {c} stars." for c in counts]
            depths = [(i + 0.5) / m for i in range(m)]
            context, n = _haystack_context(rng, tok, length, needles, depths)
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context, "query": "stars", "answers": counts,
                "length": length, "context_tokens": n,
            })
    return samples


_COMMON_LENGTH = {"lengths": [1024, 2048, 4096, 8192], "samples_per_length": 10, "value_digits": 7}

GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator("niah", "1", niah_grid, {
        "lengths": [1024, 2048, 4096, 8192], "depths": [0.0, 0.25, 0.5, 0.75, 1.0],
        "samples_per_cell": 2, "value_digits": 7}),
    Generator("ruler_niah", "1", ruler_niah, {
        **_COMMON_LENGTH, "task": "niah_single", "num_keys": 1, "num_values": 1, "num_queries": 1}),
    Generator("ruler_vt", "1", variable_tracking, {**_COMMON_LENGTH, "task": "vt", "num_hops": 4}),
    Generator("ruler_cwe", "1", common_words, {
        **_COMMON_LENGTH, "task": "cwe", "num_common": 10, "common_freq": 30, "uncommon_freq": 3}),
    Generator("ruler_fwe", "1", frequent_words, {
        **_COMMON_LENGTH, "task": "fwe", "vocab_size": 800, "word_length": 5, "alpha": 2.0,
        "num_answers": 3}),
    Generator("counting_stars", "1", counting_stars, {**_COMMON_LENGTH, "task": "counting_stars",
                                                      "num_needles": 4}),
)}


def generator_version(name: str) -> str:
    """Full version: the generator's own and the haystack's, since both shape the text."""
    return f"{GENERATORS[name].version}+h{haystack.HAYSTACK_VERSION}"


def generate(name: str, version: str, seed: int, params: dict[str, Any], tokenizer: TokenCounter) -> list[Sample]:
    """Generate a dataset; refuses a version other than the code's so a pin never silently drifts."""
    if name not in GENERATORS:
        raise InputError(f"dataset.generator: unknown generator {name!r} — use one of {sorted(GENERATORS)}")
    current = generator_version(name)
    if version != current:
        raise InputError(
            f"dataset.generator_version: manifest pins {version!r} but this harness has {name} "
            f"version {current!r} — regenerate the pins with `loomctl pin`, or use the harness "
            f"release that produced the pinned data")
    gen = GENERATORS[name]
    unknown = set(params) - set(gen.defaults)
    if unknown:
        raise InputError(f"dataset.params: unknown parameter(s) {sorted(unknown)} for generator "
                         f"{name!r} — allowed: {sorted(gen.defaults)}")
    full = {**gen.defaults, **params}
    return gen.fn(full, random.Random(f"{name}:{seed}"), tokenizer)
