"""LIBRA (Long Input Benchmark for Russian Analysis) as LOOMBench runs it: 18 Russian tasks.

Sources, read here:
- Prompts, budgets and metrics: ai-forever/LIBRA ``configs/datasets_config.json`` at commit
  94dcac03119b108297a4fd33c7e0d116961ea510 (``instruction`` with ``{context}``/``{input}``, which
  LOOM-Scope 0.8 ``LIBRA.py`` fills by plain string replacement; ``max_new_tokens``; ``metric``: em,
  count_score). Each prompt is ``manifests/templates/libra/<task>.j2`` (text kept byte for byte,
  ``{context}``/``{input}`` became ``{{ context }}``/``{{ input }}``, plus one final newline that
  Jinja drops). Upstream and LOOM-Scope build the chat prompt for instruct models.
- Metrics: ``harness.metrics.libra`` (LOOM-Scope's lemmatised scorer with the negative-answer
  penalty); the task score is the mean over its samples x100, as LOOM-Scope's ``eval.py`` reports.
- Task selection: the 18 configs of the hub dataset ai-forever/LIBRA (its tree at commit
  65ccf486863b0dc1417581ed44c7bdf7799c661f lists them; ru_qasper, ru_quality and ru_tpo are in the
  GitHub config but not on the hub). Groups are the README's four complexity groups.
- Data: LOOMBench's copy, ``LIBRA/<task>.jsonl`` in the hub dataset LCM-Lab/LOOMBench, rows in
  ai-forever/LIBRA's format (``context``, ``input``, ``positive_outputs``, ``negative_outputs``,
  ``length``, ``metadata``). Seen on the hub pages: ``LIBRA/ru_sci_fi.jsonl``; the other names follow
  AmamiSora/LOOM_Data's ``LIBRA/<task>.jsonl`` and were not each seen (``loomctl pin`` fails loudly on
  a missing one). Pinned to d9d4f349551cd0fe8b25dc766612d35e4230e7cb (see harness/benchmarks/babilong.py).

Not matched exactly (also in the task notes where it applies):
- ``samples`` is None (every row of LOOMBench's file, itself LOOMBench's selection); LOOMBench's
  per-task counts were not visible offline.
- Aggregation: the LOOMBench number follows LOOM-Scope, which LOOMBench's leaderboard was made with:
  each task the mean of its samples, the benchmark the tasks' mean weighted by their samples
  (``harness.scoring.benchmark_score``). LIBRA's own evaluation script averages per-length means over
  every configured length and counts a length with no sample as 0: on the same per-sample scores
  the issue that raised it measured 4.72 there against 10.56 for the mean over samples. That figure
  is not LOOMBench's and is not computed here; the per-length means it starts from are in
  scores.json's ``by_length`` (records keep ``length``).
- Lemmas come from pymorphy3, not pymorphy2 (see ``harness.metrics.libra``).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

REPO = "LCM-Lab/LOOMBench"
REVISION = "d9d4f349551cd0fe8b25dc766612d35e4230e7cb"
FIELDS = {"context": "context", "input": "input", "answers": "positive_outputs"}

RETRIEVAL = "I. Simple Information Retrieval"
QA_CHOICE = "II. Question Answering and Multiple Choice"
MULTI_HOP = "III. Multi-hop Question Answering"
REASONING = "IV. Complex Reasoning and Mathematical Problems"

# name, complexity group, max_new_tokens and metric (datasets_config.json: em -> libra_exact_match,
# count_score -> libra_count_score)
TASKS = (
    ("passkey", RETRIEVAL, 16, "libra_exact_match"),
    ("passkey_with_librusec", RETRIEVAL, 16, "libra_exact_match"),
    ("matreshka_names", QA_CHOICE, 16, "libra_exact_match"),
    ("matreshka_yes_no", QA_CHOICE, 4, "libra_exact_match"),
    ("librusec_history", QA_CHOICE, 32, "libra_exact_match"),
    ("ru_trec", QA_CHOICE, 32, "libra_exact_match"),
    ("ru_sci_fi", QA_CHOICE, 32, "libra_exact_match"),
    ("ru_sci_abstract_retrieval", QA_CHOICE, 32, "libra_exact_match"),
    ("ru_babilong_qa1", MULTI_HOP, 16, "libra_exact_match"),
    ("ru_babilong_qa2", MULTI_HOP, 16, "libra_exact_match"),
    ("ru_babilong_qa3", MULTI_HOP, 16, "libra_exact_match"),
    ("ru_babilong_qa4", MULTI_HOP, 16, "libra_exact_match"),
    ("ru_babilong_qa5", MULTI_HOP, 16, "libra_exact_match"),
    ("long_context_multiq", MULTI_HOP, 32, "libra_exact_match"),
    ("librusec_mhqa", MULTI_HOP, 32, "libra_exact_match"),
    ("ru_2wikimultihopqa", MULTI_HOP, 32, "libra_exact_match"),
    ("ru_sci_passage_count", REASONING, 8, "libra_count_score"),
    ("ru_gsm100", REASONING, 32, "libra_exact_match"),
)
SEEN_FILES = ("ru_sci_fi",)


def task_id(name: str) -> str:
    """Suite-wide unique task id (LOOMBench's other benchmarks reuse names such as passkey)."""
    return f"libra_{name}"


def _task(name: str, group: str, max_new_tokens: int, metric: str) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"LIBRA/{name}.jsonl", "revision": REVISION},
        template=f"libra/{name}.j2", metrics=(metric,), max_new_tokens=max_new_tokens,
        fields=dict(FIELDS), chat_template=True, samples=None, group=group,
        notes="" if name in SEEN_FILES else "file name inferred from LOOMBench's LIBRA/<task>.jsonl pattern")


BENCHMARK = Benchmark(
    name="libra", title="LIBRA", capability="specialization",
    metrics=("libra_exact_match", "libra_count_score", "libra_f1"),
    tasks=tuple(_task(*row) for row in TASKS),
    meta_fields=("negative_outputs",),
    source="https://github.com/ai-forever/LIBRA/tree/94dcac03119b108297a4fd33c7e0d116961ea510; "
           "data: https://huggingface.co/datasets/LCM-Lab/LOOMBench (LIBRA/)",
)
