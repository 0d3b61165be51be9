"""Ada-LEval: TSort (``textsort``) and BestAnswer (``stackselect``) at every length setting upstream
runs, with the official prompts, LOOM-Scope's answer budget and the official accuracy scorers.

Sources, read here:
- open-compass/Ada-LEval at commit 2154258d5fa3969ac5429b3132d505570ef8a57a: ``run.py`` (the settings:
  stackselect at 1k, 2k, 4k, 6k, 8k, 12k, 16k, 32k, 64k, 128k; textsort at 1k, 2k, 4k, 8k, 16k, 32k, 64k,
  128k; ``fetch_data.sh`` downloads the same files), ``ada_leval/dataset.py`` (``StackSelect`` and
  ``TextSort``: the BestAnswer prompt built from ``meta_prompt``, the question and the numbered answers,
  ``manifests/templates/ada_leval/stackselect.j2``; TSort's prompt is the row's own ``prompt``,
  ``manifests/templates/ada_leval/textsort.j2``; the sample counts, the first 1000 rows below 32k and the
  first 200 from 32k for open-source models; the ``evaluate`` methods, ``harness.metrics.ada_leval``)
  and ``README.md`` (the task names TSort and BestAnswer).
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Reasoning/Ada_LEval``): ``Ada_LEval.py`` builds the
  BestAnswer prompt the same way (its meta prompt is read from ``utils/prompt/stackselect.txt``, which
  the wheel lacks: upstream's ``meta_prompt`` is used) and sends TSort's ``prompt`` as it is, truncates
  the middle of the whole prompt, and generates up to 1024 tokens greedily (``LLM_param``); tasks are
  ``stackselect_<setting>`` / ``textsort_<setting>``.
- Data: LOOM-Scope downloads ``Ada_LEval/<task>.jsonl`` from its data repository (ModelScope
  LCM_group/LOOM_Data); its Hugging Face copy is AmamiSora/LOOM_Data, where
  ``Ada_LEval/stackselect_1k.jsonl`` was seen (the other names follow LOOM-Scope's download code and
  were not each seen; no 40-hex commit was visible, so ``revision`` is None, an open pin for
  ``loomctl pin --resolve``). Rows keep upstream's fields: BestAnswer ``question_id``, ``question``,
  ``all_answers`` (a list), ``answer`` ("A<k>"), ``tags``; TSort ``book_id``, ``para_offset``,
  ``prompt``, ``answer`` (the right order of the four segments). Samples are numbered in file order.
- The BestAnswer candidates are joined into one ``context`` (``prepare_sample``; "A<k>:\\n\\n<answer>\\n\\n"
  each, upstream's loop) so that truncation can cut them; the record keeps their number
  (``num_choice``) for the scorer.

Not matched exactly:
- Task selection: LOOM-Scope's configuration file (``configs/Ada_LEval.yaml``, ``lengths1`` /
  ``lengths2``) is not in the 0.8 wheel; the settings are upstream ``run.py``'s.
- ``samples`` is upstream's count for open-source models (the first 1000 rows below 32k, the first 200
  from 32k); LOOM-Scope's own counts were not visible offline (it evaluates every row of its file unless
  limited). A file with fewer rows is used whole.
- TSort's primary metric is LOOM-Scope's (``ada_leval_tsort_exact``: the whole list must equal the right
  order), which LOOM-Scope's numbers are made with; upstream's (an order matches when it agrees at every
  position both lists have, the paper's) is each TSort task's second metric (see ``harness.metrics.ada_leval``).
- Truncation: BestAnswer's middle cut falls in the candidates (the context) and keeps the meta prompt,
  question and closing request whole; LOOM-Scope cuts the middle of the whole prompt's tokens. TSort's
  whole prompt is the context, so there the cut is LOOM-Scope's.
- The chat template is applied (LOOM-Scope's default); upstream's model wrappers are per model.
"""

from __future__ import annotations

from typing import Any

from harness.benchmarks.base import Benchmark, TaskDef
from loomcore.errors import InputError

REPO = "AmamiSora/LOOM_Data"
REVISION = None  # no 40-hex commit seen offline
MAX_NEW_TOKENS = 1024  # Ada_LEval.py LLM_param max_tokens
BESTANSWER, TSORT = "BestAnswer", "TSort"
# upstream name -> (README task name, settings of run.py, template, metrics (the first primary), fields)
DATASETS = {
    "stackselect": (BESTANSWER, ("1k", "2k", "4k", "6k", "8k", "12k", "16k", "32k", "64k", "128k"),
                    "ada_leval/stackselect.j2", ("ada_leval_bestanswer_accuracy",),
                    {"input": "question", "answers": "answer"}),
    "textsort": (TSORT, ("1k", "2k", "4k", "8k", "16k", "32k", "64k", "128k"),
                 "ada_leval/textsort.j2", ("ada_leval_tsort_exact", "ada_leval_tsort_accuracy"),
                 {"context": "prompt", "answers": "answer"}),
}
SEEN_FILES = ("stackselect_1k",)


def task_id(dataset: str, setting: str) -> str:
    """Suite-wide unique task id (upstream's dataset name, prefixed)."""
    return f"ada_leval_{dataset}_{setting}"


def samples_for(setting: str) -> int:
    """Upstream ``StackSelect`` / ``TextSort`` in ``normal`` mode: 1000 rows below 32k, else 200."""
    return 1000 if int(setting[:-1]) < 32 else 200


def answers_context(all_answers: list[str]) -> str:
    """The candidates as upstream's ``build_prompt`` lists them, numbered from 1."""
    return "".join(f"A{j}:\n\n{answer}\n\n" for j, answer in enumerate(all_answers, start=1))


def prepare_sample(sample: dict[str, Any], task: str) -> dict[str, Any]:
    """A BestAnswer sample with ``context`` (its candidates) and ``num_choice``; TSort samples as they are."""
    if not task.startswith(task_id("stackselect", "")):
        return sample
    all_answers = sample.get("all_answers")
    if not isinstance(all_answers, list) or not all(isinstance(a, str) for a in all_answers):
        raise InputError(f"{task}/dataset: sample {sample.get('id')!r} has no 'all_answers' list of strings — "
                         "Ada-LEval's BestAnswer rows carry their candidates there")
    return {**sample, "context": answers_context(all_answers), "num_choice": len(all_answers)}


def _task(dataset: str, setting: str) -> TaskDef:
    name, _, template, metrics, fields = DATASETS[dataset]
    return TaskDef(
        id=task_id(dataset, setting),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"Ada_LEval/{dataset}_{setting}.jsonl", "revision": REVISION},
        template=template, metrics=metrics, max_new_tokens=MAX_NEW_TOKENS, fields=dict(fields),
        chat_template=True, samples=samples_for(setting), group=name,
        notes="" if f"{dataset}_{setting}" in SEEN_FILES else "data file named after LOOM-Scope's download code, not seen")


BENCHMARK = Benchmark(
    name="ada_leval", title="Ada-LEval", capability="reasoning",
    metrics=tuple(sorted(metric for row in DATASETS.values() for metric in row[3])),
    tasks=tuple(_task(dataset, setting) for dataset, row in DATASETS.items() for setting in row[1]),
    meta_fields=("num_choice",),
    length_field=None,
    prepare=prepare_sample,
    source="https://github.com/open-compass/Ada-LEval/tree/2154258d5fa3969ac5429b3132d505570ef8a57a; "
           "data: https://huggingface.co/datasets/AmamiSora/LOOM_Data (Ada_LEval/)",
)
