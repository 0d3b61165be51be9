"""The RULER families (NVIDIA/RULER ``scripts/data/synthetic/``): niah, variable tracking, common and
frequent words extraction, in the lite style and the official one (see the package docstring) — the filler
versions: RULER's task texts over this project's own filler sentences and word tables, offline and with
no word list to install, the embedded manifests' generators. RULER's own algorithms and word lists, byte
for byte: ``.ruler_upstream``."""

from __future__ import annotations

import math
import random
import string
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from harness.data import haystack
from harness.data.synthetic.common import (
    Sample,
    TokenCounter,
    _distinct,
    _distinct_keys,
    _haystack_context,
    _line_haystack,
    _needle,
    _sample_id,
    _tokens,
    _too_short,
)
from loomcore.errors import InputError


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


# --- Official styles -------------------------------------------------------------------------------

_RULER_NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
_RULER_NEEDLE = "One of the special magic {type_needle_v} for {key} is: {value}."
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
        return _RULER_NEEDLE.format(type_needle_v=kind, key=key, value=value)

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
