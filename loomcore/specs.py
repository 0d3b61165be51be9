"""Typed, frozen forms of what a run directory says about its scores: ``scores.json``.

The harness builds a ``Scores`` (``harness.scoring.suite_scores``) and writes ``to_json()``; the host
reads one with ``Scores.from_json`` (``loomcore.rundir.RunDir.scores``), which checks every field's
type and range and refuses anything else with exit 2 naming the field — a received run directory
is hostile input, and what passes here is what the gate, the report, verify and audit compute with.
``from_json(x).to_json() == x`` for every file this project writes (a test checks it on the golden).

Every score is a percentage: a mean of per-sample scores in [0, 1], times 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from loomcore.errors import InputError

SCORES_SCHEMA = "loomctl.scores/1"


def _bad(where: str, value: Any, what: str) -> InputError:
    return InputError(f"{where}: {str(value)[:60]!r} is not {what} — the run directory is damaged or was edited; "
                      "re-score it with `loomctl score`, or ask its author for the original files")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, value, "an object")
    return value


def _string(value: Any, where: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(where, value, "a string")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, value, "a count (an integer from 0)")
    return value


def _percent(value: Any, where: str, optional: bool = True) -> float | None:
    """None (where allowed), or a finite number from 0 to 100."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= 100:
        raise _bad(where, value, "a score (a finite number from 0 to 100)")
    return value


def _stderr(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _bad(where, value, "a standard error (a finite number from 0)")
    return value


@dataclass(frozen=True)
class Summary:
    """A mean over samples.

    - ``score``: the mean of the per-sample scores x100, in [0, 100]; None when no sample was scored.
    - ``stderr``: its standard error x100 (sd/sqrt(n), n-1 deviation); None under two samples.
    - ``n``: how many scored samples the mean is over.
    """

    score: float | None
    stderr: float | None
    n: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> Summary:
        data = _object(data, where)
        return cls(_percent(data.get("score"), f"{where}/score"), _stderr(data.get("stderr"), f"{where}/stderr"),
                   _count(data.get("n"), f"{where}/n"))

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "stderr": self.stderr, "n": self.n}


def _summaries(data: Any, where: str) -> dict[str, Summary]:
    return {str(k): Summary.from_json(v, f"{where}/{k}") for k, v in _object(data, where).items()}


@dataclass(frozen=True)
class MetricScores:
    """One metric of a task.

    - ``summary``: the metric over all the task's scored samples.
    - ``by_length``: the same per context-length bucket (the bucket's token length, as a string key).
    - ``by_group``: per sub-split field its values' summaries (LongBench-v2's difficulty and length);
      None where the benchmark declares no sub-splits.
    """

    summary: Summary
    by_length: dict[str, Summary]
    by_group: dict[str, dict[str, Summary]] | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> MetricScores:
        data = _object(data, where)
        groups = data.get("by_group")
        return cls(Summary.from_json(data, where), _summaries(data.get("by_length", {}), f"{where}/by_length"),
                   None if groups is None else {str(k): _summaries(v, f"{where}/by_group/{k}")
                                                for k, v in _object(groups, f"{where}/by_group").items()})

    def to_json(self) -> dict[str, Any]:
        out = {**self.summary.to_json(), "by_length": {k: v.to_json() for k, v in self.by_length.items()}}
        if self.by_group is not None:
            out["by_group"] = {k: {value: s.to_json() for value, s in v.items()} for k, v in self.by_group.items()}
        return out


@dataclass(frozen=True)
class TaskScores:
    """One task of the suite.

    - ``benchmark``: the benchmark the task belongs to.
    - ``metric``: the primary metric (the manifest's first); the task's ``summary`` (``score``,
      ``stderr``, ``n``) and ``by_length`` are that metric's, derived here, not stored twice. The
      file repeats them at the task's top level (what readers of scores.json look up first); a file
      whose copy differs from its primary metric's is refused, naming the field.
    - ``metrics``: every metric of the task by name.
    - ``n_records``, ``n_skipped``, ``n_errors``, ``n_truncated``: records written; of them skipped (the
      template cannot fit), failed (an engine error) and cut by truncation. Skipped and failed records
      are left out of every mean, never silently: they are counted here.
    """

    benchmark: str
    metric: str
    metrics: dict[str, MetricScores]
    n_records: int
    n_skipped: int
    n_errors: int
    n_truncated: int

    @property
    def summary(self) -> Summary:
        return self.metrics[self.metric].summary

    @property
    def by_length(self) -> dict[str, Summary]:
        return self.metrics[self.metric].by_length

    @property
    def score(self) -> float | None:
        return self.summary.score

    @property
    def stderr(self) -> float | None:
        return self.summary.stderr

    @property
    def n(self) -> int:
        return self.summary.n

    @classmethod
    def from_json(cls, data: Any, where: str) -> TaskScores:
        data = _object(data, where)
        metrics = {str(k): MetricScores.from_json(v, f"{where}/metrics/{k}")
                   for k, v in _object(data.get("metrics"), f"{where}/metrics").items()}
        metric = _string(data.get("metric"), f"{where}/metric")
        if metric not in metrics:
            raise _bad(f"{where}/metric", metric, f"one of the task's metrics ({', '.join(metrics) or 'none'})")
        task = cls(_string(data.get("benchmark"), f"{where}/benchmark"), metric, metrics,
                   *(_count(data.get(k), f"{where}/{k}") for k in ("n_records", "n_skipped", "n_errors", "n_truncated")))
        copy = Summary.from_json(data, where), _summaries(data.get("by_length", {}), f"{where}/by_length")
        for name, theirs, ours in (("score", copy[0], task.summary), ("by_length", copy[1], task.by_length)):
            if theirs != ours:
                raise _bad(f"{where}/{name}", theirs, f"the primary metric {metric!r}'s figures")
        return task

    def to_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "metric": self.metric, "n_records": self.n_records,
                "n_skipped": self.n_skipped, "n_errors": self.n_errors, "n_truncated": self.n_truncated,
                "metrics": {k: v.to_json() for k, v in self.metrics.items()}, **self.summary.to_json(),
                "by_length": {k: v.to_json() for k, v in self.by_length.items()}}


