"""The golden diff: per task and length bucket, paired tests, a non-inferiority margin, a verdict.

Each side is a run directory (effective manifest, records, scores) or a bare ``scores.json``.
With per-sample records on both sides, samples are matched by id and tested paired: exact McNemar
for 0/1 scores, a paired bootstrap otherwise. With aggregates only on one side, the test falls back
to an unpaired normal interval from the two standard errors, and says so. A task whose primary metric is
task-level (``harness.metrics.CorpusMetric``, e.g. BAMBOO's hallucination F1) is always compared so, from
its aggregates and their jackknife errors: its records' values are decisions, not scores to pair (and it
is left out of the suite's paired test).

The suite's average (the mean of its benchmarks, each the sample-weighted mean of its tasks: a weighted
mean of per-sample scores) is tested beside the tasks, paired and stratified by task: the one-sided p
of a paired sign-flip randomization test of the weighted mean difference (every matched pair's
difference flipped at random, the suite's weights kept; for 0/1 scores the weighted form of
McNemar's test) and its interval from a paired bootstrap resampled within each task. Its margin is
``suite.margin`` in the golden's tolerance (the tasks' default margin when absent), and its p joins
the tasks' in one Holm family, so the family-wise error of "suite + tasks" is alpha together.

Verdict per task (and for the suite), with margin m (points) and level alpha from the golden's tolerance block:
- FAIL: the new score is significantly below the golden one (one-sided test, Holm-adjusted across
  tasks with Tarone's pruning of tests that cannot reach significance, p < alpha) *and* the drop is
  larger than m;
- PASS: not FAIL, and the lower end of the delta's (1 - alpha) interval is above -m (non-inferior);
- WARN: neither shown (inconclusive: too few samples to tell).
Exit 1 if the suite or any task FAILs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable

import numpy as np

from harness import api as harness_api  # its names resolve on first use
from loomcore.errors import InputError
from loomcore.records import read_records
from loomcore.rundir import (
    ENVIRONMENT,
    MANIFEST,
    SAMPLES,
    SCORES,
    TOLERANCE,
    RunDir,
    read_json,
)
from loomcore.specs import Scores, Summary
from loomcore.taskspec import TaskSpec, tasks_from_json

DEFAULT_TOLERANCE = {"alpha": 0.05, "margin": 5.0, "bootstrap_samples": 2000, "seed": 0}


@dataclass
class Side:
    label: str
    scores: Scores
    manifest: dict[str, Any] | None
    environment: dict[str, Any] | None
    per_sample: dict[str, dict[str, float]] | None  # task -> sample id -> primary-metric score
    lengths: dict[str, dict[str, int | None]] | None  # task -> sample id -> length bucket
    tolerance: dict[str, Any] | None


def load_side(path: Path) -> Side:
    path = Path(path)
    if path.is_file():
        try:
            return Side(str(path), Scores.from_json(read_json(path), str(path)), None, None, None, None, None)
        except OSError as exc:
            raise InputError(f"{path}: not a scores.json ({exc}) — pass a run directory or a scores file") from None
    run = RunDir(path)
    if not run.has(SCORES):
        raise InputError(f"{path}: no scores.json — pass a run directory written by `loomctl run`, or a golden folder")
    scores = run.scores()
    per_sample, lengths = None, None
    if (path / SAMPLES).is_dir():
        per_sample, lengths = {}, {}
        for task, rows in read_records(path).items():
            metric = scores.tasks[task].metric if task in scores.tasks else None
            lengths[task] = {r.id: r.length for r in rows}
            if metric in harness_api.CORPUS_METRICS:
                continue  # a task-level metric: compared by its aggregates (see the module docstring)
            per_sample[task] = {r.id: _sample_score(r, metric, f"{path}/samples/{task}.jsonl: {r.id}")
                                for r in rows if r.scores and metric}
    return Side(str(path), scores, run.read_optional(MANIFEST), run.read_optional(ENVIRONMENT), per_sample, lengths,
                run.read_optional(TOLERANCE))


def _sample_score(record, metric: str, where: str) -> float:
    """The record's primary-metric score (its value was checked, finite in [0, 1], when it was read)."""
    if metric not in record.scores:
        raise InputError(f"{where}: no {metric!r} score in the record — the run directory is damaged or was edited")
    return record.scores[metric]


