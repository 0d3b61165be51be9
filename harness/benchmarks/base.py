"""What a benchmark is: a frozen table of its tasks and the metric names it allows (data, not code).

A benchmark family module (``harness/benchmarks/<name>.py``) defines one ``BENCHMARK``. Its tasks are
the official settings (data source, field mapping, template, generation budget, metric); the suite
manifest ``manifests/loombench-v1.json`` is generated from these tables by
``scripts/make_loombench_v1.py``, so the table is the single source of truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskDef:
    """One official task.

    ``dataset`` is the manifest's dataset object without its ``sha256`` (a hub spec with ``revision``
    a 40-hex commit or ``None`` when it could not be found offline, or a generator spec); ``fields``
    maps our names (``context``, ``input``, ``answers``, ``id`` ...) to the upstream field names;
    ``template`` is a path under ``manifests/templates/``; ``samples`` is the number LOOMBench
    evaluates (``None``: all rows); ``group`` is the benchmark's own task grouping (LongBench's
    "Single-Document QA", Counting-Stars' "acquisition"...).
    """

    id: str
    dataset: dict[str, Any]
    template: str
    metrics: tuple[str, ...]
    max_new_tokens: int
    fields: dict[str, str] = field(default_factory=dict)
    stop: tuple[str, ...] = ()
    chat_template: bool = True
    samples: int | None = None
    group: str | None = None
    notes: str = ""
    system: str | None = None  # a system message before the prompt (the manifest's ``prompt.system``)
    system_field: str | None = None  # the sample field holding its own system message (``prompt.system_field``)


@dataclass(frozen=True)
class Judged:
    """Metrics a judge model computes after the run (``harness.judge_run``), declared once, here, in
    the benchmark's table: the judge they need (``judges.<judge>`` in the manifest), what that judge
    is (for messages), ``"module:function"`` entries (imported when judging) that load it, judge one
    record and summarise a task's rows (optional), and the tasks they do not apply to."""

    judge: str
    metrics: tuple[str, ...]
    what: str
    load: str
    judge_record: str
    details: str | None = None
    not_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Benchmark:
    """A benchmark family: its tasks, the metric names a manifest may use with it, and the sample
    fields each record keeps in ``meta`` (``meta_fields``; context a scorer needs, such as LongBench's
    ``all_classes``) of which ``group_fields`` are sub-splits scored separately (LongBench-v2's
    ``difficulty`` and ``length``). ``judged`` metrics need a judge model: they are no task metric but
    are computed apart, after the run, by ``harness.judge_run``."""

    name: str
    title: str
    capability: str
    metrics: tuple[str, ...]
    tasks: tuple[TaskDef, ...] = ()
    meta_fields: tuple[str, ...] = ()
    group_fields: tuple[str, ...] = ()
    judged: Judged | None = None
    length_field: str | None = "length"  # the sample field giving its context-length bucket (an int), if any
    source: str = ""
    # task id -> score; default: LOOM-Scope's mean of the tasks weighted by their samples (harness.scoring)
    aggregate: Callable[[dict[str, float]], float] | None = None
    # (sample, task id) -> sample as the template sees it, applied after the data pin check (L-CiteEval
    # joins its passages into one ``context`` that truncation can cut).
    prepare: Callable[[dict[str, Any], str], dict[str, Any]] | None = None
    # Only a judge scores it (LongCite, LongSafety): its plain metric (``answered``) is a diagnostic, so
    # its tasks are listed in scores.json but it counts in no benchmark, capability or suite mean there;
    # its score is in judge_scores.json.
    judged_only: bool = False

    @property
    def judge_metrics(self) -> tuple[str, ...]:
        return self.judged.metrics if self.judged else ()
