"""Named NIAH grids (``params.grid``), apart from the generators so that the benchmark tables can count a
grid's cells without importing the generator package."""

from __future__ import annotations

# Grids a manifest may name (``params.grid``) instead of giving ``lengths`` and ``depths``.
# "loom-scope": LOOM-Scope 0.8's NIAH grid, as its published result heatmaps show it (PyPI loom-scope,
# benchmarks/Retrieve/NIAH/results/<model>_NIAH/image.png): 40 token limits 1000, 4256, 7513, ...,
# 128000 by 10 depth percents 0, 11, 22, ..., 100 — Kamradt's LLMTest_NeedleInAHaystack spacing,
# np.round(np.linspace(1000, 128000, 40)) and np.round(np.linspace(0, 100, 10)) (no value is a tie,
# so Python's round gives the same integers). Depths are fractions here.
GRIDS: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "loom-scope": (tuple(round(1000 + i * 127000 / 39) for i in range(40)),
                   tuple(round(100 * i / 9) / 100 for i in range(10))),
}
