"""The judge pass: a finished run's judge metrics, computed from its records by pinned judge models.

``python -m harness judge --run-dir D --root R [--judge NAME=DIR]`` (what ``loomctl judge`` runs)
reads the run's effective manifest and records, and for every task whose benchmark declares judge
metrics (``Benchmark.judged``: which judge each needs and how one record is judged) loads that judge
once from the manifest's ``judges.<name>`` — refusing an open pin, or weights that do not hash to the
pin — and writes:

- ``judge/<task>.jsonl``: per sample its id, the judge, whether it was judged, its judge metric
  scores in [0, 1] and what the judge said (an LLM judge's replies);
- ``judge_scores.json``: per task and judge metric the score (mean x100 over judged samples, with
  its standard error), ``n`` (records) and ``n_judged``; per benchmark the mean of its tasks; and
  each judge's provenance (pins, engine, generation settings, library versions, device).

``scores.json`` is never touched: judge scores are reported apart from judge-free scores. Each file
is written whole and atomically, so a second pass over the same run gives the same bytes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.benchmarks import BENCHMARKS
from harness.benchmarks.base import Judged
from harness.metrics.l_citeeval import citation_scores
from harness.metrics.longwriter import quality_scores, quality_summary
from harness.registry import resolve
from harness.scoring import summarise
from loomcore.errors import InputError, LoomError
from loomcore.records import Record, read_records
from loomcore.rundir import JUDGE_SCORES, MANIFEST, SCORES, RunDir, write_jsonl_atomic
from loomcore.specs import JUDGE_SCORES_SCHEMA, JudgeScores
from loomcore.taskspec import TaskSpec

JUDGE_RECORD_SCHEMA = "loomctl.judge_record/1"


def load_nli(spec: dict[str, Any], model_dir: Path, accelerator: dict[str, Any]):
    from harness.judges import load_nli_judge

    return load_nli_judge(spec, model_dir.parent, model_dir)


def load_llm(spec: dict[str, Any], model_dir: Path, accelerator: dict[str, Any]):
    from harness.judges import load_llm_judge

    return load_llm_judge(spec, model_dir, accelerator)


def judge_citations(record: Record, entails: Callable[[str, str], bool]) -> dict[str, Any]:
    """L-CiteEval's citation recall, precision and F1 of one answer (the whole generation, as
    upstream's ``compute_autoais`` reads it), the NLI judge deciding entailment."""
    docs = record.meta.get("docs")
    if not isinstance(docs, list):
        raise InputError(f"samples/{record.task}.jsonl: record {record.id} has no meta.docs — the citation "
                         "judge needs the passages; re-run the task with this harness (records keep them)")
    found = citation_scores(record.prediction, docs, entails)
    return {"scores": {f"l_citeeval_citation_{name}": value for name, value in found.items()}}


def judge_quality(record: Record, judge) -> dict[str, Any]:
    """LongWriter's S_q of one answer: the judge's six 1-5 scores (up to upstream's five tries); the
    sample's ``longwriter_quality`` is (mean of the six - 1) / 4, so that the task mean x100 is
    upstream's total. Every reply the judge gave is kept."""
    request = record.meta.get("prompt")
    if not isinstance(request, str):
        raise InputError(f"samples/{record.task}.jsonl: record {record.id} has no meta.prompt — the quality "
                         "judge needs the writing request; re-run the task with this harness (records keep it)")
    session = judge.session(record.id)
    dimensions = quality_scores(request, record.prediction, session)
    scores = {} if dimensions is None else {
        "longwriter_quality": (sum(dimensions.values()) / len(dimensions) - 1) / 4}
    return {"scores": scores, "dimensions": dimensions, "replies": session.replies, "judge_calls": session.calls}