def mcnemar_worse_p(losses: int, wins: int) -> float:
    """Exact one-sided McNemar: P(X >= losses) for X ~ Binomial(losses + wins, 1/2), i.e. the
    chance of at least this many golden-right/new-wrong pairs if neither side is better."""
    n = losses + wins
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(losses, n + 1)) / 2 ** n


def paired_bootstrap(g: np.ndarray, n: np.ndarray, samples: int, seed: int, alpha: float) -> tuple[float, float, float]:
    """Percentile interval of the mean paired difference (x100) and the one-sided p of 'new worse'."""
    rng = np.random.default_rng(seed)
    diff = n - g
    idx = rng.integers(0, len(diff), size=(samples, len(diff)))
    means = diff[idx].mean(axis=1) * 100
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    p_worse = float((np.sum(means >= 0) + 1) / (samples + 1))
    return float(low), float(high), p_worse


@dataclass
class Row:
    task: str
    bucket: str  # "all" or a context length
    golden: float | None
    new: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    test: str
    p_worse: float | None = None
    p_min: float | None = None  # the smallest p-value this test could give (discrete tests)
    p_holm: float | None = None
    margin: float | None = None
    verdict: str | None = None
    notes: list[str] = field(default_factory=list)


def _compare_task(task: str, ids: list[str] | None, golden: Side, new: Side, tol: dict[str, Any],
                  bucket: str) -> Row:
    if ids is not None:
        return _paired_row(task, ids, golden, new, tol, bucket)
    return _aggregate_row(task, golden, new, tol["alpha"], bucket)


def _paired_row(task: str, ids: list[str], golden: Side, new: Side, tol: dict[str, Any], bucket: str) -> Row:
    """Per-sample scores of the same samples on both sides: exact McNemar for 0/1 scores, else a
    paired bootstrap; the interval from the paired bootstrap."""
    alpha = tol["alpha"]
    g = np.array([golden.per_sample[task][i] for i in ids], dtype=float)
    n = np.array([new.per_sample[task][i] for i in ids], dtype=float)
    if len(ids) == 0:
        return Row(task, bucket, None, None, None, None, None, 0, "none", notes=["no matched samples"])
    low, high, p_boot = paired_bootstrap(g, n, tol["bootstrap_samples"], tol["seed"], alpha)
    binary = set(np.unique(np.concatenate([g, n]))) <= {0.0, 1.0}
    if binary:
        losses = int(np.sum((g == 1) & (n == 0)))
        wins = int(np.sum((g == 0) & (n == 1)))
        p, test = mcnemar_worse_p(losses, wins), f"exact McNemar (lost {losses}, gained {wins})"
        p_min = 0.5 ** (losses + wins)
    else:
        p, test, p_min = p_boot, "paired bootstrap", 1 / (tol["bootstrap_samples"] + 1)
    return Row(task, bucket, round(100 * g.mean(), 4), round(100 * n.mean(), 4),
               round(100 * (n.mean() - g.mean()), 4), round(low, 4), round(high, 4), len(ids), test, p, p_min)


def _aggregate_row(task: str, golden: Side, new: Side, alpha: float, bucket: str) -> Row:
    """Only aggregate scores on one side: an unpaired normal test on the two means and their errors."""
    gs, ns = _summary(golden.scores, task, bucket), _summary(new.scores, task, bucket)
    if gs is None or ns is None or gs.score is None or ns.score is None:
        return Row(task, bucket, gs and gs.score, ns and ns.score, None, None, None, 0, "none",
                   notes=["missing on one side"])
    delta = ns.score - gs.score
    se = math.sqrt((gs.stderr or 0) ** 2 + (ns.stderr or 0) ** 2)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = NormalDist().cdf(delta / se) if se > 0 else (0.0 if delta < 0 else 1.0)
    return Row(task, bucket, gs.score, ns.score, round(delta, 4), round(delta - z * se, 4),
               round(delta + z * se, 4), min(gs.n, ns.n),
               "unpaired normal (aggregates only)", p, 0.0, notes=["unpaired: only aggregate scores on one side"])


def _summary(scores: Scores, task: str, bucket: str) -> Summary | None:
    """A task's summary over all its samples (``bucket`` "all") or one length bucket's; None if absent."""
    entry = scores.tasks.get(task)
    if entry is None:
        return None
    return entry.summary if bucket == "all" else entry.by_length.get(bucket)


