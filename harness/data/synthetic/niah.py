"""NIAH: the needle-in-a-haystack grid (lengths x depths), with a generated or a fixed needle."""

from __future__ import annotations

import random
from typing import Any

from harness.data import haystack
from harness.data.grids import GRIDS
from harness.data.synthetic.common import (
    Sample,
    TokenCounter,
    _haystack_context,
    _needle,
)
from loomcore.errors import InputError

__all__ = ["GRIDS", "grid_cells", "niah_grid"]


def grid_cells(params: dict[str, Any]) -> tuple[list[int], list[float]]:
    """The lengths and depths of the grid: the named reference's, or the manifest's own."""
    if params.get("grid") is not None:
        lengths, depths = GRIDS[params["grid"]]
        return list(lengths), list(depths)
    return params["lengths"], params["depths"]


def niah_grid(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Single needle over a depth x length grid (the needle test of Kamradt and LOOM-Scope; the grid is
    the manifest's, or the reference it names in ``grid``). With a fixed ``needle`` sentence (and its
    ``question`` and ``answer``) every cell hides that sentence, as LOOM-Scope does; otherwise a magic
    number under a random key."""
    if params["needle"] is not None:
        return _fixed_needle_grid(params, rng, tok)
    samples = []
    lengths, depths = grid_cells(params)
    for length in lengths:
        for depth in depths:
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


def _fixed_needle_grid(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """LOOM-Scope's NIAH (benchmarks/Retrieve/NIAH/utils/data_synthetic/synthetic_data.py): the same
    ``needle`` sentence in every cell, at a sentence boundary at each depth, in ``length`` minus
    ``reserve_tokens`` (its final_context_length_buffer) tokens of filler; the answer is ``answer``."""
    if not params["question"] or not params["answer"]:
        raise InputError("dataset.params: a fixed needle needs its question and answer — set both")
    samples = []
    lengths, depths = grid_cells(params)
    for length in lengths:
        for depth in depths:
            for rep in range(params["samples_per_cell"]):
                context, n = _haystack_context(rng, tok, length - params["reserve_tokens"],
                                               [params["needle"]], [depth])
                samples.append({
                    "id": f"niah-{length}-d{round(depth * 100):03d}-{rep:02d}",
                    "context": context, "query": params["question"], "answers": [params["answer"]],
                    "length": length, "depth": depth, "context_tokens": n,
                })
    return samples