def quality_dimensions(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Upstream's per-dimension report (x100) over the judged samples of a task."""
    judged = [row["dimensions"] for row in rows if row.get("dimensions")]
    if not judged:
        return {}
    return {"dimensions": {k: round(v, 6) for k, v in quality_summary(judged).items()}}


# Each judged benchmark's judge metrics, as its table declares them (``Benchmark.judged``).
JUDGED: dict[str, Judged] = {name: bench.judged for name, bench in BENCHMARKS.items() if bench.judged}

# Pin keys copied into judge_scores.json as each judge's provenance.
PROVENANCE_KEYS = ("id", "revision", "weights_sha256", "files", "dtype", "engine", "generation")


def judged_tasks(tasks: list[TaskSpec]) -> list[tuple[TaskSpec, Judged]]:
    """The run's tasks that have judge metrics, in manifest order, with what judges them."""
    return [(task, JUDGED[task.benchmark]) for task in tasks
            if task.benchmark in JUDGED and task.id not in JUDGED[task.benchmark].not_for]


def _pin_problems(name: str, spec: dict[str, Any] | None, needed_by: str, what: str) -> list[str]:
    if spec is None:
        return [f"judges/{name}: the run's manifest pins no judge {name!r}, which {needed_by} needs — add "
                f"judges.{name} ({what}: id, revision, weights_sha256, files, engine, and a local path or "
                f"--judge {name}=DIR) to the manifest before `loomctl run`, or to the run's manifest.json"]
    problems = []
    if spec.get("weights_sha256") is None:
        hosted = (spec.get("engine") or {}).get("name") == "openai"
        problems.append(
            f"judges/{name}/weights_sha256: open pin — " + (
                f"{spec.get('id')} is served by an API whose weights cannot be hashed, so its scores cannot be "
                f"pinned; pin a local judge model instead (path, weights_sha256, files) to compute {needed_by}"
                if hosted else
                f"give judges.{name} its local path and run `loomctl pin` on the manifest (it writes "
                f"weights_sha256 and files); the judge pass refuses unpinned judges"))
    if spec.get("revision") is None and not spec.get("path"):
        problems.append(f"judges/{name}/revision: open pin — write the hub commit the judge's weights come from, "
                        f"or set judges.{name}.path to the local folder that holds them")
    return problems


def _judge_dir(name: str, spec: dict[str, Any], root: Path, judge_dirs: dict[str, Path]) -> Path:
    if name in judge_dirs:
        model_dir = judge_dirs[name]
    elif spec.get("path"):
        # The judge's path comes from a run directory's effective manifest, which may come from anyone:
        # it must stay inside --root, as a manifest's relative paths do.
        model_dir = root / spec["path"]
        if not model_dir.resolve().is_relative_to(root.resolve()):
            raise InputError(f"judges/{name}/path: {spec['path']!r} leads out of the manifest's folder {root} — a "
                             f"judge's path is relative to it and stays inside; or pass --judge {name}=DIR")
    else:
        raise InputError(f"judges/{name}/path: no local folder for judge {spec.get('id')!r} — set judges.{name}.path "
                         f"(relative to the manifest) or pass --judge {name}=DIR")
    if not (model_dir / "config.json").is_file():
        raise InputError(f"judges/{name}/path: {model_dir} has no config.json — download {spec.get('id')} there "
                         "(a folder written by save_pretrained)")
    return model_dir


def _scoped(name: str, exc: LoomError) -> LoomError:
    """The same error with its messages under ``judges/<name>/``."""
    return type(exc)(*[f"judges/{name}/{p.removeprefix('judges/')}" for p in exc.problems])


def load_judges(effective: dict[str, Any], plan: list[tuple[TaskSpec, Judged]], root: Path,
                judge_dirs: dict[str, Path]) -> dict[str, Any]:
    """Each judge the plan needs, its pins checked first (all problems at once), then loaded once."""
    from harness.weights import verify as verify_weights

    pinned = effective.get("judges") or {}
    needs: dict[str, tuple[str, str]] = {}
    for task, judged in plan:
        needs.setdefault(judged.judge, (f"{', '.join(judged.metrics)} (task {task.id})", judged.what))
    unused = sorted(set(judge_dirs) - set(needs))
    problems = [f"--judge: no judged task of this run needs a judge named {n!r} (needed: "
                f"{', '.join(sorted(needs)) or 'none'})" for n in unused]
    for name, (needed_by, what) in needs.items():
        problems += _pin_problems(name, pinned.get(name), needed_by, what)
    if problems:
        raise InputError(*problems)
    dirs = {name: _judge_dir(name, pinned[name], root, judge_dirs) for name in needs}
    checked = {name: verify_weights(pinned[name], model_dir, where=f"judges/{name}",
                                    remedy=f"write the new hash into judges.{name} if the change is intended")
               for name, model_dir in dirs.items()}
    loaders = {judged.judge: resolve(judged.load) for _, judged in plan}
    judges = {}
    for name, model_dir in dirs.items():
        try:
            judges[name] = loaders[name](pinned[name], model_dir, effective.get("accelerator") or {})
        except LoomError as exc:
            raise _scoped(name, exc) from None
        checked[name].recheck()
    return judges


def judge_task(task: TaskSpec, judged: Judged, records: list[Record], judge) -> tuple[
        list[dict[str, Any]], dict[str, Any]]:
    """Per-sample judge rows and the task's judge scores."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"schema": JUDGE_RECORD_SCHEMA, "id": record.id, "judge": judged.judge}
        if record.prediction is None:
            why = "skipped" if record.skipped else record.error or "failed"
            row.update({"judged": False, "scores": {}, "reason": f"no prediction ({why})"})
        else:
            result = resolve(judged.judge_record)(record, judge)
            row.update({"judged": bool(result["scores"]), **result})
        rows.append(row)
    metrics = {}
    for metric in judged.metrics:
        values = [row["scores"][metric] for row in rows if metric in row["scores"]]
        summary = summarise(values)
        metrics[metric] = {"judge": judged.judge, "score": summary["score"], "stderr": summary["stderr"],
                           "n": len(records), "n_judged": len(values)}
    scores = {"benchmark": task.benchmark, "metrics": metrics,
              **(resolve(judged.details)(rows) if judged.details else {})}
    return rows, scores


def benchmark_judge_scores(tasks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per benchmark and judge metric, the mean of its tasks' scores; a task with no judged sample is
    counted in ``n_tasks`` but left out of the mean (``n_tasks_scored``)."""
    out: dict[str, dict[str, Any]] = {}
    for task in tasks.values():
        for metric, entry in task["metrics"].items():
            slot = out.setdefault(task["benchmark"], {}).setdefault(metric, {"scores": [], "n_tasks": 0})
            slot["n_tasks"] += 1
            if entry["score"] is not None:
                slot["scores"].append(entry["score"])
    return {bench: {metric: {"score": round(sum(s["scores"]) / len(s["scores"]), 6) if s["scores"] else None,
                             "n_tasks": s["n_tasks"], "n_tasks_scored": len(s["scores"])}
                    for metric, s in metrics.items()}
            for bench, metrics in out.items()}


def parse_judge_dirs(pairs: list[str]) -> dict[str, Path]:
    """``--judge NAME=DIR`` options as {name: folder}."""
    out: dict[str, Path] = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"--judge: {pair!r} is not NAME=DIR — e.g. --judge nli=models/deberta-base-long-nli")
        if name in out:
            raise InputError(f"--judge: judge {name!r} is given twice — pass one folder per judge")
        out[name] = Path(folder)
    return out


