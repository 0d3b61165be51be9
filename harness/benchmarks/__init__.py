"""The benchmark registry: every benchmark a manifest may name, one module per family.

Each module ``harness/benchmarks/<name>.py`` defines ``BENCHMARK`` (see ``harness.benchmarks.base``).
Modules are plain data plus small pure functions and import nothing heavy, so the host side may read
them.
"""

from __future__ import annotations

import importlib

from harness.benchmarks.base import Benchmark, TaskDef
from loomcore.taskspec import Sample

FAMILIES = ("l_citeeval", "leval", "ruler", "longbench", "babilong", "counting_stars", "lveval",
            "longbench_v2", "niah", "infinitebench", "longwriter", "libra")


def _load() -> dict[str, Benchmark]:
    out = {}
    for family in FAMILIES:
        bench = importlib.import_module(f"harness.benchmarks.{family}").BENCHMARK
        assert bench.name == family, f"harness/benchmarks/{family}.py defines {bench.name!r}"
        out[family] = bench
    return out


BENCHMARKS: dict[str, Benchmark] = _load()


def prepared(samples: list[Sample], benchmark: str, task: str) -> list[Sample]:
    """A task's samples as its template sees them: its benchmark's ``prepare`` applied (after the data
    pin check), the same in a run and when ``loomctl verify`` re-renders the prompts."""
    bench = BENCHMARKS.get(benchmark)
    if bench is None or bench.prepare is None:
        return samples
    return [bench.prepare(sample, task) for sample in samples]


__all__ = ["BENCHMARKS", "FAMILIES", "Benchmark", "TaskDef", "prepared"]
