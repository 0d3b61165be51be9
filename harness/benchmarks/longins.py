"""LongIns: the GIST and LIST exams at the six lengths LOOM-Scope reports, with the official prompts,
LOOM-Scope's answer budget and the official F1 over the wrongly answered question numbers.

Sources, read here:
- Ins-Bench/LongIns-Bench at commit cf8c59b8ed12c6bb2f0b0c6d77125f32be6d3513: ``config/GIST.yaml`` and
  ``config/LIST.yaml`` (the instruction texts, byte for byte as YAML loads them), ``infer/data_loader.py``
  (how they wrap the row's ``task_prompt`` and ``Data``), ``eval.py`` (the scorer,
  ``harness.metrics.longins``) and ``README.md`` (the three settings GIST, LIST, LIMT; the lengths
  256 ... 16384 of its leaderboard).
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Reasoning/LongIns``): ``LongIns.py`` builds the same
  prompt from the same YAML files (``process_data``: GIST for the task named GIST, LIST's prompt for any
  other), truncates the middle of the whole prompt, generates up to 1000 tokens greedily
  (``LLM_param``), and names its tasks ``<GIST|LIST>_<length>``; ``utils/evaluation/eval.py`` scores as
  upstream's ``eval.py`` and reports each task's mean x100 rounded to 2 places. Its ``README.md`` gives
  ``["GIST", "LIST"]`` as the task names and reports lengths 256 to 8192.
  Each prompt is ``manifests/templates/longins/<GIST|LIST>.j2`` (``{raw_input["task_prompt"]}`` and
  ``{raw_input["Data"]}`` became ``{{ task_prompt }}`` and ``{{ context }}``, plus one final newline
  that Jinja drops).
- Data: LOOM-Scope downloads ``LongIns/<task>.jsonl`` from its data repository (ModelScope
  LCM_group/LOOM_Data); its Hugging Face copy is AmamiSora/LOOM_Data, where ``LongIns/GIST_1024.jsonl``
  was seen (the other names follow LOOM-Scope's download code and were not each seen; no 40-hex commit
  was visible, so ``revision`` is None, an open pin for ``loomctl pin --resolve``). Rows carry
  ``task_prompt`` (GIST), ``Data`` (the numbered question-answer pairs, each in brackets) and ``error``
  (the numbers of the wrongly answered questions, a list of integers); there is no id field, so samples
  are numbered in file order.
- Groups: the setting (GIST, LIST).

Not matched exactly:
- Task selection: LOOM-Scope's configuration file (``configs/LongIns.yaml``) is not in the 0.8 wheel; the
  tasks here are the two task names of its README at the six lengths its README reports (256-8192).
  Upstream's leaderboard also has 16384, and upstream's third setting, LIMT, is not run by LOOM-Scope
  (it would get LIST's prompt there); neither is a task here.
- The GIST prompt keeps LOOM-Scope's layout: its continuation lines are indented by 32 spaces where
  upstream's ``data_loader.py`` indents them by 36 (LIST: 24 spaces in both).
- ``samples`` is None (every row of the file); LOOM-Scope's per-task counts were not visible offline.
- Truncation cuts the middle of ``Data`` (the context) and keeps the instructions and ``task_prompt``
  whole; LOOM-Scope cuts the middle of the whole prompt's tokens (the same region while ``Data`` dominates).
- The chat template is applied (LOOM-Scope's default); upstream's model wrapper is per model.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

REPO = "AmamiSora/LOOM_Data"
REVISION = None  # no 40-hex commit seen offline
MODES = ("GIST", "LIST")
LENGTHS = ("256", "512", "1024", "2048", "4096", "8192")
MAX_NEW_TOKENS = 1000  # LongIns.py LLM_param max_tokens
METRIC = "longins_f1"
SEEN_FILES = ("GIST_1024",)


def task_id(mode: str, length: str) -> str:
    """Suite-wide unique task id (LOOM-Scope's task name, prefixed)."""
    return f"longins_{mode}_{length}"


def _task(mode: str, length: str) -> TaskDef:
    return TaskDef(
        id=task_id(mode, length),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"LongIns/{mode}_{length}.jsonl", "revision": REVISION},
        template=f"longins/{mode}.j2", metrics=(METRIC,), max_new_tokens=MAX_NEW_TOKENS,
        fields={"context": "Data", "answers": "error"}, chat_template=True, samples=None, group=mode,
        notes="" if f"{mode}_{length}" in SEEN_FILES else "data file named after LOOM-Scope's download code, not seen")


BENCHMARK = Benchmark(
    name="longins", title="LongIns", capability="reasoning",
    metrics=(METRIC,),
    tasks=tuple(_task(mode, length) for mode in MODES for length in LENGTHS),
    length_field=None,
    source="https://github.com/Ins-Bench/LongIns-Bench/tree/cf8c59b8ed12c6bb2f0b0c6d77125f32be6d3513; "
           "data: https://huggingface.co/datasets/AmamiSora/LOOM_Data (LongIns/)",
)
