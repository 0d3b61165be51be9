"""LongBench (v1): its 21 tasks with the official prompts, generation budgets and metrics.

Sources, read here:
- THUDM/LongBench at commit 2e00731f8d0bff23dc4325161044d0ed8af94c1e: ``LongBench/config/
  dataset2prompt.json`` (each prompt is ``manifests/templates/longbench/<task>.j2``, the text kept
  byte for byte: ``{context}``/``{input}`` became ``{{ context }}``/``{{ input }}``, and the file ends
  with one extra newline because Jinja drops one), ``dataset2maxlen.json`` (``max_new_tokens``),
  ``eval.py`` (``dataset2metric``; the first line only for trec, triviaqa, samsum and lsht) and
  ``pred.py`` (no chat template for trec, triviaqa, samsum, lsht, lcc and repobench-p; samsum stops
  at a newline). LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/LongBench``) uses the
  same prompts, budgets, metrics and samsum stop, and reads the rows with upstream's field names.
- Data: LOOMBench's copy, ``LongBench/<task>.jsonl`` in the hub dataset LCM-Lab/LOOMBench (the
  folder and ``LongBench/2wikimqa.jsonl`` seen on its hub pages; the LongBench folder is in the tree
  of commit 839aae591cd12e6258051a99cb8822e539f79c60, pinned here; each task's file was not seen
  one by one at that commit, and ``loomctl pin`` will fail loudly if one is missing). Rows keep
  upstream's fields: ``input``, ``context``, ``answers`` (a list), ``length``, ``dataset``,
  ``language``, ``all_classes`` (trec and lsht; null elsewhere), ``_id``.

Not matched exactly (also in each task's notes where it applies):
- LOOMBench's per-task sample counts were not visible offline: ``samples`` is None (every row of
  LOOMBench's file, itself LOOMBench's selection).
- samsum: upstream also sets ``min_length`` so the first generated token cannot end the answer; the
  harness has no such option, so a model whose first token is a newline answers "" here.

ROUGE-L (gov_report, qmsum, multi_news, samsum, vcsum, dureader) is the ``rouge`` package 1.0.1's,
re-implemented exactly (``harness.metrics.text.rouge_l``).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

REPO = "LCM-Lab/LOOMBench"
REVISION = "839aae591cd12e6258051a99cb8822e539f79c60"
FIELDS = {"id": "_id", "context": "context", "input": "input", "answers": "answers", "all_classes": "all_classes"}

SINGLE_DOC, MULTI_DOC = "Single-Document QA", "Multi-Document QA"
SUMMARIZATION, FEW_SHOT = "Summarization", "Few-shot Learning"
SYNTHETIC, CODE = "Synthetic Tasks", "Code Completion"

# name, LongBench category, max_new_tokens (dataset2maxlen.json), metric (eval.py's dataset2metric;
# *_first_line / longbench_classification score the first line only, as eval.py does for these
# four tasks), chat template (pred.py builds none for few-shot and code tasks).
TASKS = (
    ("narrativeqa", SINGLE_DOC, 128, "qa_f1", True),
    ("qasper", SINGLE_DOC, 128, "qa_f1", True),
    ("multifieldqa_en", SINGLE_DOC, 64, "qa_f1", True),
    ("multifieldqa_zh", SINGLE_DOC, 64, "qa_f1_zh", True),
    ("hotpotqa", MULTI_DOC, 32, "qa_f1", True),
    ("2wikimqa", MULTI_DOC, 32, "qa_f1", True),
    ("musique", MULTI_DOC, 32, "qa_f1", True),
    ("dureader", MULTI_DOC, 128, "rouge_l_zh", True),
    ("gov_report", SUMMARIZATION, 512, "rouge_l", True),
    ("qmsum", SUMMARIZATION, 512, "rouge_l", True),
    ("multi_news", SUMMARIZATION, 512, "rouge_l", True),
    ("vcsum", SUMMARIZATION, 512, "rouge_l_zh", True),
    ("trec", FEW_SHOT, 64, "longbench_classification", False),
    ("triviaqa", FEW_SHOT, 32, "qa_f1_first_line", False),
    ("samsum", FEW_SHOT, 128, "rouge_l_first_line", False),
    ("lsht", FEW_SHOT, 64, "longbench_classification", False),
    ("passage_count", SYNTHETIC, 32, "longbench_count", True),
    ("passage_retrieval_en", SYNTHETIC, 32, "longbench_retrieval", True),
    ("passage_retrieval_zh", SYNTHETIC, 32, "longbench_retrieval_zh", True),
    ("lcc", CODE, 64, "longbench_code_sim", False),
    ("repobench-p", CODE, 64, "longbench_code_sim", False),
)

# pred.py ends samsum at the first newline (the model otherwise writes the next "Dialogue:" shot).
STOPS = {"samsum": ("\n",)}
NOTES = {"samsum": "upstream also forbids an empty answer (min_length); not reproduced"}


def task_id(name: str) -> str:
    """Suite-wide unique task id (L-CiteEval and LEval reuse names such as narrativeqa)."""
    return f"longbench_{name}"


def _task(name: str, group: str, max_new_tokens: int, metric: str, chat_template: bool) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"LongBench/{name}.jsonl", "revision": REVISION},
        template=f"longbench/{name}.j2", metrics=(metric,), max_new_tokens=max_new_tokens,
        fields=dict(FIELDS), stop=STOPS.get(name, ()), chat_template=chat_template, samples=None,
        group=group, notes=NOTES.get(name, ""))


BENCHMARK = Benchmark(
    name="longbench", title="LongBench", capability="general",
    metrics=tuple(sorted({row[3] for row in TASKS})),
    tasks=tuple(_task(*row) for row in TASKS),
    meta_fields=("all_classes",),
    length_field=None,  # "length" is a word count (LongBench) or short/medium/long (v2), not a bucket
    source="https://github.com/THUDM/LongBench/tree/2e00731f8d0bff23dc4325161044d0ed8af94c1e/LongBench; "
           "data: https://huggingface.co/datasets/LCM-Lab/LOOMBench (LongBench/)",
)
