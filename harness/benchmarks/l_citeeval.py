"""L-CiteEval as LOOMBench runs it: 11 long-context tasks answered with citations, one-shot prompts.

Sources, read here:
- ZetangForward/L-CITEEVAL at commit 6e493267767adee12eee6e9e4492e3b585dc71c7: ``prompt/<task>_default.json``
  and ``script/inference_1shot_vllm.py`` (``make_demo``: the one demo with all its passages and its
  answer, ``demo_sep``, then the sample's passages, instruction and question, all in one user
  message through the chat template; ``max_gen_len`` 200 for the QA and dialogue tasks, 128 for niah
  and counting_stars, 800 otherwise), ``script/eval_correct.py`` and ``script/eval_citation.py``
  (``harness.metrics.l_citeeval``). Each prompt is ``manifests/templates/l_citeeval/<task>.j2``: the
  demo rendered by ``make_demo`` byte for byte, then the test part with ``{{ context }}`` (the
  passages, see ``prepare_sample``), ``{{ question }}`` and, for dialsim, ``{{ role }}``.
- LOOM-Scope 0.8 ``benchmarks/Faithfulness/L_CiteEval``: the same prompt files, data rows and scorers
  (LOOMBench's column is ``eval_correct``'s answer correctness; its citation evaluation is switched
  off there). Data rows (Jonaszky123/L-CiteEval's format): ``id``, ``question`` (absent or unused for
  summarisation and counting_stars), ``answer``, ``docs`` (the context in chunks), ``length``, and
  ``role`` for dialsim.
- Data: LOOMBench's copy, ``L_CiteEval/L-CiteEval-Data_<task>.jsonl`` in the hub dataset
  LCM-Lab/LOOMBench (ten of the eleven names seen in its folder listing, the listing cut before
  qmsum), pinned to d9d4f349551cd0fe8b25dc766612d35e4230e7cb, whose parent e55ecc0 is the last commit
  that changed that folder in the per-benchmark layout.

The context is built from ``docs`` (``prepare_sample``): the harness truncates one string field, so
the passages must be one string before the prompt is built. The runner applies ``prepare_sample``
after loading (``Benchmark.prepare``, applied by the runner).

Not matched exactly (also in the task notes where it applies):
- LOOM-Scope 0.8 sends a four-message chat (system instruction, the demo as a user/assistant turn,
  then the sample) and, because its task names carry the "L-CiteEval-Data_" prefix, gives every task
  800 new tokens; this table keeps L-CiteEval's own single-message prompt and budgets.
- narrativeqa gets 800 new tokens: upstream's list spells it "narrtiveqa", so the official script
  gives it the summarisation budget. Kept.
- Upstream stops at a newline only for models whose ``eos_token_id`` is a list; no stop here
  (LOOM-Scope sets none), the answer metrics read the first line anyway.
- ``samples`` is None (every row of LOOMBench's file, itself LOOMBench's selection).
- Citation recall/precision/F1 need the NLI judge ``tasksource/deberta-base-long-nli``
  (``judge_metrics``); niah and counting_stars also get upstream's judge-free citation F1.
"""

from __future__ import annotations

from typing import Any

from harness.benchmarks.base import Benchmark, Judged, TaskDef
from loomcore.errors import InputError

REPO = "LCM-Lab/LOOMBench"
REVISION = "d9d4f349551cd0fe8b25dc766612d35e4230e7cb"

SINGLE_DOC, MULTI_DOC, SUMMARIZATION = "Single-document QA", "Multi-document QA", "Summarization"
DIALOGUE, SYNTHETIC = "Dialogue understanding", "Synthetic"
PASSAGE, CONVERSATION = "Passage [{ID}]: {P}\n", "Conversation [{ID}]: {P}\n"
QA_FIELDS = {"input": "question", "answers": "answer"}
NO_QUESTION_FIELDS = {"answers": "answer"}

