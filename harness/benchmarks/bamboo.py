"""BAMBOO: nine of its ten datasets at its two length levels (4k, 16k), with the official prompts, the
32-token answer budget and the official scorers (``harness.metrics.bamboo``).

Sources, read here:
- RUCAIBox/BAMBOO at commit f230f206148396c12774ef3a632df291d96dc6ab: ``prompt.json`` (each
  ``final_answer`` is ``manifests/templates/bamboo/<dataset>.j2``, the text kept byte for byte,
  ``{content}`` -> ``{{ context }}``, ``{hypothesis}``/``{question}``/``{events}`` -> the same names,
  ``{options}`` -> ``{{ options_text }}``, plus one final newline that Jinja drops),
  ``run_for_transformers.py`` (``max_new_tokens=32``), ``evaluate.py`` (the metrics) and
  ``datasets/<dataset>_<4k|16k>.jsonl`` (the rows: ``content``, ``answer`` and per dataset
  ``hypothesis``, ``question``/``options``, ``summaries``).
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/BAMBOO/BAMBOO.py``): how each prompt is
  filled (``process_data``: showssort's paragraphs as ``[i] ```text``` `` lines from 0, reportsumsort's
  summaries as the same lines from 1, options joined by a tab), ``max_new_tokens`` 32, the sort answers
  read as the integers of the output (``postprocess``), tasks named ``<dataset>_<length>``, and its
  README's result table (these nine plus private_eval at 4k).
- senhallu/abshallu are scored as BAMBOO does, by the F1 of the ``True`` class over the whole task
  (``bamboo_hallu_f1``, a task-level metric, see ``harness.metrics.bamboo``), x100; their second
  metric, ``bamboo_hallu_acc``, is the per-sample accuracy of the same yes/no decision.
- Groups: the dataset's task as the BAMBOO paper names them (question answering, hallucination
  detection, language modeling = speaker prediction, text sorting).

The context the harness cuts in the middle is ``content`` (for showssort the joined paragraphs, built
by ``prepare_sample``); the question, hypothesis, options and events are kept whole.

Not matched exactly:
- private_eval (code completion scored by pass@1 on executing the completed code against
  ``real_all_eval_v3.jsonl.gz``) is left out: it executes model output, which this harness does not do.
- Data: the rows live in the GitHub repository (``datasets/``), not on the Hugging Face hub; no hub
  copy was seen here, so ``repo`` names the GitHub repository and ``revision`` is None: ``loomctl
  pin`` cannot resolve it and a run needs the files given locally (``--data-dir``). Measured in the
  snapshot read here: the 4k files have 100 (meetingqa, paperqa, meetingpred, showspred), 150
  (reportsumsort) and 200 rows (altqa, senhallu, abshallu, showssort); of the 16k files only
  paperqa, showspred and showssort (100 rows each) were present, the others absent from the
  snapshot; 2 of paperqa_4k's rows parse only with control characters allowed in strings
  (``json.loads(..., strict=False)``) and row 26 of paperqa_16k does not parse at all (Python's
  ``json``; how the hub loader takes them was not tried). LOOMBench's per-task sample
  counts were not visible: ``samples`` is None (all rows).
- LOOM-Scope cuts the middle of the whole filled prompt (``max_length``), not of the content alone;
  the chat template is applied (LOOM-Scope's default) without the ``system`` texts of ``prompt.json``,
  which neither LOOM-Scope nor upstream's transformers script sends (that script wraps the prompt in
  FastChat's vicuna template); both pass ``temperature=0.7`` (LOOM-Scope's ``LLM_param``, upstream's
  ``generate`` without ``do_sample``); decoding is greedy in the manifest here.
"""

from __future__ import annotations

import json
from typing import Any

from harness.benchmarks.base import Benchmark, TaskDef
from loomcore.errors import InputError

REPO = "RUCAIBox/BAMBOO"
REVISION = None  # no hub copy seen here (see the docstring); GitHub commit f230f206148396c12774ef3a632df291d96dc6ab
LEVELS = ("4k", "16k")
MAX_NEW_TOKENS = 32
QA, HALLU, PRED, SORT = "question answering", "hallucination detection", "speaker prediction", "text sorting"

