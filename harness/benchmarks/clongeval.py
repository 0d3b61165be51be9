"""CLongEval (Chinese long-context benchmark): its seven tasks at the small, medium and large sizes, with
the official prompts, generation budgets and scorers.

Sources, read here:
- zexuanqiu/CLongEval at commit 81ba789bdbf83b88579c0a0ae780fa04090899cd: ``config/dataset2prompt.json``
  (each ``manifests/templates/clongeval/<task>.j2``, the text kept byte for byte, the first ``{}``
  became ``{{ context }}`` and the second ``{{ input }}`` (the row's ``query``), plus one final
  newline that Jinja drops), ``config/dataset2maxlen.json`` (``max_new_tokens``),
  ``config/dataset2path.json`` (the files ``<n-n_task>/<size>.jsonl``), ``inference.py`` (the prompt is
  filled with ``context`` and ``query``, or ``context`` alone where ``query`` is empty: tasks 2-1, 3-1,
  3-2; vLLM's stop strings), ``eval.py`` and ``metrics.py`` (``harness.metrics.clongeval``).
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Specialization/CLongEval``): the same seven tasks
  (``task_mapping``: LStQA, LCvMem, LStSum, StNLab, StTDet, KpRet, TblQry) at sizes S, M, L, the same
  budgets (``get_params``) and stop strings, and a copy of upstream's ``metrics.py``; its task scores
  pool the three sizes of a task (here: the task's group).
- Data: the hub dataset zexuanqiu22/CLongEval, which upstream's README names; its tree at commit
  8a1696670b4a84364bef5f83d97b025f720a7916 lists the seven ``<n-n_task>`` folders (the three files
  of ``1-1_long_story_qa`` seen there, the others' seen at its next commit, which only deleted a stray
  top-level ``small.jsonl``). Rows: ``id``, ``query`` (empty for 2-1, 3-1, 3-2), ``context``,
  ``answer`` (a string).

Not matched exactly:
- Data: LOOM-Scope downloads its copy from ModelScope (``LCM_group/LOOM_Data``, ``CLongEval/``),
  not reachable here; the upstream hub files are used. ``samples`` is None (every row).
- LOOM-Scope cuts the middle of the whole tokenised prompt; here the middle of the context (the
  instruction and the question stay whole). Upstream does not truncate.
- The chat template is applied (LOOM-Scope's default); upstream sends the raw prompt to open models
  (vLLM ``generate``) and a chat message with a system prompt to API models.
- Decoding follows the run's engine settings; upstream samples at temperature 0.01.
- Upstream's stop list has ``"<|im_start|>, </s>"`` as one string (a missing quote); it is kept as it
  is, so ``</s>`` alone does not stop generation, as upstream.
- Scorer differences (a crash upstream, a score here) are listed in ``harness.metrics.clongeval``.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

REPO = "zexuanqiu22/CLongEval"
REVISION = "8a1696670b4a84364bef5f83d97b025f720a7916"
SIZES = ("small", "medium", "large")
STOP = ("<|im_end|>", "<|endoftext|>", "<|im_start|>, </s>")
FIELDS = {"context": "context", "input": "query", "answers": "answer", "id": "id"}

# upstream task name, its folder, LOOM-Scope's short name, max_new_tokens (dataset2maxlen.json), metric
TASKS = (
    ("long_story_qa", "1-1_long_story_qa", "LStQA", 100, "clongeval_qa_f1_zh"),
    ("long_conversation_memory", "1-2_long_conversation_memory", "LCvMem", 100, "clongeval_qa_f1_zh"),
    ("long_story_summarization", "2-1_long_story_summarization", "LStSum", 400, "clongeval_rouge_l_zh"),
    ("stacked_news_labeling", "3-1_stacked_news_labeling", "StNLab", 800, "clongeval_news_labeling"),
    ("stacked_typo_detection", "3-2_stacked_typo_detection", "StTDet", 800, "clongeval_typo_detection"),
    ("key_passage_retrieval", "4-1_key_passage_retrieval", "KpRet", 400, "clongeval_edit_score"),
    ("table_querying", "4-2_table_querying", "TblQry", 50, "clongeval_table_match"),
)


def task_id(name: str, size: str) -> str:
    """Suite-wide unique task id."""
    return f"clongeval_{name}_{size}"


def _task(name: str, folder: str, short: str, max_new_tokens: int, metric: str, size: str) -> TaskDef:
    return TaskDef(
        id=task_id(name, size),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"{folder}/{size}.jsonl", "revision": REVISION},
        template=f"clongeval/{name}.j2", metrics=(metric,), max_new_tokens=max_new_tokens,
        fields=dict(FIELDS), stop=STOP, chat_template=True, samples=None, group=name,
        notes=f"LOOM-Scope: {short}_{size[0].upper()}")


BENCHMARK = Benchmark(
    name="clongeval", title="CLongEval", capability="specialization",
    metrics=tuple(sorted({row[4] for row in TASKS})),
    tasks=tuple(_task(*row, size) for row in TASKS for size in SIZES),
    length_field=None,  # the rows carry no length; upstream's sizes are the tasks' own files
    source="https://github.com/zexuanqiu/CLongEval/tree/81ba789bdbf83b88579c0a0ae780fa04090899cd; "
           "data: https://huggingface.co/datasets/zexuanqiu22/CLongEval",
)
