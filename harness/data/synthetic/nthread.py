"""NThread (Needle Threading, Roberts et al. 2024): a JSON object of UUID key-value pairs with needles
and threads in it, generated offline from the seed (our own construction after the paper's tasks; the
upstream generator is not published, see ``harness.benchmarks.nthread``).

A haystack is ``json.dumps`` of a dict of random 128-bit UUIDs (``uuid.UUID(int=rng.getrandbits(128))``,
no version bits set, the form of the rows on the dataset card) mapping keys to values, as many pairs as
fit ``length - reserve_tokens`` tokens of the evaluated model's tokenizer. The five tasks:

- ``single_needle``: the key at a depth (fraction of the pairs); the answer is its value.
- ``multiple_needles``: ``num_needles`` keys at random positions; the answers are their values.
- ``conditional_needles``: ``num_needles`` keys carry ``conditional_character`` at a random position;
  the answers are their values, in context order.
- ``single_threads``: a chain of ``thread_length`` pairs whose values are the next pair's key, its pairs
  placed at increasing (``forward``) or decreasing (``backward``) positions, alternating by sample;
  the answer is the last pair's value.
- ``multi_threads``: ``num_threads`` such chains on disjoint positions; the answers are their final
  values, in the order of the queried keys.

The query is the key itself for one key, Python's list repr of the keys for several. Pairs are counted
before the needles change them (a conditional mark, a value replaced by the next key); if that made the
JSON longer than the budget, the last pairs no needle uses are dropped until it fits.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from harness.data.synthetic.common import Sample, TokenCounter, _too_short
from loomcore.errors import InputError

TASKS = ("single_needle", "multiple_needles", "conditional_needles", "single_threads", "multi_threads")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _fresh(rng: random.Random, seen: set[str]) -> str:
    while True:
        value = _uuid(rng)
        if value not in seen:
            seen.add(value)
            return value


def _pairs(rng: random.Random, tok: TokenCounter, budget: int) -> list[list[str]]:
    """Random distinct key-value pairs whose JSON text (``"k": "v", `` each) fits ``budget`` tokens."""
    seen: set[str] = set()
    pairs: list[list[str]] = []
    used = 2  # the braces
    while True:
        batch = [[_fresh(rng, seen), _fresh(rng, seen)] for _ in range(64)]
        costs = tok.count_many([json.dumps(k) + ": " + json.dumps(v) + ", " for k, v in batch])
        for pair, cost in zip(batch, costs):
            if used + cost > budget:
                return pairs
            pairs.append(pair)
            used += cost


def _positions(rng: random.Random, n_pairs: int, k: int, what: str) -> list[int]:
    if k > n_pairs:
        raise InputError(f"dataset.params: {what} needs {k} pairs but the length holds {n_pairs} — use a "
                         "longer length or fewer needles")
    return sorted(rng.sample(range(n_pairs), k))


def _thread(pairs: list[list[str]], positions: list[int], backward: bool) -> tuple[str, str]:
    """Make the pairs at ``positions`` one chain (in context order, or reversed); (first key, final value)."""
    order = positions[::-1] if backward else positions
    for here, there in zip(order, order[1:]):
        pairs[here][1] = pairs[there][0]
    return pairs[order[0]][0], pairs[order[-1]][1]


Placed = tuple[str, list[str], list[int]]


def _needles(task: str, params: dict[str, Any], rng: random.Random, pairs: list[list[str]],
             index: int, depth: float) -> Placed:
    """Place the task's needles or threads in ``pairs``; (query, answers, positions of the pairs used)."""
    n = len(pairs)
    if task == "single_needle":
        at = round(depth * (n - 1))
        return pairs[at][0], [pairs[at][1]], [at]
    if task == "multiple_needles":
        at = _positions(rng, n, params["num_needles"], task)
        rng.shuffle(at)
        return repr([pairs[i][0] for i in at]), [pairs[i][1] for i in at], at
    if task == "conditional_needles":
        mark = params["conditional_character"]
        at = _positions(rng, n, params["num_needles"], task)
        for i in at:
            cut = rng.randrange(len(pairs[i][0]) + 1)
            pairs[i][0] = pairs[i][0][:cut] + mark + pairs[i][0][cut:]
        return "", [pairs[i][1] for i in at], at
    backward = params["direction"] == "backward" or (params["direction"] == "alternate" and index % 2 == 1)
    threads = 1 if task == "single_threads" else params["num_threads"]
    at = _positions(rng, n, threads * params["thread_length"], task)
    rng.shuffle(at)
    ends = [_thread(pairs, sorted(at[t::threads]), backward) for t in range(threads)]
    keys = [first for first, _ in ends]
    return (keys[0] if task == "single_threads" else repr(keys)), [last for _, last in ends], at


def _fit(pairs: list[list[str]], used: list[int], tok: TokenCounter, budget: int) -> str:
    """The JSON text, after dropping the last pairs no needle uses while a changed key or value (a
    conditional mark, a value replaced by a key) made it longer than ``budget`` tokens."""
    keep = set(used)
    context = json.dumps(dict(pairs))
    spare = [i for i in range(len(pairs)) if i not in keep]
    while tok.count_many([context])[0] > budget and spare:
        del pairs[spare.pop()]
        context = json.dumps(dict(pairs))
    return context


def nthread(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """``samples_per_length`` samples per length (``single_needle``: one per depth of ``depths`` instead)."""
    task = params["task"]
    if task not in TASKS:
        raise InputError(f"dataset.params.task: {task!r} is not an NThread task — use one of {list(TASKS)}")
    samples = []
    for length in params["lengths"]:
        budget = length - params["reserve_tokens"]
        cells = params["depths"] if task == "single_needle" else [None] * params["samples_per_length"]
        for index, depth in enumerate(cells):
            pairs = _pairs(rng, tok, budget)
            if not pairs:
                raise _too_short(length, "one key-value pair")
            query, answers, used = _needles(task, params, rng, pairs, index, depth or 0.0)
            context = _fit(pairs, used, tok, budget)
            samples.append({
                "id": f"{task}-{length}-{index:04d}", "context": context, "query": query, "answers": answers,
                "length": length, "depth": depth, "num_kv_pairs": len(pairs),
                "context_tokens": tok.count_many([context])[0],
            })
    return samples