# dataset, group, metrics (the first is the task's score), fields beyond the answer (ours -> upstream's).
DATASETS = (
    ("meetingqa", QA, "bamboo_qa_acc", {"context": "content", "question": "question"}),
    ("paperqa", QA, "bamboo_qa_acc", {"context": "content", "question": "question"}),
    ("altqa", QA, "bamboo_altqa_acc", {"context": "content"}),
    ("senhallu", HALLU, ("bamboo_hallu_f1", "bamboo_hallu_acc"), {"context": "content"}),
    ("abshallu", HALLU, ("bamboo_hallu_f1", "bamboo_hallu_acc"), {"context": "content"}),
    ("meetingpred", PRED, "bamboo_pred_acc", {"context": "content"}),
    ("showspred", PRED, "bamboo_pred_acc", {"context": "content"}),
    ("reportsumsort", SORT, "bamboo_concordance", {"context": "content"}),
    ("showssort", SORT, "bamboo_concordance", {}),  # content is a list of paragraphs: prepare_sample joins it
)


def task_id(dataset: str, level: str) -> str:
    """Suite-wide unique task id."""
    return f"bamboo_{dataset}_{level}"


def dataset_of(task: str) -> str:
    """The BAMBOO dataset of a task id (``bamboo_showssort_4k`` -> ``showssort``)."""
    return task.removeprefix("bamboo_").rsplit("_", 1)[0]


def numbered(items: list[Any], start: int) -> str:
    """LOOM-Scope's ``"[{}] ```{}```"`` lines, joined by newlines, numbered from ``start``."""
    return "\n".join(f"[{i + start}] ```{item}```" for i, item in enumerate(items))


def _answer(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]  # already prepared
    if isinstance(value, list):
        return json.dumps([int(v) for v in value])
    return str(value)


def prepare_sample(sample: dict[str, Any], task: str) -> dict[str, Any]:
    """The sample as its template sees it: showssort's ``context`` (its paragraphs from [0]),
    reportsumsort's ``events`` (its summaries from [1]), the QA sets' ``options_text`` (tab-joined)
    and the answer as one reference string (a sort order as its JSON list, a boolean as True/False)."""
    name = dataset_of(task)
    out = dict(sample)
    if name == "showssort":
        out["context"] = numbered(_list(sample, "content", task), 0)
    elif name == "reportsumsort":
        out["events"] = numbered(_list(sample, "summaries", task), 1)
    elif name in ("meetingqa", "paperqa"):
        out["options_text"] = "\t".join(str(o) for o in _list(sample, "options", task))
    out["answers"] = [_answer(sample.get("answers", sample.get("answer")))]
    return out


def _list(sample: dict[str, Any], key: str, task: str) -> list[Any]:
    value = sample.get(key)
    if not isinstance(value, list):
        raise InputError(f"{task}/dataset: sample {sample.get('id')!r} has no {key!r} list — BAMBOO rows carry it")
    return value


def _metrics(metric: str | tuple[str, ...]) -> tuple[str, ...]:
    return (metric,) if isinstance(metric, str) else metric


def _task(dataset: str, group: str, metric: str | tuple[str, ...], fields: dict[str, str], level: str) -> TaskDef:
    return TaskDef(
        id=task_id(dataset, level),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"datasets/{dataset}_{level}.jsonl", "revision": REVISION},
        template=f"bamboo/{dataset}.j2", metrics=_metrics(metric), max_new_tokens=MAX_NEW_TOKENS,
        fields={**fields, "answers": "answer"}, chat_template=True, samples=None, group=group)


BENCHMARK = Benchmark(
    name="bamboo", title="BAMBOO", capability="general",
    metrics=tuple(sorted({m for row in DATASETS for m in _metrics(row[2])})),
    tasks=tuple(_task(*row, level) for row in DATASETS for level in LEVELS),
    length_field=None,
    prepare=prepare_sample,
    source="https://github.com/RUCAIBox/BAMBOO/tree/f230f206148396c12774ef3a632df291d96dc6ab",
)
