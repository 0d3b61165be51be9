"""The benchmark registry: every benchmark a manifest may name, one module per family.

Each module ``harness/benchmarks/<name>.py`` (every module of this package but ``base``) defines
``BENCHMARK`` (see ``harness.benchmarks.base``); a new benchmark needs no row here to be registered.
Modules are plain data plus small pure functions and import nothing heavy, so the host side may read
them.

Two suites are made from these tables: ``FAMILIES`` (LOOMBench's twelve, in its leaderboard's column
order: ``manifests/loombench-v1.json``) and ``LOOM_SCOPE`` (LOOM-Scope's 22 in its six capabilities,
arXiv 2507.04723 Table 1 and ``benchmarks/<Capability>/<Name>`` of PyPI ``loom-scope`` 0.8:
``manifests/loom-scope-full.json``), both written by ``scripts/make_loombench_v1.py``.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.benchmarks.base import Benchmark, TaskDef
from loomcore.taskspec import Sample

FAMILIES = ("l_citeeval", "leval", "ruler", "longbench", "babilong", "counting_stars", "lveval",
            "longbench_v2", "niah", "infinitebench", "longwriter", "libra")

# capability -> its benchmarks, in LOOM-Scope's order (shared/LOOMBENCH.md).
LOOM_SCOPE = {
    "faithfulness": ("l_citeeval", "longcite"),
    "general": ("loogle", "longbench", "leval", "ruler", "bamboo"),
    "retrieval": ("niah", "nthread", "infinitebench", "nolima"),
    "reasoning": ("counting_stars", "babilong", "longbench_v2", "lveval", "longins", "ada_leval"),
    "generation": ("longwriter",),
    "specialization": ("libra", "clongeval", "longhealth", "longsafety"),
}
LOOM_SCOPE_FAMILIES = tuple(name for names in LOOM_SCOPE.values() for name in names)
CAPABILITY = {name: capability for capability, names in LOOM_SCOPE.items() for name in names}


def _load() -> dict[str, Benchmark]:
    out = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        bench = importlib.import_module(f"harness.benchmarks.{module}").BENCHMARK
        assert bench.name == module, f"harness/benchmarks/{module}.py defines {bench.name!r}"
        assert bench.capability == CAPABILITY.get(module, bench.capability), \
            f"harness/benchmarks/{module}.py: capability {bench.capability!r}, LOOM-Scope's is {CAPABILITY[module]!r}"
        out[module] = bench
    return out


BENCHMARKS: dict[str, Benchmark] = _load()


def prepared(samples: list[Sample], benchmark: str, task: str) -> list[Sample]:
    """A task's samples as its template sees them: its benchmark's ``prepare`` applied (after the data
    pin check), the same in a run and when ``loomctl verify`` re-renders the prompts."""
    bench = BENCHMARKS.get(benchmark)
    if bench is None or bench.prepare is None:
        return samples
    return [bench.prepare(sample, task) for sample in samples]


__all__ = ["BENCHMARKS", "CAPABILITY", "FAMILIES", "LOOM_SCOPE", "LOOM_SCOPE_FAMILIES", "Benchmark", "TaskDef",
           "prepared"]
