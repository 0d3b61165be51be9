"""Metrics: pure per-sample scorers, by name, each returning a score in [0, 1].

Two shapes: a plain metric ``(prediction, references) -> float`` and a context metric
``(prediction, references, meta) -> float`` that also reads the record's ``meta`` (sample fields a
benchmark keeps, such as LongBench's ``all_classes``). Each scorer re-implements a benchmark's
official scorer from its definition and cites it; scores are reported x100 by the aggregation in
``harness.scoring``, as the official scripts do.

Family modules (``harness/metrics/<family>.py``, found by listing the package) each define ``METRICS``
and may define ``CONTEXT_METRICS``; this registry merges them into one ``MetricSpec`` per name and refuses a name
defined twice. They import
nothing heavy at module level (the host side reads this registry to validate manifests).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Metric = Callable[[str, list[str]], float]
ContextMetric = Callable[[str, list[str], dict[str, Any]], float]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: ``fn`` scores one sample in [0, 1]; ``needs_meta``: it also reads the record's
    ``meta`` (``fn(prediction, references, meta)``); ``higher_is_better`` (every metric here is: the
    gate's direction)."""

    fn: Callable[..., float]
    needs_meta: bool = False
    higher_is_better: bool = True


# Every module of this package is a family: a new benchmark's metrics module needs no row here.
MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))

REGISTRY: dict[str, MetricSpec] = {}

for _name in MODULES:
    try:
        _module = importlib.import_module(f"harness.metrics.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"harness.metrics.{_name}":
            raise
        continue
    for _attr, _needs_meta in (("METRICS", False), ("CONTEXT_METRICS", True)):
        for _key, _fn in getattr(_module, _attr, {}).items():
            if _key in REGISTRY:
                raise RuntimeError(f"metric {_key!r} is defined twice (harness/metrics/{_name}.py)")
            REGISTRY[_key] = MetricSpec(_fn, needs_meta=_needs_meta)

ALL_METRICS = sorted(k for k, spec in REGISTRY.items() if not spec.needs_meta) + \
    sorted(k for k, spec in REGISTRY.items() if spec.needs_meta)


def score(name: str, prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    spec = REGISTRY[name]
    return spec.fn(prediction, references, meta) if spec.needs_meta else spec.fn(prediction, references)
