"""NThread (Needle Threading): retrieving needles and following threads of UUID key-value pairs through a
JSON haystack, in LOOM-Scope's five tasks, prompts, answer budget and score.

Sources, read here:
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Retrieve/NThread``): ``NThread.py`` (the prompt is
  the task's instruction, a newline, the haystack, a newline and the task's question with the row's
  ``keys``; 1000 new tokens, greedy; the whole prompt cut in the middle), ``utils/instruction.py`` (the
  five tasks' texts, each ``manifests/templates/nthread/<task>.j2`` byte for byte, typos such as
  "fina value" and "Keys:{key}" kept) and ``utils/evaluation/eval.py`` (the score: a single answer
  must be a substring of the stripped output, a list answer needs every element a substring;
  accuracy x100 per task, rounded to 2 places; ``harness.metrics.nthread``). Its README notes the
  paper's own metric is not published and LOOM-Scope's is its own.
- jonathan-roberts1/needle-threading at commit 006f8f57310cad9f84d5a8104c939abc86c96fa8 (README only:
  the dataset's fields ``haystack``, ``keys``, ``values``, ``needle_depth``, ``num_needles``,
  ``thread_length``, ``thread_direction``, ``num_threads`` and one example row, whose haystack is the
  ``json.dumps`` of a dict of UUIDs drawn as ``uuid.UUID(int=random.getrandbits(128))``). The paper is
  arXiv 2411.05000. The generator code is not published.

Data: LOOM-Scope reads the hub dataset jonathan-roberts1/needle-threading, which cannot be fetched
here. Every task is generated offline instead (generator ``nthread``, ``harness.data.synthetic.nthread``,
seed 42), measured in the evaluated model's tokens.

Not matched exactly:
- The data is our own construction after the paper's task descriptions, not the dataset's rows (not
  seen): its context lengths count characters and its grid of depths, needle counts, thread lengths,
  directions, conditional characters and repeats was not seen. Here: lengths 2k-128k tokens (7 levels);
  single_needle at 11 depths 0-100 %; 10 samples per length for the others, 4 needles, threads of 4
  pairs (2 threads in multi_threads), forward and backward threads alternating, the character ``*``
  (the one LOOM-Scope's prompt names) inserted at a random place in a conditional key.
- The format of the ``keys`` field for several keys was not seen; the query here is Python's list repr
  (LOOM-Scope evaluates the ``values`` field of those rows as a Python list, so the list repr is
  assumed for ``keys`` too).
- The haystack fills the length with the context alone (``reserve_tokens`` 0); the instruction and
  question come on top, and the run's budget cuts the whole prompt in the middle as LOOM-Scope does.
- LOOM-Scope's config file (``configs/NThread.yaml``: lengths, chat template use) is not in its PyPI
  package; the model's chat template is applied (LOOM-Scope's default unless a task is listed in
  ``no_template_tasks``).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

SEED = 42
GENERATOR_VERSION = "1"
LENGTHS = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
DEPTHS = tuple(i / 10 for i in range(11))
SAMPLES_PER_LENGTH = 10
NEW_TOKENS = 1000  # NThread.py LLM_param max_tokens
METRIC = "nthread_contains_all"

NEEDLES = "needles"
THREADS = "threads"
# (LOOM-Scope task, our task id, extra generator params, group)
TASK_ROWS = (
    ("Single_Needle", "single_needle", {"depths": list(DEPTHS)}, NEEDLES),
    ("Multiple_Needles", "multiple_needles", {"num_needles": 4}, NEEDLES),
    ("Conditional_Needles", "conditional_needles", {"num_needles": 4, "conditional_character": "*"}, NEEDLES),
    ("Single_Threads", "single_threads", {"thread_length": 4, "direction": "alternate"}, THREADS),
    ("Multi_Threads", "multi_threads", {"thread_length": 4, "num_threads": 2, "direction": "alternate"}, THREADS),
)


def _task(upstream: str, name: str, params: dict, group: str) -> TaskDef:
    per_length = len(DEPTHS) if name == "single_needle" else SAMPLES_PER_LENGTH
    spec_params = {"task": name, "lengths": list(LENGTHS), "reserve_tokens": 0, **params}
    if name != "single_needle":
        spec_params["samples_per_length"] = SAMPLES_PER_LENGTH
    return TaskDef(
        id=f"nthread_{name}",
        dataset={"source": "generator", "generator": "nthread", "generator_version": GENERATOR_VERSION,
                 "seed": SEED, "params": spec_params},
        template=f"nthread/{name}.j2",
        metrics=(METRIC,),
        max_new_tokens=NEW_TOKENS,
        samples=per_length * len(LENGTHS),
        group=group,
        notes=f"LOOM-Scope's {upstream}; generated offline (the hub rows cannot be fetched), own grid",
    )


TASKS = tuple(_task(*row) for row in TASK_ROWS)

BENCHMARK = Benchmark(
    name="nthread", title="NThread", capability="retrieval",
    metrics=(METRIC,),
    tasks=TASKS,
    meta_fields=(),
    source="LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/Retrieve/NThread; "
           "https://github.com/jonathan-roberts1/needle-threading (006f8f57310cad9f84d5a8104c939abc86c96fa8); "
           "arXiv 2411.05000",
)