def holm(p_values: list[float], min_attainable: list[float] | None = None, alpha: float = 0.05) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1), in the input order.

    With ``min_attainable`` (the smallest p each discrete test could ever give: 0.5**discordant pairs
    for exact McNemar), the family at each step counts only the hypotheses that could still be
    rejected: Tarone's pruning in the step-down form of Hommel & Krummenauer (1998). A task with no
    discordant pairs cannot be significant, so it no longer dilutes the correction for the others.
    Without it, this is plain Holm."""
    m = len(p_values)
    minimal = min_attainable if min_attainable is not None else [0.0] * m
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        remaining = order[rank:]
        size = len(remaining)
        if min_attainable is not None:
            size = next(k for k in range(1, len(remaining) + 1)
                        if sum(minimal[j] <= alpha / k for j in remaining) <= k)
        running = max(running, min(1.0, size * p_values[i]))
        adjusted[i] = running
    return adjusted


PIN_FIELDS: dict[str, Callable[[TaskSpec], Any]] = {
    "data": lambda t: {k: getattr(t.dataset, k) for k in ("sha256", "revision", "generator_version", "seed")},
    "template": lambda t: {k: getattr(t.prompt, k) for k in ("sha256", "chat_template", "chat_template_sha256")},
    "truncation": lambda t: t.truncation.to_json(),
    "generation": lambda t: t.generation.to_json(),
    "metrics": lambda t: list(t.metrics),
    "acceleration": lambda t: t.active_acceleration.to_json() if t.active_acceleration else {"kind": "none"},
}


def _task_pin_differences(g_task: TaskSpec, task: TaskSpec) -> list[str]:
    out = []
    for name, pick in PIN_FIELDS.items():
        a, b = pick(g_task), pick(task)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{task.id} {name}.{k}: {json.dumps(a.get(k))} -> {json.dumps(b.get(k))}"
                    for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            out.append(f"{task.id} {name}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


def pin_differences(golden: Side, new: Side) -> list[str]:
    """Every pin that differs between the two sides, as 'what: golden -> new'."""
    if golden.manifest is None or new.manifest is None:
        return ["(one side has no effective manifest: pins cannot be compared)"]
    gm, nm = golden.manifest, new.manifest
    out = _run_pin_differences(gm, nm)
    g_tasks = {t.id: t for t in tasks_from_json(gm.get("tasks"), "golden manifest.json/tasks")}
    for task in tasks_from_json(nm.get("tasks"), "new manifest.json/tasks"):
        out += ([f"{task.id}: only in new"] if task.id not in g_tasks
                else _task_pin_differences(g_tasks[task.id], task))
    return out + _environment_differences(golden.environment or {}, new.environment or {})


def _environment_differences(ge: dict[str, Any], ne: dict[str, Any]) -> list[str]:
    """The libraries, devices and the engine's recorded versions (a server's family and version) that differ."""
    out = [f"environment {key}: {ge[key]} -> {ne[key]}" for key in ("torch", "transformers", "tokenizers", "cuda",
                                                                     "gpus", "cpu")
           if key in ge and key in ne and ge[key] != ne[key]]
    if isinstance(ge.get("engine"), dict) and isinstance(ne.get("engine"), dict) and ge["engine"] != ne["engine"]:
        out += [f"environment {d}" for d in _leaf_differences("engine", ge["engine"], ne["engine"])]
    return out


def _run_pin_differences(gm: dict[str, Any], nm: dict[str, Any]) -> list[str]:
    """The model's weights and dtype, and the run-wide sections."""
    out = []
    for key, label in (("weights_sha256", "weights"), ("dtype", "dtype")):
        if gm["model"].get(key) != nm["model"].get(key):
            out.append(f"model {label}: {gm['model'].get(key)} -> {nm['model'].get(key)}")
    for section in ("engine", "accelerator", "image", "runtime", "limit", "substitutions"):
        if gm.get(section) != nm.get(section):
            out += _leaf_differences(section, gm.get(section), nm.get(section))
    return out


def _leaves(value: Any, at: str) -> dict[str, Any]:
    """A section's values by dotted path (``engine.args.base_url``); a list or a scalar is one leaf."""
    if isinstance(value, dict) and value:
        return {path: leaf for key, item in value.items() for path, leaf in _leaves(item, f"{at}.{key}").items()}
    return {at: value}


