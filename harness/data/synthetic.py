"""Offline synthetic generators: NIAH, the RULER families and counting-stars, deterministic from
(generator version, seed, params) and measured in the evaluated model's tokens.

A generator is a pure function ``(params, rng, tokenizer) -> list[sample]``; samples are plain
dicts of strings, numbers and lists so that their canonical JSON (see ``harness.data.hashing``) is
the same on every machine. Each generator carries a version: any change to what it emits must bump
it, and the manifest pins ``generator_version`` so a stale pin fails instead of scoring new data.

Task shapes follow RULER (NVIDIA, ``scripts/data/synthetic/{niah,variable_tracking,
common_words_extraction,freq_words_extraction}.py``) and Counting-Stars (Song et al. 2024); the
haystack is our own generated filler (``harness.data.haystack``) because no essay corpus can be
downloaded here. Context length is the number of tokens of the ``context`` field alone (the
official Counting-Stars style may cut its haystack in words or characters instead, as its files are).

Two styles share each generator. ``style: "lite"`` (the default) is what LOOMBench-lite pins; its
output must never change under version 1. ``style: "official"`` (and the NIAH grid's fixed
``needle``) reproduce the official task texts and structure: RULER's needles, noise and needle
haystacks, uuids, few-shot examples and Zipf counts (NVIDIA/RULER at commit
c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a), LOOM-Scope's NIAH grid, and Counting-Stars' 32 stars
in English or Chinese with the reasoning variant (nick7nlp/Counting-Stars at commit
32e16f2c2d2be9f38d710e782236315e0821a038, ``gen_test_data.ipynb``). Where they need room for the
prompt around the context, ``reserve_tokens`` is taken off ``length`` (RULER's ``max_seq_length``
counts the whole prompt and the answer). What differs from the official generators is listed in
``harness.benchmarks.ruler``, ``.niah`` and ``.counting_stars``.
"""

from __future__ import annotations

import json
import math
import random
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.data import haystack
from loomcore.errors import InputError


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
    """Filler sentences with their token counts, drawn lazily from one seeded stream. Each sentence
    is counted with the separator that will precede it (a space in English, nothing in Chinese)."""

    def __init__(self, rng: random.Random, tokenizer: TokenCounter,
                 make: Callable[[random.Random, int], list[str]] = haystack.filler_sentences, separator: str = " "):
        self._rng = rng
        self._tokenizer = tokenizer
        self._make = make
        self._separator = separator
        self._sentences: list[str] = []
        self._counts: list[int] = []

    def _grow(self, n: int) -> None:
        fresh = self._make(self._rng, n)
        self._sentences.extend(fresh)
        self._counts.extend(self._tokenizer.count_many([self._separator + s for s in fresh]))

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


def _distinct(rng: random.Random, make: Callable[[random.Random], str], n: int) -> list[str]:
    """``n`` different values of ``make``, in the order drawn."""
    values: list[str] = []
    while len(values) < n:
        value = make(rng)
        if value not in values:
            values.append(value)
    return values


def _distinct_keys(rng: random.Random, n: int) -> list[str]:
    return _distinct(rng, haystack.needle_key, n)


def _sample_id(task: str, length: int, index: int) -> str:
    return f"{task}-{length}-{index:04d}"


