"""LongCite's LongBench-Cite: long-context QA answered with sentence-level citations, judged by an LLM.

Not in LOOM-Scope 0.8; built from upstream. Sources, read here:
- THUDM/LongCite ``LongBench-Cite/`` at commit d7d772e39fb15357749f54a2fe1e2dce77df5255:
  ``pred_one_shot.py`` (how a model without citation training is asked: the context split into
  sentences numbered ``<C{i}>``, ``one_shot_prompt.txt`` with ``<<context>>`` and ``<<question>>``, one
  user message, 1024 new tokens at temperature 1), ``eval_correct.py`` (correctness),
  ``eval_cite.py`` + ``auto_scorer.py`` (citation recall, precision, F1), all re-implemented in
  ``harness.metrics.longcite``. The prompt is ``manifests/templates/longcite/longbench_cite.j2``
  (text byte for byte; ``<<context>>``/``<<question>>`` became ``{{ context }}``/``{{ input }}``, plus
  one final newline that Jinja drops).
- Rows (``LongBench-Cite.json``, as ``pred_one_shot.py`` reads them): ``idx``, ``dataset``
  (longbench-chat, multifieldqa_en, multifieldqa_zh, hotpotqa, dureader, gov_report), ``query``,
  ``answer`` (a list), ``few_shot_scores`` (longbench-chat's scored example answers), ``context``.
  ``dataset`` is a sub-split (``group_fields``); upstream reports each dataset and the mean over
  all but multifieldqa_en/zh (which only count through their union, "multifieldqa").
- Data: upstream ships the file in the GitHub repository only (absent from the stored snapshot, not
  seen here). The hub path is LOOM-Scope's layout on its data mirror AmamiSora/LOOM_Data
  (``LongCite/LongBench-Cite.json``), which a later LOOM-Scope reads; not seen: ``revision`` None
  (``loomctl pin --resolve`` pins it or fails loudly).

The numbered context is built by ``prepare_sample`` (``Benchmark.prepare``): the sample's
``context`` becomes the ``<C{i}>`` passage that the harness may cut in the middle, and ``document``
keeps the original text, from which the judge pass recovers the cited sentences.

Not matched exactly:
- Upstream splits sentences with NLTK's untrained Punkt, which is no dependency here; see
  ``harness.metrics.longcite.split_sentences`` for the stand-in (same on plain prose, not on
  every abbreviation or initial).
- Upstream samples the answer at temperature 1; the table has no temperature, so greedy decoding
  (the harness default) is used unless a manifest sets ``generation.temperature`` 1 (and a seed).
- Correctness and citation scores need an LLM judge (``judges.cite``; upstream gpt-4o-2024-05-13);
  the judge's settings differ per call upstream (see ``harness.metrics.longcite``), here they are
  the judge's one setting. The judge metrics are means over samples; upstream's report (per dataset,
  then the mean over datasets) is the task's judge ``details`` (``harness.metrics.longcite.dataset_summary``).
- A rating outside upstream's scale (e.g. "[[7]]" for a 1-3 rating) gives upstream's arithmetic,
  which can exceed 1, as upstream.
- The registered metric ``answered`` (share of non-empty answers) is no upstream metric: a
  task needs one judge-free metric; the benchmark is ``judged_only``, so it counts
  in no benchmark, capability or suite mean of scores.json (its score is in judge_scores.json). Upstream's ``cnt_citation_len.py`` (mean citation length in
  GLM-4 tokens) is not reproduced.
- ``samples`` is None (every row).
"""

from __future__ import annotations

from typing import Any

from harness.benchmarks.base import Benchmark, Judged, TaskDef
from harness.metrics.longcite import citation_scores, correctness_score, numbered_context
from loomcore.errors import InputError

REPO = "AmamiSora/LOOM_Data"
DATASETS = ("longbench-chat", "multifieldqa_en", "multifieldqa_zh", "hotpotqa", "dureader", "gov_report")
JUDGE_METRICS = ("longcite_correctness", "longcite_citation_recall", "longcite_citation_precision",
                 "longcite_citation_f1")


def prepare_sample(sample: dict[str, Any], task: str) -> dict[str, Any]:
    """The sample with its context numbered by sentence (``context``) and the original (``document``)."""
    context = sample.get("context")
    if not isinstance(context, str):
        raise InputError(f"{task}/dataset: sample {sample.get('id')!r} has no text 'context' — LongBench-Cite rows "
                         "carry the document as context")
    return {**sample, "document": context, "context": numbered_context(context)}


def judge_record(record, judge) -> dict[str, Any]:
    """A judge pass row for one answer: correctness and citation recall/precision/F1
    (``harness.judge_run``); the record keeps ``query``, ``dataset``, ``few_shot_scores`` and ``document``."""
    meta = record.meta
    if not isinstance(meta.get("document"), str) or not isinstance(meta.get("query"), str):
        raise InputError(f"samples/{record.task}.jsonl: record {record.id} has no meta.document/meta.query — the "
                         "citation judge needs them; re-run the task with this harness (records keep them)")
    session = judge.session(record.id)
    scores = {"longcite_correctness": correctness_score(
        str(meta.get("dataset")), meta["query"], record.prediction, record.references,
        list(meta.get("few_shot_scores") or []), session)}
    cited = citation_scores(meta["query"], record.prediction, meta["document"], session)
    if cited is not None:
        scores.update({f"longcite_citation_{k}": v for k, v in cited.items()})
    return {"scores": scores, "dataset": meta.get("dataset"), "replies": session.replies,
            "judge_calls": session.calls}


BENCHMARK = Benchmark(
    name="longcite", title="LongCite (LongBench-Cite)", capability="faithfulness",
    metrics=("answered",), judged_only=True,
    tasks=(
        TaskDef(
            id="longcite_longbench_cite",
            dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                     "data_files": "LongCite/LongBench-Cite.json", "revision": None},
            template="longcite/longbench_cite.j2", metrics=("answered",), max_new_tokens=1024,
            fields={"id": "idx", "context": "context", "input": "query", "answers": "answer"},
            chat_template=True, samples=None, group="LongBench-Cite",
            notes="judged by an LLM (judges.cite); upstream samples at temperature 1; answered is no "
                  "upstream metric; hub file and revision not seen offline"),
    ),
    meta_fields=("dataset", "query", "few_shot_scores", "document"),
    group_fields=("dataset",),
    judged=Judged(
        judge="cite", what="an LLM judge (upstream: gpt-4o-2024-05-13)", metrics=JUDGE_METRICS,
        load="harness.judge_run:load_llm", judge_record="harness.benchmarks.longcite:judge_record",
        details="harness.metrics.longcite:dataset_summary"),
    prepare=prepare_sample,
    source="https://github.com/THUDM/LongCite/tree/d7d772e39fb15357749f54a2fe1e2dce77df5255/LongBench-Cite; "
           "data: LongBench-Cite.json (AmamiSora/LOOM_Data LongCite/, not seen)",
)
