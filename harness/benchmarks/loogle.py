"""LooGLE: its long-dependency QA, short-dependency QA and long-dependency summarisation tasks, with
the official prompts and answer budgets and the automatic metrics LOOM-Scope reports
(``harness.metrics.loogle``).

Sources, read here:
- bigai-nlco/LooGLE at commit 6734382215bea3a63f055ffd7873b2967b6a2477: ``config/task2prompt.json``
  (``manifests/templates/loogle/<task>.j2``: shortdep_qa, longdep_qa, and longdep_summarization as
  ``summarization.j2``; the text kept byte for byte, ``{input}`` -> ``{{ context }}``, ``{Q}`` ->
  ``{{ question }}``, plus one final newline that Jinja drops), ``config/task2maxlen.json``
  (``max_new_tokens``: 300, 500, 500), ``Prediction/pred_opensource_models.py`` (greedy, the middle
  of the whole prompt cut to ``max_length``), ``Evaluation/automatic_*.py`` (the metrics).
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/LooGLE/LooGLE.py`` and its README): the
  task names (``longdep_qa``, ``summarization``; shortdep_qa is upstream's other QA set), one question
  per row with the fields it reads (``context``, ``question``, empty for summarization, ``answer``),
  the prompt and budget by task name, and the scorer (BLEU-1/4, ROUGE-1/2/L recall, METEOR,
  BERTScore x100 per sample, mean per task).
- Data: the hub dataset bigai-nlco/LooGLE, one config per task, split ``test`` (upstream's scripts load
  it as ``bigainlco/LooGLE``, its former name); its dataset card was not visible here, so the row
  fields are those LOOM-Scope reads and no revision is pinned (``loomctl pin --resolve`` where the
  hub is reachable). The fixtures follow that layout.
- Groups: long dependency (longdep_qa, summarization) and short dependency (shortdep_qa), LooGLE's
  own split.

The task score (the first metric) is ROUGE-L recall; BLEU-1, BLEU-4, ROUGE-1 and ROUGE-2 are reported
beside it.

Not matched exactly:
- METEOR and BERTScore are not computed (see ``harness.metrics.loogle``): no nltk/WordNet, no
  bert_score or roberta-large here. LOOM-Scope's overall LooGLE number averages all seven metrics, so
  it cannot be reproduced; this benchmark's score is the sample-weighted mean of the tasks' ROUGE-L.
- shortdep_cloze (upstream's fourth set, scored by exact match of the masked entities) is not in
  LOOM-Scope's LooGLE and not here.
- Generation: upstream and LOOM-Scope decode greedily with ``repetition_penalty=2.0``; the manifest's
  greedy decoding has no repetition penalty. The chat template is applied (LOOM-Scope's default);
  upstream sends the raw prompt.
- The middle of the context is cut here, where upstream and LOOM-Scope cut the middle of the whole
  tokenised prompt (the question and instruction always survive here).
- LOOMBench's sample counts were not visible: ``samples`` is None (every row).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

REPO = "bigai-nlco/LooGLE"
REVISION = None  # the hub was not reachable here: never an invented pin
METRICS = ("loogle_rouge_l", "loogle_bleu1", "loogle_bleu4", "loogle_rouge1", "loogle_rouge2")
LONG, SHORT = "long dependency", "short dependency"
QA_FIELDS = {"context": "context", "question": "question", "answers": "answer"}

# task (LOOM-Scope's name, also the hub config), group, max_new_tokens (task2maxlen.json), fields.
TASKS = (
    ("longdep_qa", LONG, 500, QA_FIELDS),
    ("shortdep_qa", SHORT, 300, QA_FIELDS),
    ("summarization", LONG, 500, {"context": "context", "answers": "answer"}),
)


def task_id(name: str) -> str:
    """Suite-wide unique task id."""
    return f"loogle_{name}"


def _task(name: str, group: str, max_new_tokens: int, fields: dict[str, str]) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "hub", "repo": REPO, "config": name, "split": "test", "revision": REVISION},
        template=f"loogle/{name}.j2", metrics=METRICS, max_new_tokens=max_new_tokens,
        fields=dict(fields), chat_template=True, samples=None, group=group)


BENCHMARK = Benchmark(
    name="loogle", title="LooGLE", capability="general",
    metrics=METRICS,
    tasks=tuple(_task(*row) for row in TASKS),
    length_field=None,
    source="https://github.com/bigai-nlco/LooGLE/tree/6734382215bea3a63f055ffd7873b2967b6a2477; "
           "data: https://huggingface.co/datasets/bigai-nlco/LooGLE",
)
