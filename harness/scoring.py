"""Scoring: per-sample metrics and their aggregation into ``scores.json``; pure functions of records.

Aggregation is the mean x100 per task (as RULER, LongBench and LOOM-Scope report), per context-length
bucket, per benchmark (mean of its tasks) and for the suite (mean of benchmarks, LOOMBench's
average). Each mean carries its analytic standard error, sd/sqrt(n) with the n-1 sample
deviation. Skipped and failed samples are counted and excluded from means, never silently.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from harness.metrics import METRICS
from harness.records import SCORES_SCHEMA, Record


def score_sample(metrics: list[str], prediction: str, references: list[str]) -> dict[str, float]:
    return {name: METRICS[name](prediction, references) for name in metrics}


def mean_stderr(values: list[float]) -> tuple[float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n == 1:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def _summary(values: list[float]) -> dict[str, Any]:
    mean, se = mean_stderr(values)
    return {"score": None if mean is None else round(100 * mean, 6),
            "stderr": None if se is None else round(100 * se, 6), "n": len(values)}


def task_scores(records: list[Record], metrics: list[str]) -> dict[str, Any]:
    scored = [r for r in records if r.scores]
    out: dict[str, Any] = {"metric": metrics[0], "n_records": len(records),
                           "n_skipped": sum(r.skipped for r in records),
                           "n_errors": sum(r.error is not None for r in records),
                           "n_truncated": sum(r.truncated for r in records), "metrics": {}}
    for name in metrics:
        values = [r.scores[name] for r in scored]
        by_length: dict[int, list[float]] = defaultdict(list)
        for r in scored:
            if r.length is not None:
                by_length[r.length].append(r.scores[name])
        out["metrics"][name] = {**_summary(values),
                                "by_length": {str(k): _summary(v) for k, v in sorted(by_length.items())}}
    out.update({k: out["metrics"][metrics[0]][k] for k in ("score", "stderr", "n", "by_length")})
    return out


def suite_scores(records_by_task: dict[str, list[Record]], tasks: list[dict[str, Any]],
                 header: dict[str, Any]) -> dict[str, Any]:
    """scores.json: header (manifest digest, model, ...), tasks, benchmarks, suite average."""
    per_task = {t["id"]: {"benchmark": t["benchmark"], **task_scores(records_by_task.get(t["id"], []), t["metrics"])}
                for t in tasks}
    benchmarks: dict[str, list[float]] = defaultdict(list)
    for task in per_task.values():
        if task["score"] is not None:
            benchmarks[task["benchmark"]].append(task["score"])
    bench_scores = {name: {"score": round(sum(v) / len(v), 6), "n_tasks": len(v)} for name, v in benchmarks.items()}
    average = (round(sum(b["score"] for b in bench_scores.values()) / len(bench_scores), 6)
               if bench_scores else None)
    return {"schema": SCORES_SCHEMA, **header, "tasks": per_task, "benchmarks": bench_scores, "average": average}
