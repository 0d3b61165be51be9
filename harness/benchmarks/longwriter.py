"""LongWriter as LOOMBench runs it: LongBench-Write's 120 writing requests, scored by the length score S_l.

Sources, read here:
- THUDM/LongWriter ``evaluation/`` at commit ca6ccd4dec16696d1b8c449b12901c88d4cbf442:
  ``longbench_write.jsonl`` (120 rows: ``prompt``, ``type``, ``length`` = required words),
  ``pred.py`` (the prompt is the request itself, 32768 new tokens, sampling at temperature 0.5),
  ``eval_length.py`` (S_l) and ``eval_quality.py`` + ``judge.txt`` (S_q with a judge model).
- LOOM-Scope 0.8 ``benchmarks/Generation/LongWriter``: the same prompt, ``max_tokens`` 32768,
  temperature 0.5 with sampling, S_l always and S_q only with an OpenAI key. Its README reports
  Llama-3.1-8B-Instruct length 46.4, and LOOMBench's LongWriter column for Llama-3.1-8B is 45.96: the
  LOOMBench column is S_l, the default metric here. S_q is ``judge_metrics`` (needs a judge model).
- Data: LOOMBench's copy in the hub dataset LCM-Lab/LOOMBench, folder ``LongWriter/`` (seen in its
  tree); the file name ``longbench_write.jsonl`` is LOOM-Scope's task name and was not itself seen
  (``loomctl pin`` fails loudly if it is missing). Pinned to d9d4f349551cd0fe8b25dc766612d35e4230e7cb
  (see harness/benchmarks/babilong.py).

Not matched exactly:
- Upstream samples at temperature 0.5; the task table has no temperature, so a manifest that wants
  upstream's setting must set ``generation.temperature`` 0.5 (and a seed) for this task; greedy
  decoding is the harness default.
- The request is the whole prompt, so it is also the ``context`` field; with a budget above the
  32768 reserved answer tokens nothing is ever cut.
- Records keep the request (the row's ``prompt``) in ``meta``: the quality judge reads it
  (``harness.judge_run``), as upstream's ``eval_quality.py`` reads the prediction file's ``prompt``.
- Records' ``length`` is the required output length (the row's own field), so scores.json's
  ``by_length`` groups by required length here, not by context length.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, Judged, TaskDef

REPO = "LCM-Lab/LOOMBench"
REVISION = "d9d4f349551cd0fe8b25dc766612d35e4230e7cb"

BENCHMARK = Benchmark(
    name="longwriter", title="LongWriter", capability="generation",
    metrics=("longwriter_length_score",),
    tasks=(
        TaskDef(
            id="longwriter_longbench_write",
            dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                     "data_files": "LongWriter/longbench_write.jsonl", "revision": REVISION},
            template="longwriter/longbench_write.j2", metrics=("longwriter_length_score",),
            max_new_tokens=32768, fields={"context": "prompt"}, chat_template=True, samples=None,
            group="LongBench-Write",
            notes="upstream samples at temperature 0.5; file name inferred from LOOM-Scope's task name"),
    ),
    meta_fields=("length", "prompt"),
    judged=Judged(
        judge="quality", what="an LLM judge (upstream: gpt-4o-2024-05-13 at temperature 0.5)",
        metrics=("longwriter_quality",), load="harness.judge_run:load_llm",
        judge_record="harness.judge_run:judge_quality", details="harness.judge_run:quality_dimensions"),
    source="https://github.com/THUDM/LongWriter/tree/ca6ccd4dec16696d1b8c449b12901c88d4cbf442/evaluation; "
           "data: https://huggingface.co/datasets/LCM-Lab/LOOMBench (LongWriter/)",
)