def parse_runtime(text: str) -> dict[str, Any]:
    """Where this judge pass runs, as loomctl's runtime passes it (``--runtime``): ``{"kind": "local"}``,
    ``{"kind": "venv", "venv": {...}}`` or ``{"kind": "docker", "image": {...}}``."""
    try:
        runtime = json.loads(text)
    except ValueError:
        runtime = None
    if not isinstance(runtime, dict) or not isinstance(runtime.get("kind"), str):
        raise InputError(f"--runtime: {text[:80]!r} is not a runtime description — a JSON object with a \"kind\"")
    return runtime


def judge_run(run_dir: Path, root: Path, judge_dirs: dict[str, Path] | None = None,
              runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    """Judge a finished run (see the module docstring); returns what it writes to judge_scores.json,
    whose ``runtime`` is ``runtime`` (default: local)."""
    from harness.run import run_header

    judge_dirs = judge_dirs or {}
    run = RunDir(run_dir)
    effective = run.read(MANIFEST)
    if not run.has(SCORES):
        raise InputError(f"{run_dir}: not a finished run (no scores.json) — finish it with `loomctl run` first")
    plan = judged_tasks(run.tasks(effective))
    judges = load_judges(effective, plan, root, judge_dirs)
    records = read_records(run_dir)
    tasks = {}
    for task, judged in plan:
        rows, tasks[task.id] = judge_task(task, judged, records.get(task.id, []), judges[judged.judge])
        write_jsonl_atomic(run.judge_rows(task.id), rows)
        print(f"[judge {judged.judge}] {task.id}: {sum(r['judged'] for r in rows)}/{len(rows)} samples judged",
              file=sys.stderr, flush=True)
    if not plan:
        print(f"[judge] {run_dir}: no task of this run has judge metrics", file=sys.stderr)
    pinned = effective.get("judges") or {}
    provenance = {name: {**{k: pinned[name][k] for k in PROVENANCE_KEYS if k in pinned[name]},
                         **({"generation": judge.generation} if hasattr(judge, "generation") else {}),
                         "versions": judge.versions()}
                  for name, judge in judges.items()}
    result = {"schema": JUDGE_SCORES_SCHEMA, **run_header(effective), "runtime": runtime or {"kind": "local"},
              "judges": provenance, "tasks": tasks,
              "benchmarks": benchmark_judge_scores(tasks)}
    run.write(JUDGE_SCORES, JudgeScores.from_json(result).to_json())
    return result