def _leaf_differences(at: str, a: Any, b: Any) -> list[str]:
    """Each leaf of a section that differs, as 'path: golden -> new' (a missing leaf is null)."""
    la, lb = _leaves(a, at), _leaves(b, at)
    return [f"{path}: {json.dumps(la.get(path), sort_keys=True)} -> {json.dumps(lb.get(path), sort_keys=True)}"
            for path in sorted(set(la) | set(lb)) if la.get(path) != lb.get(path)]


def _task_rows(task: str, golden: Side, new: Side, tol: dict[str, Any]) -> tuple[Row, list[Row]]:
    """A task's row (paired per sample where both sides have records, else from the aggregates) and
    its rows per length bucket."""
    paired = (golden.per_sample is not None and new.per_sample is not None
              and task in golden.per_sample and task in new.per_sample)
    if not paired:
        rows = [_compare_task(task, None, golden, new, tol, bucket)
                for bucket in ["all", *golden.scores.tasks[task].by_length]]
        if golden.scores.tasks[task].metric in harness_api.CORPUS_METRICS:
            for row in rows:
                row.notes = [n if not n.startswith("unpaired") else
                             "unpaired: a task-level metric, compared by its aggregates" for n in row.notes]
        return rows[0], rows[1:]
    ids = sorted(set(golden.per_sample[task]) & set(new.per_sample[task]))
    row = _compare_task(task, ids, golden, new, tol, "all")
    unmatched = len(set(golden.per_sample[task]) ^ set(new.per_sample[task]))
    if unmatched:
        row.notes.append(f"{unmatched} sample(s) not on both sides, left out of the paired test")
    buckets = []
    for bucket in sorted({golden.lengths[task].get(i) for i in ids} - {None}):
        b_ids = [i for i in ids if golden.lengths[task].get(i) == bucket]
        buckets.append(_compare_task(task, b_ids, golden, new, tol, str(bucket)))
    return row, buckets


def _verdict(row: Row, p_holm: float, alpha: float) -> str:
    """FAIL: significantly worse by more than the margin; PASS: the interval excludes a loss of the
    margin; WARN otherwise."""
    if p_holm < alpha and row.delta < -row.margin:
        return "FAIL"
    if row.ci_low is not None and row.ci_low > -row.margin:
        return "PASS"
    return "WARN"


def _all_rows(golden: Side, new: Side, tol: dict[str, Any]) -> tuple[list[Row], list[Row]]:
    """Every golden task's row (a task missing from the new run fails) and every length bucket's row."""
    task_margins = tol.get("tasks", {})
    rows: list[Row] = []
    buckets: list[Row] = []
    for task in golden.scores.tasks:
        if task not in new.scores.tasks:
            rows.append(Row(task, "all", golden.scores.tasks[task].score, None, None, None, None, 0,
                            "none", verdict="FAIL", notes=["task missing from the new run"]))
            continue
        row, task_buckets = _task_rows(task, golden, new, tol)
        buckets += task_buckets
        row.margin = float(task_margins.get(task, {}).get("margin", tol["margin"]))
        rows.append(row)
    return rows, buckets


def suite_weights(golden: Side, tasks: dict[str, list[str]]) -> dict[str, float]:
    """Each matched task's weight per sample in the suite average: 1 / (benchmarks x the benchmark's
    matched samples), so that sum(weight x samples) over a benchmark's tasks is its share, 1 / benchmarks."""
    by_bench: dict[str, int] = {}
    for task, ids in tasks.items():
        bench = golden.scores.tasks[task].benchmark
        by_bench[bench] = by_bench.get(bench, 0) + len(ids)
    return {task: 1.0 / (len(by_bench) * by_bench[golden.scores.tasks[task].benchmark]) for task in tasks}


def suite_margin(tol: dict[str, Any]) -> float:
    """The suite average's non-inferiority margin: ``suite.margin`` of the tolerance, else the tasks' ``margin``."""
    suite = tol.get("suite", {})
    margin = suite.get("margin", tol["margin"]) if isinstance(suite, dict) else None
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not math.isfinite(margin) or margin < 0:
        raise InputError(f"tolerance.json/suite/margin: {str(margin)[:40]!r} is not a margin in points — give "
                         "{\"suite\": {\"margin\": <points, >= 0>}} or leave it out to use the tasks' margin")
    return float(margin)


