"""Scoring: per-sample metrics and their aggregation into ``scores.json``; pure functions of records.

Aggregation is the mean x100 per task (as RULER, LongBench and LOOM-Scope report), per context-length
bucket, per benchmark (mean of its tasks) and for the suite (mean of benchmarks, LOOMBench's average); the
per-capability means (``capability_scores``) are derived from the benchmarks' where shown. Each mean carries its analytic standard error, sd/sqrt(n) with the n-1 sample
deviation. Skipped and failed samples are counted and excluded from means, never silently.

A task-level metric (``harness.metrics.CorpusMetric``, e.g. BAMBOO's hallucination F1) is the exception: its task
score, each length bucket's and each group's is its aggregate over those scored records (x100), with the jackknife
standard error (``summarise_corpus``); the benchmark, capability and suite levels take task scores as before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from harness.benchmarks import BENCHMARKS
from harness.metrics import REGISTRY, Aggregate, score
from loomcore.records import Record
from loomcore.specs import SCORES_SCHEMA, ModelRef, Scores, Suite
from loomcore.taskspec import JSONObject, TaskSpec


def score_sample(metrics: list[str], prediction: str, references: list[str],
                 meta: JSONObject | None = None) -> dict[str, float]:
    return {name: score(name, prediction, references, meta or {}) for name in metrics}


def mean_stderr(values: list[float]) -> tuple[float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n == 1:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def summarise(values: list[float]) -> dict[str, Any]:
    """Mean x100 of per-sample scores in [0, 1], its standard error x100, and n."""
    mean, se = mean_stderr(values)
    return {"score": None if mean is None else round(100 * mean, 6),
            "stderr": None if se is None else round(100 * se, 6), "n": len(values)}


def task_scores(records: list[Record], metrics: list[str], group_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    scored = [r for r in records if r.scores]
    out: dict[str, Any] = {"metric": metrics[0], "n_records": len(records),
                           "n_skipped": sum(r.skipped for r in records),
                           "n_errors": sum(r.error is not None for r in records),
                           "n_truncated": sum(r.truncated for r in records), "metrics": {}}
    for name in metrics:
        by_length: dict[int, list[Record]] = defaultdict(list)
        for r in scored:
            if r.length is not None:
                by_length[r.length].append(r)
        out["metrics"][name] = {**summarise_records(scored, name),
                                "by_length": {str(k): summarise_records(v, name) for k, v in sorted(by_length.items())}}
        groups = _by_group(scored, name, group_fields)
        if groups:
            out["metrics"][name]["by_group"] = groups
    out.update({k: out["metrics"][metrics[0]][k] for k in ("score", "stderr", "n", "by_length")})
    return out


def summarise_records(records: list[Record], metric: str) -> dict[str, Any]:
    """``summarise`` of these scored records' values for ``metric``; for a task-level metric
    (``harness.metrics.CorpusMetric``) the score is its aggregate over these records instead of their mean."""
    values = [r.scores[metric] for r in records]
    aggregate = REGISTRY[metric].aggregate if metric in REGISTRY else None
    if aggregate is None:
        return summarise(values)
    return summarise_corpus(aggregate, values, [r.references for r in records], [r.meta for r in records])


def summarise_corpus(aggregate: Aggregate, values: list[float], references: list[list[str]],
                     metas: list[dict[str, Any]]) -> dict[str, Any]:
    """A task-level metric's score x100 over these records, its jackknife standard error x100 and n.

    The standard error is the delete-one jackknife's, sqrt((n-1)/n * sum_i (s_-i - mean_i s_-i)^2) with
    s_-i the aggregate without record i (deterministic, no resampling; None under 2 records), so that
    ``loomctl gate``'s unpaired test on aggregates has an error to work with. It is an estimate for a
    non-linear statistic such as F1, not an exact one."""
    n = len(values)
    if n == 0:
        return {"score": None, "stderr": None, "n": 0}
    value = aggregate(values, references, metas)
    se = None
    if n >= 2:
        loo = [aggregate(values[:i] + values[i + 1:], references[:i] + references[i + 1:], metas[:i] + metas[i + 1:])
               for i in range(n)]
        centre = sum(loo) / n
        se = math.sqrt((n - 1) / n * sum((v - centre) ** 2 for v in loo))
    return {"score": round(100 * value, 6), "stderr": None if se is None else round(100 * se, 6), "n": n}


def _by_group(records: list[Record], metric: str, group_fields: tuple[str, ...]) -> dict[str, Any]:
    """Sub-splits a benchmark scores separately (LongBench-v2 easy/hard, short/medium/long): for each
    declared field, a summary per value found in the records' ``meta``."""
    out: dict[str, Any] = {}
    for name in group_fields:
        values: dict[str, list[Record]] = defaultdict(list)
        for r in records:
            if r.meta.get(name) is not None:
                values[str(r.meta[name])].append(r)
        if values:
            out[name] = {k: summarise_records(v, metric) for k, v in sorted(values.items())}
    return out