@dataclass(frozen=True)
class BenchmarkScores:
    """One benchmark: ``score``, its own aggregation of its tasks' scores (else LOOM-Scope's: their
    mean weighted by each task's scored samples, ``harness.scoring.benchmark_score``);
    ``n_tasks`` the tasks with a score; ``groups`` the mean per task group of its table (LongBench's
    categories), None where it has none."""

    score: float
    n_tasks: int
    groups: dict[str, float] | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> BenchmarkScores:
        data = _object(data, where)
        groups = data.get("groups")
        return cls(_percent(data.get("score"), f"{where}/score", optional=False), _count(data.get("n_tasks"),
                                                                                       f"{where}/n_tasks"),
                   None if groups is None else {str(k): _percent(v, f"{where}/groups/{k}", optional=False)
                                                for k, v in _object(groups, f"{where}/groups").items()})

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "n_tasks": self.n_tasks, **({"groups": self.groups} if self.groups else {})}


@dataclass(frozen=True)
class Suite:
    """The manifest's suite: ``name``, ``version`` and ``description`` as it wrote them."""

    name: str
    version: str | None = None
    description: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> Suite:
        data = _object(data, where)
        return cls(_string(data.get("name"), f"{where}/name"),
                   _string(data.get("version"), f"{where}/version", optional=True),
                   _string(data.get("description"), f"{where}/description", optional=True))

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("name", self.name), ("version", self.version), ("description", self.description))
                if v is not None}


@dataclass(frozen=True)
class ModelRef:
    """The evaluated model as a scores file names it: ``id`` and the ``weights_sha256`` pin."""

    id: str
    weights_sha256: str | None

    @classmethod
    def from_json(cls, data: Any, where: str) -> ModelRef:
        data = _object(data, where)
        return cls(_string(data.get("id"), f"{where}/id"),
                   _string(data.get("weights_sha256"), f"{where}/weights_sha256", optional=True))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "weights_sha256": self.weights_sha256}


@dataclass(frozen=True)
class Scores:
    """``scores.json``: the scores of one run, from its records alone.

    - ``schema``: ``loomctl.scores/1``.
    - ``manifest_digest``: the effective manifest's digest (what was run).
    - ``suite``, ``model``: the suite and the model, as the effective manifest names them.
    - ``tasks``: per task id, in the manifest's order.
    - ``benchmarks``: per benchmark with at least one scored task.
    - ``average``: the suite's score, the mean of the benchmarks' (LOOMBench's average); None when no
      benchmark has a score.
    """

    schema: str
    manifest_digest: str
    suite: Suite
    model: ModelRef
    tasks: dict[str, TaskScores]
    benchmarks: dict[str, BenchmarkScores]
    average: float | None

    @classmethod
    def from_json(cls, data: Any, where: str = "scores.json") -> Scores:
        data = _object(data, where)
        if data.get("schema") != SCORES_SCHEMA:
            raise _bad(f"{where}/schema", data.get("schema"), f"{SCORES_SCHEMA!r}")
        return cls(SCORES_SCHEMA, _string(data.get("manifest_digest"), f"{where}/manifest_digest"),
                   Suite.from_json(data.get("suite"), f"{where}/suite"),
                   ModelRef.from_json(data.get("model"), f"{where}/model"),
                   {str(k): TaskScores.from_json(v, f"{where}/tasks/{k}")
                    for k, v in _object(data.get("tasks"), f"{where}/tasks").items()},
                   {str(k): BenchmarkScores.from_json(v, f"{where}/benchmarks/{k}")
                    for k, v in _object(data.get("benchmarks"), f"{where}/benchmarks").items()},
                   _percent(data.get("average"), f"{where}/average"))

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "manifest_digest": self.manifest_digest, "suite": self.suite.to_json(),
                "model": self.model.to_json(), "tasks": {k: v.to_json() for k, v in self.tasks.items()},
                "benchmarks": {k: v.to_json() for k, v in self.benchmarks.items()}, "average": self.average}


JUDGE_SCORES_SCHEMA = "loomctl.judge_scores/1"


