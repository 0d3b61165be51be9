"""What the synthetic generators share: the generator record, the filler haystack with needles at
depths, line haystacks, distinct draws and sample ids."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.data import haystack
from loomcore.errors import InputError


class TokenCounter(Protocol):
    def count_many(self, texts: Sequence[str]) -> list[int]: ...


class TextTokenizer(TokenCounter, Protocol):
    """What a generator that cuts text at token positions needs (``loomcore.tokenizer.ModelTokenizer``:
    no special tokens added)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


Sample = dict[str, Any]
GeneratorFn = Callable[[dict[str, Any], random.Random, TextTokenizer], list[Sample]]


@dataclass(frozen=True)
class Generator:
    name: str
    version: str
    fn: GeneratorFn
    defaults: dict[str, Any]
    # Whether its text comes from the seeded filler (``harness.data.haystack``): then the filler's
    # version is part of the generator's full version. A generator over a pinned text says False.
    filler: bool = True
    # Parameters that name a file or folder: ``generate`` resolves them against the manifest's folder.
    paths: tuple[str, ...] = ()
    # Whether it seeds its own streams as an upstream script's ``--random_seed`` (``.ruler_upstream``):
    # then ``generate`` gives it the manifest's seed as ``params["random_seed"]``.
    upstream_seed: bool = False
    # Whether a length can be beyond what it can fill with a given tokenizer (RULER's searches, which give
    # up with ``Unfillable``): a substituted model's lengths are probed with one sample each
    # (``unfillable_lengths``) and those it cannot fill dropped, recorded.
    may_not_fill: bool = False


class Unfillable(InputError):
    """A generator cannot make a sample of this length with this tokenizer (``length``: the length)."""

    def __init__(self, length: int, *problems: str):
        super().__init__(*problems)
        self.length = length


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
