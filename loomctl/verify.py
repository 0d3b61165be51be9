"""Verify a published run directory without running a model: hashes, counts, re-scoring, consistency.

Without the inputs it checks what the bundle says about itself (digests, duplicates, per-record
scores, aggregates, stop strings). Given the model folder and the manifest's folder it also
regenerates the samples (data content hash against the pin), finds missing and extra records,
re-renders every prompt (its sha256 and token count against the record) and re-counts output
tokens, the consistency checks MLPerf's checker runs on LLM outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.api import score_sample, suite_scores
from loomcore.hashing import sha256_text
from loomcore.records import read_records
from loomcore.rundir import MANIFEST, RunDir
from loomcore.specs import Scores
from loomcore.taskspec import TaskSpec, limit_from_json


def verify(run_dir: Path, model_dir: Path | None = None, root: Path | None = None) -> list[str]:
    """Every problem found (empty when the bundle is consistent)."""
    run = RunDir(run_dir)
    effective, published = run.read(MANIFEST), run.scores()
    problems: list[str] = []
    if published.manifest_digest != effective.get("manifest_digest"):
        problems.append(f"scores.json: manifest_digest {published.manifest_digest} is not the run's "
                        f"{effective.get('manifest_digest')}")
    records = read_records(run_dir)
    typed = run.tasks(effective)
    tasks = {t.id: t for t in typed}
    for name in sorted(set(records) - set(tasks)):
        problems.append(f"samples/{name}.jsonl: a task the manifest does not have")
    for task_id, task in tasks.items():
        problems += _record_problems(task, records.get(task_id, []))
    problems += _aggregate_problems(typed, records, published)
    if model_dir is not None and root is not None:
        problems += _against_inputs(typed, limit_from_json(effective.get("limit")), records, model_dir, root)
    return problems


def _record_problems(task: TaskSpec, rows: list) -> list[str]:
    """A task's records on their own: present, each once, scored as their prediction scores, cut at
    the stop strings."""
    task_id = task.id
    problems = [] if rows else [f"samples/{task_id}.jsonl: missing or empty"]
    seen: set[str] = set()
    stops = task.generation.stops
    for r in rows:
        where = f"samples/{task_id}.jsonl: {r.id}"
        if r.id in seen:
            problems.append(f"{where}: duplicated record")
        seen.add(r.id)
        if r.prediction is None:
            continue
        expected = score_sample(list(task.metrics), r.prediction, r.references, r.meta)
        if expected != r.scores:
            problems.append(f"{where}: recorded scores {r.scores} but the prediction scores {expected}")
        if any(s in r.prediction for s in stops):
            problems.append(f"{where}: the prediction still contains a stop string (more than one stop)")
    return problems


def _aggregate_problems(tasks: list[TaskSpec], records, published: Scores) -> list[str]:
    """scores.json against the scores the records give."""
    problems = []
    rescored = suite_scores({k: v for k, v in records.items()}, tasks, published.manifest_digest,
                            published.suite, published.model)
    for task in tasks:
        task_id = task.id
        mine, theirs = _score_n(rescored, task_id), _score_n(published, task_id)
        if mine != theirs:
            problems.append(f"scores.json: {task_id} says {theirs[0]} over n={theirs[1]}, "
                            f"the records give {mine[0]} over n={mine[1]}")
    if rescored.average != published.average:
        problems.append(f"scores.json: average {published.average}, the records give {rescored.average}")
    return problems


def _score_n(scores: Scores, task_id: str) -> tuple[float | None, int | None]:
    task = scores.tasks.get(task_id)
    return (task.score, task.n) if task else (None, None)


def _against_inputs(tasks: list[TaskSpec], limit: int | None, records, model_dir: Path, root: Path) -> list[str]:
    """The records against the inputs: the data regenerated to its pin, one record per selected
    sample, every prompt re-rendered (hash, head and tail, tokens) and outputs re-counted."""
    from harness.api import builder_for_task, load_samples, prepared_samples, select, transform_samples
    from loomcore.hashing import samples_sha256
    from loomcore.tokenizer import ModelTokenizer

    problems = []
    tokenizer = ModelTokenizer(model_dir)
    for task in tasks:
        samples = load_samples(task.dataset, root, lambda: tokenizer)
        if samples_sha256(samples) != task.dataset.sha256:
            problems.append(f"{task.id}: the regenerated data does not match the pinned content hash")
            continue
        by_id = {s["id"]: s for s in select(samples, limit)}
        rows = {r.id: r for r in records.get(task.id, [])}
        for missing in sorted(set(by_id) - set(rows)):
            problems.append(f"samples/{task.id}.jsonl: {missing}: missing record")
        for extra in sorted(set(rows) - set(by_id)):
            problems.append(f"samples/{task.id}.jsonl: {extra}: no such sample in the pinned data")
        builder = builder_for_task(task, tokenizer, model_dir)
        added = list(task.prompt.sent_special_tokens(tokenizer.added_special_tokens))
        # as the run saw them: the benchmark's preparation, then an acceleration method's (RAG's) transform
        present = prepared_samples([by_id[i] for i in rows if i in by_id], task.benchmark, task.id)
        present, _ = transform_samples(task.active_acceleration, present, tokenizer, task)
        for sample, prompt in zip(present, builder.build_many(present)):
            problems += _prompt_problems(f"samples/{task.id}.jsonl", rows[sample["id"]], prompt, tokenizer, added)
    return problems


def _special_token_problems(where: str, r, prompt: dict[str, Any], added: list[str]) -> list[str]:
    """The special tokens a record lists against those the manifest's ``prompt.special_tokens`` adds."""
    if prompt["text"] is not None and (r.special_tokens or []) != added:
        return [f"{where}: special_tokens {r.special_tokens or []}, the manifest's prompt.special_tokens adds {added}"]
    return []


def _prompt_problems(where: str, r, prompt: dict[str, Any], tokenizer, added: list[str]) -> list[str]:
    """One record against its re-rendered prompt (the special tokens the manifest adds included) and
    its re-counted prediction."""
    where = f"{where}: {r.id}"
    problems = _special_token_problems(where, r, prompt, added)
    if prompt["text"] is not None and sha256_text(prompt["text"]) != r.prompt_sha256:
        problems.append(f"{where}: prompt_sha256 does not match the pinned template and data")
    elif prompt["text"] is not None and not (prompt["text"].startswith(r.prompt_head or "")
                                             and prompt["text"].endswith(r.prompt_tail or "")):
        problems.append(f"{where}: prompt_head/prompt_tail are not the prompt's")
    if prompt["tokens_after"] != r.input_tokens:
        problems.append(f"{where}: input_tokens {r.input_tokens}, the prompt has {prompt['tokens_after']}")
    if r.prediction is not None and r.finish_reason in ("eos", "length") and \
            tokenizer.count(r.prediction) > r.output_tokens:
        problems.append(f"{where}: output_tokens {r.output_tokens} is fewer than the prediction's "
                        f"{tokenizer.count(r.prediction)} tokens")
    return problems