@dataclass(frozen=True)
class JudgeMetric:
    """One judge metric of a task: the ``judge`` that computed it (``judges.<name>``), ``summary`` over
    the judged samples, ``n_judged`` of them out of ``n`` records (a sample without a prediction, or one
    the judge could not score, is not judged)."""

    judge: str
    summary: Summary
    n: int

    @property
    def n_judged(self) -> int:
        return self.summary.n

    @classmethod
    def from_json(cls, data: Any, where: str) -> JudgeMetric:
        data = _object(data, where)
        summary = Summary(_percent(data.get("score"), f"{where}/score"), _stderr(data.get("stderr"), f"{where}/stderr"),
                          _count(data.get("n_judged"), f"{where}/n_judged"))
        return cls(_string(data.get("judge"), f"{where}/judge"), summary, _count(data.get("n"), f"{where}/n"))

    def to_json(self) -> dict[str, Any]:
        return {"judge": self.judge, "score": self.summary.score, "stderr": self.summary.stderr, "n": self.n,
                "n_judged": self.n_judged}


@dataclass(frozen=True)
class JudgeTask:
    """A judged task: its ``benchmark``, its judge ``metrics`` by name, and the task-level ``details`` its
    benchmark reports beside them (LongWriter's per-dimension S_q), kept as written."""

    benchmark: str
    metrics: dict[str, JudgeMetric]
    details: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any, where: str) -> JudgeTask:
        data = _object(data, where)
        metrics = {str(k): JudgeMetric.from_json(v, f"{where}/metrics/{k}")
                   for k, v in _object(data.get("metrics"), f"{where}/metrics").items()}
        return cls(_string(data.get("benchmark"), f"{where}/benchmark"), metrics,
                   {k: v for k, v in data.items() if k not in ("benchmark", "metrics")})

    def to_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "metrics": {k: v.to_json() for k, v in self.metrics.items()},
                **self.details}


@dataclass(frozen=True)
class JudgeBenchmarkMetric:
    """A judge metric over a benchmark's tasks: the mean of the scored tasks' scores (None when none
    was scored), ``n_tasks`` judged and ``n_tasks_scored`` of them with a score."""

    score: float | None
    n_tasks: int
    n_tasks_scored: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> JudgeBenchmarkMetric:
        data = _object(data, where)
        return cls(_percent(data.get("score"), f"{where}/score"), _count(data.get("n_tasks"), f"{where}/n_tasks"),
                   _count(data.get("n_tasks_scored"), f"{where}/n_tasks_scored"))

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "n_tasks": self.n_tasks, "n_tasks_scored": self.n_tasks_scored}


@dataclass(frozen=True)
class JudgeScores:
    """``judge_scores.json``: the judge pass's scores, apart from ``scores.json``.

    - ``schema``: ``loomctl.judge_scores/1``; ``manifest_digest``, ``suite``, ``model``: as in ``Scores``.
    - ``runtime``: where the judge pass ran, as the runtime describes itself (provenance, kept as written).
    - ``judges``: per judge its pins, engine, generation settings and library versions (provenance).
    - ``tasks``: per judged task; ``benchmarks``: per benchmark and judge metric.
    """

    schema: str
    manifest_digest: str
    suite: Suite
    model: ModelRef
    runtime: dict[str, Any]
    judges: dict[str, dict[str, Any]]
    tasks: dict[str, JudgeTask]
    benchmarks: dict[str, dict[str, JudgeBenchmarkMetric]]

    @classmethod
    def from_json(cls, data: Any, where: str = "judge_scores.json") -> JudgeScores:
        data = _object(data, where)
        if data.get("schema") != JUDGE_SCORES_SCHEMA:
            raise _bad(f"{where}/schema", data.get("schema"), f"{JUDGE_SCORES_SCHEMA!r}")
        judges = {str(k): _object(v, f"{where}/judges/{k}")
                  for k, v in _object(data.get("judges"), f"{where}/judges").items()}
        benchmarks = {str(b): {str(m): JudgeBenchmarkMetric.from_json(v, f"{where}/benchmarks/{b}/{m}")
                               for m, v in _object(metrics, f"{where}/benchmarks/{b}").items()}
                      for b, metrics in _object(data.get("benchmarks"), f"{where}/benchmarks").items()}
        return cls(JUDGE_SCORES_SCHEMA, _string(data.get("manifest_digest"), f"{where}/manifest_digest"),
                   Suite.from_json(data.get("suite"), f"{where}/suite"),
                   ModelRef.from_json(data.get("model"), f"{where}/model"),
                   _object(data.get("runtime"), f"{where}/runtime"), judges,
                   {str(k): JudgeTask.from_json(v, f"{where}/tasks/{k}")
                    for k, v in _object(data.get("tasks"), f"{where}/tasks").items()}, benchmarks)

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "manifest_digest": self.manifest_digest, "suite": self.suite.to_json(),
                "model": self.model.to_json(), "runtime": self.runtime, "judges": self.judges,
                "tasks": {k: v.to_json() for k, v in self.tasks.items()},
                "benchmarks": {b: {m: v.to_json() for m, v in metrics.items()} for b, metrics in self.benchmarks.items()}}