def _group_fields(benchmark: str) -> tuple[str, ...]:
    bench = BENCHMARKS.get(benchmark)
    return bench.group_fields if bench else ()


def benchmark_score(name: str, by_task: dict[str, tuple[float, int]]) -> dict[str, Any]:
    """A benchmark's score from its tasks' (score, scored samples): its own aggregation where its table
    defines one, else LOOM-Scope's, which the LOOMBench numbers come from: the mean of its tasks'
    scores weighted by their samples (``scripts/utils/ResultManager.py``, ``ConstructResultTable2``
    with each task's sample count), so equal to the mean over all its samples. Plus the unweighted
    mean per task group of its table (LongBench's categories...).

    Not matched exactly: LOOM-Scope rounds each task's score to 2 decimals before weighting and the
    result to 2; here neither is rounded before the end (6 decimals), a difference of at most 0.005
    points. LOOM-Scope counts every sample of a task; here a skipped or failed sample, which has no
    score, is not counted (LOOM-Scope has neither)."""
    bench = BENCHMARKS.get(name)
    if bench and bench.aggregate:
        value = bench.aggregate({task: score for task, (score, _) in by_task.items()})
    else:
        value = sum(score * n for score, n in by_task.values()) / sum(n for _, n in by_task.values())
    out: dict[str, Any] = {"score": round(value, 6), "n_tasks": len(by_task)}
    groups: dict[str, list[float]] = defaultdict(list)
    for task in (bench.tasks if bench else ()):
        if task.group and task.id in by_task:
            groups[task.group].append(by_task[task.id][0])
    if groups:
        out["groups"] = {g: round(sum(v) / len(v), 6) for g, v in sorted(groups.items())}
    return out


def suite_scores(records_by_task: dict[str, list[Record]], tasks: list[TaskSpec], manifest_digest: str,
                 suite: Suite, model: ModelRef) -> Scores:
    """scores.json of these records: the run (manifest digest, suite, model), tasks, benchmarks, suite average."""
    per_task = {t.id: {"benchmark": t.benchmark,
                       **task_scores(records_by_task.get(t.id, []), list(t.metrics), _group_fields(t.benchmark))}
                for t in tasks}
    benchmarks: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    for task_id, task in per_task.items():
        judged_only = task["benchmark"] in BENCHMARKS and BENCHMARKS[task["benchmark"]].judged_only
        if task["score"] is not None and not judged_only:
            benchmarks[task["benchmark"]][task_id] = (task["score"], task["n"])
    bench_scores = {name: benchmark_score(name, v) for name, v in benchmarks.items()}
    average = (round(sum(b["score"] for b in bench_scores.values()) / len(bench_scores), 6)
               if bench_scores else None)
    return Scores.from_json({"schema": SCORES_SCHEMA, "manifest_digest": manifest_digest, "suite": suite.to_json(),
                             "model": model.to_json(), "tasks": per_task, "benchmarks": bench_scores,
                             "average": average})


def capability_scores(bench_scores: dict[str, float]) -> dict[str, float]:
    """LOOM-Scope's per-capability scores from benchmark name -> score: the unweighted mean of each
    capability's scored benchmarks (``Benchmark.capability``), as its leaderboard groups its columns.
    Derived where shown (the score table), not stored in scores.json: the benchmarks' scores and the
    tables fix it."""
    by_capability: dict[str, list[float]] = defaultdict(list)
    for name, value in bench_scores.items():
        by_capability[BENCHMARKS[name].capability].append(value)
    return {cap: round(sum(v) / len(v), 6) for cap, v in sorted(by_capability.items())}