# name, L-CiteEval category, max_new_tokens (inference_1shot_vllm.py), metrics (eval_correct.py's
# first, then eval_citation.py's judge-free ones), doc_prompt, field mapping
TASKS = (
    ("narrativeqa", SINGLE_DOC, 800, ("l_citeeval_qa_f1",), PASSAGE, QA_FIELDS),
    ("natural_questions", SINGLE_DOC, 200, ("l_citeeval_qa_f1",), PASSAGE, QA_FIELDS),
    ("hotpotqa", MULTI_DOC, 200, ("l_citeeval_qa_f1",), PASSAGE, QA_FIELDS),
    ("2wikimultihopqa", MULTI_DOC, 200, ("l_citeeval_qa_f1",), PASSAGE, QA_FIELDS),
    ("gov_report", SUMMARIZATION, 800, ("l_citeeval_rouge_l",), PASSAGE, NO_QUESTION_FIELDS),
    ("multi_news", SUMMARIZATION, 800, ("l_citeeval_rouge_l",), PASSAGE, NO_QUESTION_FIELDS),
    ("qmsum", SUMMARIZATION, 800, ("l_citeeval_rouge_l",), PASSAGE, QA_FIELDS),
    ("locomo", DIALOGUE, 200, ("l_citeeval_qa_f1",), CONVERSATION, QA_FIELDS),
    ("dialsim", DIALOGUE, 200, ("l_citeeval_qa_f1",), CONVERSATION, QA_FIELDS),
    ("niah", SYNTHETIC, 128, ("l_citeeval_niah_rouge1_recall", "l_citeeval_niah_citation_f1"), PASSAGE, QA_FIELDS),
    ("counting_stars", SYNTHETIC, 128,
     ("l_citeeval_counting_stars_accuracy", "l_citeeval_counting_stars_citation_f1"), PASSAGE, NO_QUESTION_FIELDS),
)
NOTES = {
    "narrativeqa": "800 new tokens: upstream's budget list misspells narrativeqa",
    "qmsum": "file name inferred (LOOMBench's folder listing was cut before it)",
}


def task_id(name: str) -> str:
    """Suite-wide unique task id (LongBench and LEval reuse names such as narrativeqa)."""
    return f"l_citeeval_{name}"


DOC_PROMPTS = {task_id(row[0]): row[4] for row in TASKS}


def format_passage(doc: str | dict[str, Any], index: int, doc_prompt: str) -> str:
    """Upstream ``make_doc_prompt``: one passage in its doc prompt, numbered from 1 (a dict passage
    loses a leading copy of its title)."""
    if isinstance(doc, dict):
        text = doc["text"].strip("\n")
        title = doc.get("title")
        if title is not None and text[:len(title) + 1] == title + "\n":
            text = text[len(title) + 1:]
    else:
        text = doc
    return doc_prompt.replace("{P}", text).replace("{ID}", str(index + 1))


def prepare_sample(sample: dict[str, Any], task: str) -> dict[str, Any]:
    """The sample with ``context``: its ``docs`` in the task's doc prompt, concatenated (the ``{D}``
    of upstream's prompt)."""
    docs = sample.get("docs")
    if not isinstance(docs, list):
        raise InputError(f"{task}/dataset: sample {sample.get('id')!r} has no 'docs' list — L-CiteEval rows "
                         "carry their context as docs")
    doc_prompt = DOC_PROMPTS.get(task, PASSAGE)
    return {**sample, "context": "".join(format_passage(doc, i, doc_prompt) for i, doc in enumerate(docs))}


def _task(name: str, group: str, max_new_tokens: int, metrics: tuple[str, ...], doc_prompt: str,
          fields: dict[str, str]) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                 "data_files": f"L_CiteEval/L-CiteEval-Data_{name}.jsonl", "revision": REVISION},
        template=f"l_citeeval/{name}.j2", metrics=metrics, max_new_tokens=max_new_tokens,
        fields=dict(fields), chat_template=True, samples=None, group=group, notes=NOTES.get(name, ""))


BENCHMARK = Benchmark(
    name="l_citeeval", title="L-CiteEval", capability="faithfulness",
    metrics=tuple(sorted({m for row in TASKS for m in row[3]})),
    tasks=tuple(_task(*row) for row in TASKS),
    meta_fields=("docs",),
    # niah and counting_stars get upstream's judge-free citation F1 instead (eval_citation.py).
    judged=Judged(
        judge="nli", what="an NLI classifier (upstream: tasksource/deberta-base-long-nli)",
        metrics=("l_citeeval_citation_recall", "l_citeeval_citation_precision", "l_citeeval_citation_f1"),
        load="harness.judge_run:load_nli", judge_record="harness.judge_run:judge_citations",
        not_for=(task_id("niah"), task_id("counting_stars"))),
    prepare=prepare_sample,
    source="https://github.com/ZetangForward/L-CITEEVAL/tree/6e493267767adee12eee6e9e4492e3b585dc71c7; "
           "data: https://huggingface.co/datasets/LCM-Lab/LOOMBench (L_CiteEval/)",
)