def niah_grid(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Single needle over a depth x length grid (LOOM-Scope NIAH / Kamradt needle test). With a
    fixed ``needle`` sentence (and its ``question`` and ``answer``) every cell hides that sentence,
    as LOOM-Scope does; otherwise a magic number under a random key."""
    if params["needle"] is not None:
        return _fixed_needle_grid(params, rng, tok)
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
    (multi-query); all needles at uniformly random depths, as in RULER. ``style: "official"``: see
    ``_ruler_niah_official``."""
    if params["style"] == "official":
        return _ruler_niah_official(params, rng, tok)
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


def _var_name(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(length))


def variable_tracking(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``vt``: a chain ``VAR A = 12345``, ``VAR B = VAR A``, ...; the answer is every name
    that holds the value. ``style: "official"``: see ``_variable_tracking_official``."""
    if params["style"] == "official":
        return _variable_tracking_official(params, rng, tok)
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
    frequency is lowered until they take at most half of it, and recorded in the sample.
    ``style: "official"``: see ``_common_words_official``."""
    if params["style"] == "official":
        return _common_words_official(params, rng, tok)
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
    the ``num_answers`` most frequent ones. Word 0 ('...') is noise, as in RULER, and never asked.
    ``style: "official"``: see ``_frequent_words_official``."""
    if params["style"] == "official":
        return _frequent_words_official(params, rng, tok)
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
    little penguin counted N stars.' at evenly spaced depths; the answer is the counts in order.
    ``style: "official"``: see ``_counting_stars_official``."""
    if params["style"] == "official":
        return _counting_stars_official(params, rng, tok)
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


# --- Official styles -------------------------------------------------------------------------------

_RULER_NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
# RULER's depths for essay haystacks, np.round(np.linspace(0, 100, 40)): no point falls on a .5, so
# Python's round gives the same integers.
_RULER_DEPTHS = tuple(round(100 * i / 39) for i in range(40))


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# RULER's needle key and value types (synthetic.yaml ``type_needle_k`` / ``type_needle_v``).
_RULER_VALUES: dict[str, Callable[[random.Random], str]] = {
    "numbers": lambda rng: haystack.needle_number(rng, 7),
    "words": haystack.needle_key,
    "uuids": _uuid4,
}


def _line_haystack(rng: random.Random, tok: TokenCounter, budget: int,
                   make_line: Callable[[random.Random], str]) -> list[str]:
    """Lines from ``make_line`` whose tokens, each counted after its newline, sum to at most
    ``budget`` (at least one line)."""
    lines: list[str] = []
    used = 0
    while True:
        batch = [make_line(rng) for _ in range(256)]
        for line, cost in zip(batch, tok.count_many(["\n" + line for line in batch])):
            if lines and used + cost > budget:
                return lines
            lines.append(line)
            used += cost


def _tokens(tok: TokenCounter, texts: Sequence[str], separator: str = "\n") -> int:
    return sum(tok.count_many([separator + t for t in texts]))


def _too_short(length: int, what: str) -> InputError:
    return InputError(f"dataset.params.lengths: {length} tokens leave no room for {what} — "
                      "use a longer length or a smaller reserve_tokens")


def _ruler_niah_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``niah`` (scripts/data/synthetic/niah.py): needles 'One of the special magic {kind} for
    {key} is: {value}.' with keys and values drawn as words, 7-digit numbers or uuids. The haystack
    is filler sentences with the needles at depths drawn from RULER's 40 even depths (``essay``), or
    one line per sentence of RULER's repeated noise (``noise``) or of distractor needles under other
    keys (``needle``) with the needles on random lines. ``num_queries`` keys are asked (joined as
    'a, b, and c'); the answers are all their values, in that order."""
    kind = params["value_type"]
    new_key, new_value = _RULER_VALUES[params["key_type"]], _RULER_VALUES[kind]
    num_keys = max(params["num_keys"], params["num_queries"])

    def needle(key: str, value: str) -> str:
        return f"One of the special magic {kind} for {key} is: {value}."

    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            keys = _distinct(rng, new_key, num_keys)
            values = {k: [new_value(rng) for _ in range(params["num_values"])] for k in keys}
            needles = [needle(k, v) for k in keys for v in values[k]]
            rng.shuffle(needles)
            queried = rng.sample(keys, params["num_queries"])
            context, n = _ruler_niah_haystack(params, rng, tok, length, needles,
                                              lambda r: _distractor(r, new_key, new_value, values, needle))
            query = ", ".join(queried[:-1]) + ", and " + queried[-1] if len(queried) > 1 else queried[0]
            samples.append({
                "id": _sample_id(params["task"], length, index), "context": context, "query": query,
                "answers": [v for k in queried for v in values[k]], "type_needle_v": kind,
                "length": length, "context_tokens": n,
            })
    return samples


def _distractor(r: random.Random, new_key, new_value, values: dict[str, list[str]], needle) -> str:
    """A needle under another key (a distractor never shares a real key)."""
    key = new_key(r)
    while key in values:
        key = new_key(r)
    return needle(key, new_value(r))


def _ruler_niah_haystack(params: dict[str, Any], rng: random.Random, tok: TokenCounter, length: int,
                         needles: list[str], distractor) -> tuple[str, int]:
    """The context with the needles placed (see ``_ruler_niah_official``) and its token count."""
    budget = length - params["reserve_tokens"]
    if params["haystack"] == "essay":
        if len(needles) > len(_RULER_DEPTHS):
            raise InputError(f"dataset.params: {len(needles)} needles but RULER has "
                             f"{len(_RULER_DEPTHS)} depths — use fewer keys or values")
        depths = sorted(d / 100 for d in rng.sample(_RULER_DEPTHS, len(needles)))
        return _haystack_context(rng, tok, budget, needles, depths)
    make = (lambda r: _RULER_NOISE) if params["haystack"] == "noise" else distractor
    lines = _line_haystack(rng, tok, budget - _tokens(tok, needles), make)
    if len(lines) < len(needles):
        raise _too_short(length, f"{len(needles)} needles on separate lines")
    for position, text in zip(sorted(rng.sample(range(len(lines)), len(needles)), reverse=True), needles):
        lines.insert(position, text)
    context = "\n".join(lines)
    return context, tok.count_many([context])[0]


def _noise_with_chain(rng: random.Random, tok: TokenCounter, budget: int, chain: list[str]) -> str:
    """RULER's noise lines with the chain's lines inserted in order at random lines."""
    lines = _line_haystack(rng, tok, budget - _tokens(tok, chain), lambda r: _RULER_NOISE)
    if len(lines) < len(chain):
        raise InputError("dataset.params: the variable chain does not fit — use a longer length, a larger "
                         "example_tokens or a smaller reserve_tokens")
    for offset, position in enumerate(sorted(rng.sample(range(len(lines)), len(chain)))):
        lines.insert(position + offset, chain[offset])
    return "\n".join(lines)


def _variable_chain(rng: random.Random, name_length: int, num_hops: int) -> tuple[list[str], str, list[str]]:
    """Names, the 5-digit value and RULER's assignment lines ('VAR B = VAR A ' keeps its space)."""
    names = _distinct(rng, lambda r: _var_name(r, name_length), num_hops + 1)
    value = str(rng.randrange(10000, 99999))  # np.random.randint(10000, 99999)
    chain = [f"VAR {names[0]} = {value}"] + [f"VAR {names[i]} = VAR {names[i - 1]} " for i in range(1, len(names))]
    return names, value, chain


def _variable_tracking_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``variable_tracking`` (scripts/data/synthetic/variable_tracking.py, noise haystack, one
    chain): lines of RULER's noise sentence with 'VAR A = 12345', 'VAR B = VAR A ', ... inserted in
    order. Each sample carries its one-shot example as RULER builds it: a chain of 3-letter names
    in about ``example_tokens`` tokens of noise (``example_context``, ``example_query``,
    ``example_answers``); the main context gets what the example leaves of the length."""
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            example_names, example_value, example_chain = _variable_chain(rng, 3, params["num_hops"])
            example_context = _noise_with_chain(rng, tok, params["example_tokens"], example_chain)
            names, value, chain = _variable_chain(rng, 5, params["num_hops"])
            budget = (length - params["reserve_tokens"] - tok.count_many([example_context])[0]
                      - _tokens(tok, example_names, " "))
            context = _noise_with_chain(rng, tok, budget, chain)
            samples.append({
                "id": _sample_id(params["task"], length, index), "context": context, "query": value,
                "answers": names, "example_context": example_context, "example_query": example_value,
                "example_answers": example_names, "length": length,
                "context_tokens": tok.count_many([context])[0],
            })
    return samples


# RULER's common_words_extraction.py: below 4096 tokens the list repeats the common words 6 times and
# the others once, and its one-shot example has 20 words (3 and 1 times); from 4096 on the task's
# own frequencies (30 and 3) hold and the example has 40 words (10 and 3 times).
_CWE_SHORT_BELOW = 4096
_CWE_SHORT = {"common_freq": 6, "uncommon_freq": 1, "example_words": 20, "example_common_freq": 3,
              "example_uncommon_freq": 1}
_CWE_LONG_EXAMPLE = {"example_words": 40, "example_common_freq": 10, "example_uncommon_freq": 3}


def _numbered(words: Sequence[str]) -> str:
    return " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))


def _common_words_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``common_words_extraction``: a numbered list where ``num_common`` words recur
    ``common_freq`` times and the others ``uncommon_freq`` times, after a one-shot example list
    (``example_context``/``example_answers``), with RULER's two regimes (``_CWE_SHORT``). Common and
    example words come from the filler vocabulary; the many once-or-thrice words are coded 6-letter
    words (RULER draws English words). Their number is the largest that keeps the list within what
    the example and ``reserve_tokens`` leave of the length."""
    vocab = haystack.vocabulary()
    num_common = params["num_common"]
    samples = []
    for length in params["lengths"]:
        regime = (_CWE_SHORT if length < _CWE_SHORT_BELOW else
                  {"common_freq": params["common_freq"], "uncommon_freq": params["uncommon_freq"], **_CWE_LONG_EXAMPLE})
        common_freq, uncommon_freq = regime["common_freq"], regime["uncommon_freq"]
        for index in range(params["samples_per_length"]):
            example_words = rng.sample(vocab, regime["example_words"])
            example_list = (example_words[:num_common] * regime["example_common_freq"]
                            + example_words[num_common:] * regime["example_uncommon_freq"])
            rng.shuffle(example_list)
            example_context = _numbered(example_list)
            budget = (length - params["reserve_tokens"] - tok.count_many([example_context])[0]
                      - tok.count_many([_numbered(example_words[:num_common])])[0])
            common = rng.sample(vocab, num_common)
            taken = set(vocab)
            fillers: list[str] = []
            # Every item costs at least two tokens ('7.', ' w'), which bounds the filler count.
            while len(fillers) < max(budget, 0) // (2 * uncommon_freq) + 1:
                word = _coded_word(rng, 6)
                if word not in taken:
                    taken.add(word)
                    fillers.append(word)
            order_seed = rng.random()

            def build(n_fill: int) -> str:
                words = common * common_freq + fillers[:n_fill] * uncommon_freq
                random.Random(order_seed).shuffle(words)
                return _numbered(words)

            if tok.count_many([build(0)])[0] > budget:
                raise _too_short(length, f"{num_common} common words {common_freq} times each")
            lo, hi = 0, len(fillers)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if tok.count_many([build(mid)])[0] <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            context = build(lo)
            samples.append({
                "id": _sample_id(params["task"], length, index), "context": context,
                "query": str(num_common), "answers": common, "example_context": example_context,
                "example_answers": example_words[:num_common], "length": length, "common_freq": common_freq,
                "context_tokens": tok.count_many([context])[0],
            })
    return samples


def _zeta(alpha: float) -> float:
    """Riemann zeta for alpha > 1 (Euler-Maclaurin after 1000 terms; error below 1e-9 at alpha 2)."""
    k = 1000
    return math.fsum(n ** -alpha for n in range(1, k)) + k ** (1 - alpha) / (alpha - 1) + k ** -alpha / 2


def _largest_fitting_n(weights: list[float], costs: list[int], budget: int, vocab_size: int) -> int:
    """The largest N whose word counts int(N w) fit the budget. Words are separated by spaces, so the
    text's tokens are (nearly) the sum of its words'."""
    lo, hi = 0, budget + vocab_size + 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(int(mid * w) * cost for w, cost in zip(weights, costs)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _zipf_text(coded: list[str], weights: list[float], n_words: int, order_seed: float, tok: TokenCounter,
               budget: int) -> tuple[str, int]:
    """The shuffled text of the coded words at counts int(N w), N lowered until it fits the budget."""
    while True:
        words = [w for w, weight in zip(coded, weights) for _ in range(int(n_words * weight))]
        random.Random(order_seed).shuffle(words)
        context = " ".join(words)
        n = tok.count_many([context])[0]
        if n <= budget or n_words == 0:
            return context, n
        n_words = max(0, n_words - (n - budget))


def _frequent_words_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER ``freq_words_extraction``: ``vocab_size`` coded words (length // 50 when -1, RULER's
    default) ranked at random; word k appears int(N k^-alpha / zeta(alpha)) times, shuffled; the
    top word is replaced by the noise '...', so the answers are ranks 2 to 1 + ``num_answers``. N
    is the largest whose text fits what ``reserve_tokens`` leaves of the length."""
    if params["alpha"] <= 1:
        raise InputError(f"dataset.params.alpha: {params['alpha']} — the Zipf exponent must be over 1")
    zeta = _zeta(params["alpha"])
    samples = []
    for length in params["lengths"]:
        budget = length - params["reserve_tokens"]
        vocab_size = params["vocab_size"] if params["vocab_size"] > 0 else budget // 50
        if vocab_size <= params["num_answers"]:
            raise _too_short(length, f"more than {params['num_answers']} coded words")
        weights = [(rank + 1) ** -params["alpha"] / zeta for rank in range(vocab_size)]
        for index in range(params["samples_per_length"]):
            coded = sorted(_distinct(rng, lambda r: _coded_word(r, params["word_length"]), vocab_size))
            rng.shuffle(coded)
            coded[0] = "..."
            costs = tok.count_many([" " + w for w in coded])

            lo = _largest_fitting_n(weights, costs, budget, vocab_size)
            context, n = _zipf_text(coded, weights, lo, rng.random(), tok, budget)
            samples.append({
                "id": _sample_id(params["task"], length, index), "context": context,
                "query": str(params["num_answers"]), "answers": coded[1:1 + params["num_answers"]],
                "length": length, "context_tokens": n,
            })
    return samples


# Counting-Stars' needles (gen_test_data.ipynb ``sentence_with_star``), each on its own line.
_STAR_NEEDLES = {
    ("en", "acquisition"): "\nThe little penguin counted {right} ★\n",
    ("en", "reasoning"): ("\nThe little penguin counted {wrong} ★, but found that a mistake had been made, so the "
                          "counting was done again, and this time {right} ★ was counted correctly.\n"),
    ("zh", "acquisition"): "\n小企鹅数了{right}颗★\n",
    ("zh", "reasoning"): "\n小企鹅数了{wrong}颗★，但发现数错了，于是又数了一遍，这次数对了，是{right}颗★\n",
}

# Chinese filler, standing in for Counting-Stars' The Story of the Stone: grammatical, meaningless
# sentences run together without spaces, as its haystack is.
_ZH_ADJECTIVES = ("安静的 明亮的 温和的 古老的 银色的 金色的 狭窄的 宽阔的 遥远的 隐秘的 耐心的 聪明的 "
                  "小心的 谦逊的 疲倦的 平静的 勇敢的 寒冷的 温暖的 年轻的").split()
_ZH_NOUNS = ("农夫 画家 水手 医生 孩子 学生 旅人 商人 面包师 诗人 猎人 歌手 船长 老师 邻居 渔夫 园丁 木匠 "
             "邮差 书生").split()
_ZH_OBJECTS = ("灯笼 桥梁 花园 窗户 桌子 村庄 港口 草地 城堡 蜡烛 山谷 小岛 图书馆 市场 厨房 篮子 镜子 "
               "梯子 毯子 瓶子").split()
_ZH_VERBS = "看见了 画下了 带走了 拜访了 穿过了 打开了 关上了 找到了 记住了 描述了 欣赏了 清洗了 修好了 测量了".split()
_ZH_PLACES = ("在古老的桥边 在漫长的冬天之前 在晨雨之后 在小镇里 在安静的湖畔 在高高的树下 在宽阔的田野上 "
              "在道路的尽头 在热闹的集市上 在狭窄的小路上 在石墙后面 在第一天").split()


def _zh_filler_sentences(rng: random.Random, count: int) -> list[str]:
    return [f"{rng.choice(_ZH_ADJECTIVES)}{rng.choice(_ZH_NOUNS)}{rng.choice(_ZH_PLACES)}{rng.choice(_ZH_VERBS)}"
            f"{rng.choice(_ZH_ADJECTIVES)}{rng.choice(_ZH_OBJECTS)}。" for _ in range(count)]


_STAR_HAYSTACKS: dict[str, tuple[Callable[[random.Random, int], list[str]], str]] = {
    "en": (haystack.filler_sentences, " "),
    "zh": (_zh_filler_sentences, ""),
}


# How a haystack's size is measured when not in tokens: Counting-Stars cuts its English essays by
# words (split on spaces) and its Chinese novel by characters.
_SIZE_MEASURES: dict[str, Callable[[str], int]] = {"words": lambda s: len(s.split()), "chars": len}


def _take_by_size(rng: random.Random, make: Callable[[random.Random, int], list[str]], size: int,
                  measure: Callable[[str], int]) -> list[str]:
    """Consecutive new sentences whose sizes sum to at most ``size`` (at least one)."""
    out: list[str] = []
    used = 0
    while True:
        for sentence in make(rng, 256):
            cost = measure(sentence)
            if out and used + cost > size:
                return out
            out.append(sentence)
            used += cost


def _miscounts(rng: random.Random, right: Sequence[int]) -> list[int]:
    """A wrong count beside each right one (Counting-Stars' r_stars are its a_stars +-1), never equal
    to a right count nor to another wrong one."""
    taken = set(right)
    wrong = []
    for count in right:
        step = 1
        while not (options := [c for c in (count - step, count + step) if c >= 1 and c not in taken]):
            step += 1
        choice = rng.choice(options)
        taken.add(choice)
        wrong.append(choice)
    return wrong


def _counting_stars_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Counting-Stars (gen_test_data.ipynb): ``num_needles`` distinct counts below 4x their number
    (its 32 counts lie in 1..127); the haystack is cut into that many equal runs of sentences, each
    followed by a star sentence on its own line, so the last closes the context. The ``reasoning``
    variant first states a wrong count next to the right one (``wrong_counts``). English filler is
    joined by spaces, Chinese filler by nothing, as the official haystacks are. The haystack holds
    ``length`` minus the stars and ``reserve_tokens`` tokens, or, with ``size_unit`` words or chars,
    int(``length`` x ``size_scale``) words or characters besides the stars, as the official files
    are cut (0.8 x length words in English, 0.7 x length characters in Chinese)."""
    m = params["num_needles"]
    make, separator = _STAR_HAYSTACKS[params["language"]]
    needle = _STAR_NEEDLES[(params["language"], params["variant"])]
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            right = rng.sample(range(1, 4 * m), m)
            wrong = _miscounts(rng, right)
            needles = [needle.format(right=r, wrong=w) for r, w in zip(right, wrong)]
            if params["size_unit"] == "tokens":
                room = length - params["reserve_tokens"] - sum(tok.count_many(needles))
                if room <= 0:
                    raise _too_short(length, f"{m} star sentences")
                sentences = _Haystack(rng, tok, make, separator).take(room)
            else:
                size = int(length * params["size_scale"])
                sentences = _take_by_size(rng, make, size, _SIZE_MEASURES[params["size_unit"]])
            parts, start = [], 0
            for i, text in enumerate(needles):
                end = round((i + 1) * len(sentences) / m)
                parts.append(separator.join(sentences[start:end]) + text)
                start = end
            context = "".join(parts)
            sample = {"id": _sample_id(params["task"], length, index), "context": context,
                      "answers": [str(r) for r in right], "length": length,
                      "context_tokens": tok.count_many([context])[0]}
            if params["variant"] == "reasoning":
                sample["wrong_counts"] = [str(w) for w in wrong]
            samples.append(sample)
    return samples


def _fixed_needle_grid(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """LOOM-Scope's NIAH (benchmarks/Retrieve/NIAH/utils/data_synthetic/synthetic_data.py): the same
    ``needle`` sentence in every cell, at a sentence boundary at each depth, in ``length`` minus
    ``reserve_tokens`` (its final_context_length_buffer) tokens of filler; the answer is ``answer``."""
    if not params["question"] or not params["answer"]:
        raise InputError("dataset.params: a fixed needle needs its question and answer — set both")
    samples = []
    for length in params["lengths"]:
        for depth in params["depths"]:
            for rep in range(params["samples_per_cell"]):
                context, n = _haystack_context(rng, tok, length - params["reserve_tokens"],
                                               [params["needle"]], [depth])
                samples.append({
                    "id": f"niah-{length}-d{round(depth * 100):03d}-{rep:02d}",
                    "context": context, "query": params["question"], "answers": [params["answer"]],
                    "length": length, "depth": depth, "context_tokens": n,
                })
    return samples


_COMMON_LENGTH = {"lengths": [1024, 2048, 4096, 8192], "samples_per_length": 10, "value_digits": 7}

GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator("niah", "1", niah_grid, {
        "lengths": [1024, 2048, 4096, 8192], "depths": [0.0, 0.25, 0.5, 0.75, 1.0],
        "samples_per_cell": 2, "value_digits": 7,
        "needle": None, "question": None, "answer": None, "reserve_tokens": 0}),
    Generator("ruler_niah", "1", ruler_niah, {
        **_COMMON_LENGTH, "task": "niah_single", "num_keys": 1, "num_values": 1, "num_queries": 1,
        "style": "lite", "haystack": "essay", "key_type": "words", "value_type": "numbers", "reserve_tokens": 0}),
    Generator("ruler_vt", "1", variable_tracking, {
        **_COMMON_LENGTH, "task": "vt", "num_hops": 4, "style": "lite", "example_tokens": 400, "reserve_tokens": 0}),
    Generator("ruler_cwe", "1", common_words, {
        **_COMMON_LENGTH, "task": "cwe", "num_common": 10, "common_freq": 30, "uncommon_freq": 3,
        "style": "lite", "reserve_tokens": 0}),
    Generator("ruler_fwe", "1", frequent_words, {
        **_COMMON_LENGTH, "task": "fwe", "vocab_size": 800, "word_length": 5, "alpha": 2.0,
        "num_answers": 3, "style": "lite", "reserve_tokens": 0}),
    Generator("counting_stars", "1", counting_stars, {
        **_COMMON_LENGTH, "task": "counting_stars", "num_needles": 4,
        "style": "lite", "language": "en", "variant": "acquisition", "reserve_tokens": 0,
        "size_unit": "tokens", "size_scale": 1.0}),
)}

# Parameters that name a choice, with the values each may take.
_CHOICES: dict[str, tuple[str, ...]] = {
    "style": ("lite", "official"), "haystack": ("essay", "noise", "needle"),
    "key_type": tuple(_RULER_VALUES), "value_type": tuple(_RULER_VALUES),
    "language": tuple(sorted({lang for lang, _ in _STAR_NEEDLES})),
    "variant": tuple(sorted({variant for _, variant in _STAR_NEEDLES})),
    "size_unit": ("tokens", *_SIZE_MEASURES),
}


def generator_version(name: str) -> str:
    """Full version: the generator's own and the haystack's, since both shape the text."""
    return f"{GENERATORS[name].version}+h{haystack.HAYSTACK_VERSION}"


# Bounds on what a generator is asked for: a context of at most 4M tokens (RULER's longest is 1M), at
# most 100,000 samples per cell, other counts at most 4M.
MAX_LENGTH_TOKENS = 4 * 2**20
MAX_COUNT = 100_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_problem(key: str, value: Any) -> str | None:
    item = float if key == "depths" else int
    good = isinstance(value, list) and value and all(
        isinstance(v, (int, float) if item is float else int) and not isinstance(v, bool) for v in value)
    if not good:
        return f"params.{key}: {json.dumps(value)[:60]} is not a non-empty list of " \
               f"{'numbers' if item is float else 'integers'}"
    if key == "depths" and not all(0 <= v <= 1 for v in value):
        return f"params.{key}: depths are fractions of the context, from 0 to 1"
    if key == "lengths" and not all(0 < v <= MAX_LENGTH_TOKENS for v in value):
        return f"params.{key}: context lengths run from 1 to {MAX_LENGTH_TOKENS} tokens"
    return None


def _int_problem(key: str, value: Any) -> str | None:
    top = MAX_COUNT if key.startswith(("samples_per", "num_samples")) else MAX_LENGTH_TOKENS
    # -1 (or 0) is "derive it" for some parameters (vocab_size)
    if not _is_int(value) or not -1 <= value <= top:
        return f"params.{key}: {json.dumps(value)[:60]} is not an integer from -1 to {top}"
    return None


def _float_problem(key: str, value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not 0 <= value <= MAX_COUNT:
        return f"params.{key}: {json.dumps(value)[:60]} is not a number from 0 to {MAX_COUNT}"
    return None


def _param_problem(key: str, value: Any, default: Any) -> str | None:
    """One parameter against the type of its default (a bool default is a flag: anything goes)."""
    if isinstance(default, bool):
        return None
    if isinstance(default, list):
        return _list_problem(key, value)
    if isinstance(default, int):
        return _int_problem(key, value)
    if isinstance(default, float):
        return _float_problem(key, value)
    if (isinstance(default, str) or default is None) and value is not None and not isinstance(value, str):
        return f"params.{key}: {json.dumps(value)[:60]} is not a string"
    return None


def param_problems(name: str, params: Any) -> list[str]:
    """``dataset.params`` of generator ``name`` checked against the types of its defaults and sane bounds
    (one ``params.KEY: ... — ...`` line each), so a wrong type is invalid input and a huge request is
    refused before anything is generated."""
    gen = GENERATORS[name]
    if not isinstance(params, dict):
        return ["params: not an object — give the generator's parameters as a JSON object"]
    problems = [f"params: unknown parameter(s) {sorted(set(params) - set(gen.defaults))} — allowed: "
                f"{sorted(gen.defaults)}"] if set(params) - set(gen.defaults) else []
    problems += [problem for key, value in params.items() if key in gen.defaults
                 and (problem := _param_problem(key, value, gen.defaults[key])) is not None]
    for key, allowed in _CHOICES.items():
        if key in params and isinstance(params[key], str) and params[key] not in allowed:
            problems.append(f"params.{key}: {params[key]!r} is not one of {list(allowed)} — use one of them")
    return problems


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
    problems = param_problems(name, params)
    if problems:
        raise InputError(*[f"dataset.{problem}" for problem in problems])
    full = {**gen.defaults, **params}
    for key, allowed in _CHOICES.items():
        if key in full and full[key] not in allowed:
            raise InputError(f"dataset.params.{key}: {full[key]!r} is not one of {list(allowed)} for generator "
                             f"{name!r} — use one of them")
    return gen.fn(full, random.Random(f"{name}:{seed}"), tokenizer)
