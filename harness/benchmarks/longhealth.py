"""LongHealth (clinical multiple choice over long discharge letters): LOOM-Scope's three tasks, built from
LongHealth's patient file by the ``longhealth`` generator, with the official prompts and scorer.

Sources, read here:
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Specialization/LongHealth``): ``LongHealth.py``
  (``download_data`` builds task1, task2, task3 from ``LongHealth.json``; the prompt is the user message
  after ``SYSTEM_PROMPT`` as the system message; ``max_tokens`` 512), ``utils/tools.py``
  (``SYSTEM_PROMPT``, ``PROMPT_TEMPLATE`` and ``create_prompt``, which LOOM-Scope says come from
  kbressem/LongHealth; ``manifests/templates/longhealth/longhealth.j2`` is ``PROMPT_TEMPLATE`` byte
  for byte, ``{documents}``/``{question_text}``/``{options}`` became ``{{ context }}``/``{{ question }}``/
  ``{{ options }}``, plus one final newline that Jinja drops) and ``utils/evaluation/eval.py``
  (``harness.metrics.longhealth``; the task score is the accuracy x100). The GitHub repository
  kbressem/LongHealth could not be read here (no snapshot): its commit is not cited.
- Data: LongHealth's patient file (20 patients x 20 questions; LOOM-Scope downloads it from ModelScope
  ``LCM_group/LOOM_Data``, ``LongHealth/LongHealth.json``; upstream ships ``data/benchmark_v5.json``),
  which the user places at ``haystacks/LongHealth/benchmark_v5.json`` beside the manifest; it could not
  be seen here, so ``haystack_sha256`` is open (``loomctl pin`` writes it). Rows are made by
  ``harness.data.synthetic.longhealth``: task1 5 per question, task2 and task3 5 each (2000 each).

Not matched exactly:
- LOOM-Scope draws distractors and shuffles letters with an unseeded ``random``: its rows differ
  from run to run; here they are fixed by the task's seed.
- ``prompt_max_len``: LOOM-Scope's value is in its ``configs/LongHealth.yaml``, not in the wheel; 16000
  is ``create_prompt``'s default (the paper's 16k-token setting). The letters are packed to it with the
  evaluated model's tokenizer (as LOOM-Scope: the tokenizer of ``model_path``).
- LOOM-Scope then cuts the middle of the user prompt at the model's window; here the middle of the
  letters (the question and options stay whole) — with the 16000 packing, only below a 16k window.
- ``SYSTEM_PROMPT`` is the manifest's ``prompt.system``, sent through the model's chat template; a model
  without one (the test model tiny-loom) gets the user prompt alone.
- Decoding follows the run's engine settings (LOOM-Scope passes only ``max_tokens``: its engine's
  default sampling).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef
from harness.data.synthetic.longhealth import SYSTEM_PROMPT

PATIENTS = "haystacks/LongHealth/benchmark_v5.json"
# what download_data puts in each task's prompts
TASKS = (
    ("task1", "the patient's own letters, answer letters first; options A-E"),
    ("task2", "the answer letters and 10 letters of other patients; options A-F"),
    ("task3", "10 letters of other patients only; the answer is F (cannot be answered)"),
)


def _task(name: str, what: str, seed: int) -> TaskDef:
    return TaskDef(
        id=f"longhealth_{name}",
        dataset={"source": "generator", "generator": "longhealth", "generator_version": "1", "seed": seed,
                 "params": {"task": name, "prompt_max_len": 16000, "haystack_path": PATIENTS,
                            "haystack_sha256": None}},
        template="longhealth/longhealth.j2", metrics=("longhealth_accuracy",), max_new_tokens=512,
        chat_template=True, samples=2000, group=name, notes=what, system=SYSTEM_PROMPT)


BENCHMARK = Benchmark(
    name="longhealth", title="LongHealth", capability="specialization",
    metrics=("longhealth_accuracy",),
    tasks=tuple(_task(name, what, seed) for seed, (name, what) in enumerate(TASKS, start=1)),
    length_field=None,
    source="LOOM-Scope 0.8 benchmarks/Specialization/LongHealth (from kbressem/LongHealth); "
           "data: LongHealth's benchmark_v5.json, supplied by the user",
)