def sign_flip_worse_p(differences: np.ndarray, observed: float, samples: int,
                      rng: np.random.Generator) -> tuple[float, float]:
    """One-sided p of "new worse" from ``samples`` random sign flips of the (weighted, nonzero) paired
    differences, and the smallest p it can give (1 where nothing differs: it cannot reject)."""
    if not differences.size:
        return 1.0, 1.0
    flipped = rng.choice(np.array([-1.0, 1.0]), size=(samples, differences.size)) @ differences
    return float((np.sum(flipped <= observed + 1e-12) + 1) / (samples + 1)), 1 / (samples + 1)


def _stratified_interval(strata: list[tuple[np.ndarray, np.ndarray, float]], samples: int, alpha: float,
                         rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of the weighted mean difference (points), pairs resampled within each task."""
    boot = np.zeros(samples)
    for g, n, w in strata:
        idx = rng.integers(0, len(g), size=(samples, len(g)))
        boot += 100 * w * (n - g)[idx].sum(axis=1)
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _suite_row(golden: Side, new: Side, tol: dict[str, Any]) -> Row | None:
    """The suite average's paired, task-stratified test over the samples scored on both sides (see the
    module docstring); None where a side has no per-sample records."""
    if golden.per_sample is None or new.per_sample is None:
        return None
    tasks = {t: ids for t in golden.scores.tasks if t in golden.per_sample and t in new.per_sample
             and (ids := sorted(set(golden.per_sample[t]) & set(new.per_sample[t])))}
    if not tasks:
        return None
    weights = suite_weights(golden, tasks)
    strata = [(np.array([golden.per_sample[t][i] for i in ids]), np.array([new.per_sample[t][i] for i in ids]),
               weights[t]) for t, ids in tasks.items()]
    g_avg = 100 * sum(w * g.sum() for g, _, w in strata)
    n_avg = 100 * sum(w * n.sum() for _, n, w in strata)
    d = np.concatenate([100 * w * (n - g) for g, n, w in strata])
    observed = float(d.sum())
    rng = np.random.default_rng(tol["seed"])
    samples, alpha = tol["bootstrap_samples"], tol["alpha"]
    nonzero = d[d != 0]
    p, p_min = sign_flip_worse_p(nonzero, observed, samples, rng)
    low, high = _stratified_interval(strata, samples, alpha, rng)
    margin = suite_margin(tol)
    n_pairs = sum(len(ids) for ids in tasks.values())
    return Row("suite average", "all", round(g_avg, 4), round(n_avg, 4), round(observed, 4), round(low, 4),
               round(high, 4), n_pairs,
               f"paired sign-flip, stratified by task ({int(nonzero.size)} of {n_pairs} pairs differ)", p, p_min,
               margin=margin)


def _judge(rows: list[Row], alpha: float) -> str:
    """Each tested row's Holm-adjusted p-value and verdict (an untested row warns); the overall verdict."""
    tested = [r for r in rows if r.p_worse is not None]
    adjusted = holm([r.p_worse for r in tested], [r.p_min for r in tested], alpha)
    for row, p in zip(tested, adjusted):
        row.p_holm = round(p, 6)
        row.p_worse = round(row.p_worse, 6)
        row.verdict = _verdict(row, p, alpha)
    for row in rows:
        row.verdict = row.verdict or "WARN"
    verdicts = {r.verdict for r in rows}
    return "FAIL" if "FAIL" in verdicts else ("WARN" if "WARN" in verdicts else "PASS")


def compare(new_path: Path, golden_path: Path, tolerance: dict[str, Any] | None = None) -> dict[str, Any]:
    """NEW against GOLDEN: per-task paired tests, Holm-corrected, against each task's margin."""
    new, golden = load_side(new_path), load_side(golden_path)
    return compare_sides(golden, new, {**DEFAULT_TOLERANCE, **(golden.tolerance or {}), **(tolerance or {})})


def compare_sides(golden: Side, new: Side, tol: dict[str, Any]) -> dict[str, Any]:
    """``compare`` of two loaded sides under a full tolerance block (the gate simulation calls it too)."""
    rows, buckets = _all_rows(golden, new, tol)
    suite = _suite_row(golden, new, tol)
    verdict = _judge(rows + ([suite] if suite else []), tol["alpha"])
    return {"new": new.label, "golden": golden.label, "tolerance": tol, "verdict": verdict,
            "suite": asdict(suite) if suite else None,
            "tasks": [asdict(r) for r in rows], "buckets": [asdict(r) for r in buckets],
            "pin_differences": pin_differences(golden, new)}
