"""Metrics: pure per-sample scorers, by name, each returning a score in [0, 1].

Two shapes: a plain metric ``(prediction, references) -> float`` and a context metric
``(prediction, references, meta) -> float`` that also reads the record's ``meta`` (sample fields a
benchmark keeps, such as LongBench's ``all_classes``). Each scorer re-implements a benchmark's
official scorer from its definition and cites it; scores are reported x100 by the aggregation in
``harness.scoring``, as the official scripts do.

Family modules (``harness/metrics/<family>.py``, found by listing the package) each define ``METRICS``
and may define ``CONTEXT_METRICS`` and ``CORPUS_METRICS``; this registry merges them into one ``MetricSpec`` per
name and refuses a name defined twice. They import
nothing heavy at module level (the host side reads this registry to validate manifests).

Task-level (corpus) metrics: some benchmarks score a task as a whole, not as a mean over samples (BAMBOO's
hallucination sets: the F1 of the ``True`` class over the task). A family declares one as ``CORPUS_METRICS =
{name: CorpusMetric(per_sample, aggregate)}``: ``per_sample`` gives each record its own stored value in [0, 1]
(the parsed decision, not a score: it is what ``Record.scores[name]`` keeps and ``loomctl verify`` recomputes),
and ``aggregate(values, references, metas)`` turns the values of a set of records (with their references and
``meta``, in record order) into the score in [0, 1]. ``harness.scoring`` uses the aggregate for the task's score,
for each length bucket and for each group (the aggregate over that subset's records).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Metric = Callable[[str, list[str]], float]
ContextMetric = Callable[[str, list[str], dict[str, Any]], float]
Aggregate = Callable[[list[float], list[list[str]], list[dict[str, Any]]], float]


@dataclass(frozen=True)
class CorpusMetric:
    """A task-level metric: ``per_sample(prediction, references[, meta])`` is each record's stored value in
    [0, 1] (``meta`` passed when ``needs_meta``); ``aggregate(values, references, metas)`` is the score in [0, 1]
    of a set of records (never called on an empty set)."""

    per_sample: Callable[..., float]
    aggregate: Aggregate
    needs_meta: bool = False


@dataclass(frozen=True)
class MetricSpec:
    """One metric: ``fn`` scores one sample in [0, 1]; ``needs_meta``: it also reads the record's
    ``meta`` (``fn(prediction, references, meta)``); ``higher_is_better`` (every metric here is: the
    gate's direction); ``aggregate``: None for a per-sample metric (the task's score is the mean of ``fn``), or
    a task-level metric's aggregate over its records' values (``CorpusMetric``)."""

    fn: Callable[..., float]
    needs_meta: bool = False
    higher_is_better: bool = True
    aggregate: Aggregate | None = None


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
    for _key, _corpus in getattr(_module, "CORPUS_METRICS", {}).items():
        if _key in REGISTRY:
            raise RuntimeError(f"metric {_key!r} is defined twice (harness/metrics/{_name}.py)")
        REGISTRY[_key] = MetricSpec(_corpus.per_sample, needs_meta=_corpus.needs_meta, aggregate=_corpus.aggregate)

ALL_METRICS = sorted(k for k, spec in REGISTRY.items() if not spec.needs_meta) + \
    sorted(k for k, spec in REGISTRY.items() if spec.needs_meta)


CORPUS_METRIC_NAMES = frozenset(k for k, spec in REGISTRY.items() if spec.aggregate is not None)


def is_corpus(name: str) -> bool:
    """Whether ``name`` is a task-level metric (its records' values are aggregated, not averaged)."""
    return REGISTRY[name].aggregate is not None


def score(name: str, prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    spec = REGISTRY[name]
    return spec.fn(prediction, references, meta) if spec.needs_meta else spec.fn(prediction, references)
