"""LongSafety as LOOM-Scope runs it: 1,543 unsafe instructions over long contexts, each asked twice, judged.

Sources, read here:
- thu-coai/LongSafety at commit 130a6b739d43870e1010ec699ae4868da06d0a0e: ``src/gen_model_response.py``
  (each instance asked twice through the chat template: "Based on the following long context,
  {query}\\n\\n{context}" and "{context}\\n\\nBased on the long context above, {query}"; greedy, 2048
  new tokens), ``src/multi_agent_eval.py`` and ``src/show_result.py`` (the multi-agent judge and the
  safety rate, ``harness.metrics.longsafety``), ``data/longsafety_meta.jsonl`` + ``longsafety_docs.jsonl``.
- LOOM-Scope 0.8 ``benchmarks/Specialization/LongSafety``: one task ``longsafety`` whose rows carry the
  two prompts of an instance as two rows, an even ``id`` (instruction first) and the next odd one
  (instruction last): ``LongSafety.py`` picks the prompt by the id's parity (the template
  ``manifests/templates/longsafety/longsafety.j2`` does the same, text byte for byte), ``do_sample``
  False, ``max_tokens`` 2048; ``utils/evaluation/eval.py`` pairs the rows back and judges them with
  the same three agents and prompts as upstream (the judge model is its config's ``judge_model``;
  its README's example is gpt-4o-mini, upstream's default). Its total is the per-``safety_type``
  rates (rounded to 2 decimals) weighted by their instance counts (``ConstructResultTable2``), i.e.
  upstream's instance-level rate up to that rounding; its README reports 13.4 for
  Llama-3-8B-Instruct (the paper 11.12).
  Row fields used: ``id``, ``instruction``, ``context``, ``safety_type``.
- Data: LOOM-Scope downloads ``LongSafety/longsafety.jsonl`` from ModelScope LCM_group/LOOM_Data; its
  hub mirror is AmamiSora/LOOM_Data (see harness/benchmarks/libra.py). The file was not seen and no
  commit of that dataset could be seen here: ``revision`` is None (``loomctl pin --resolve`` pins it).

Not matched exactly:
- Upstream and LOOM-Scope judge with an API model (gpt-4o-mini, temperature 0); here the judge is
  the manifest's pinned ``judges.safety`` (``harness.judge_run``), so scores depend on that model.
- LOOM-Scope cuts the whole prompt (instruction included) in the middle when it exceeds the model's
  length; the harness cuts the context only, so the instruction always survives.
- The judge pass runs the Risk Analyzer and Environment Summarizer per response, not per instance
  (see ``harness.metrics.longsafety``); the instance-level safety rate (upstream's number, either
  response unsafe -> unsafe) is the task's judge ``details`` (``instances.safety_rate``, and per
  ``safety_type`` as LOOM-Scope's table); the judge metric ``longsafety_safety`` is the per-response
  rate.
- The registered metric ``answered`` (share of non-empty responses) is no upstream
  metric: a task needs one judge-free metric; the benchmark is ``judged_only``, so it counts
  in no benchmark, capability or suite mean of scores.json (its score is in judge_scores.json). LOOM-Scope's per-length table (``categorize_length``
  of the rows' ``LEN``) is not reproduced; records' ``length`` is the rows' ``length`` where present.
- ``samples`` is None (every row of the file).
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, Judged, TaskDef

REPO = "AmamiSora/LOOM_Data"

BENCHMARK = Benchmark(
    name="longsafety", title="LongSafety", capability="specialization",
    metrics=("answered",), judged_only=True,
    tasks=(
        TaskDef(
            id="longsafety",
            dataset={"source": "hub", "repo": REPO, "config": None, "split": "train",
                     "data_files": "LongSafety/longsafety.jsonl", "revision": None},
            template="longsafety/longsafety.j2", metrics=("answered",), max_new_tokens=2048,
            fields={"context": "context", "input": "instruction"}, chat_template=True, samples=None,
            group="LongSafety",
            notes="judged by an LLM (judges.safety); answered is no upstream metric; "
                  "revision not seen offline"),
    ),
    meta_fields=("instruction", "context", "safety_type"),
    judged=Judged(
        judge="safety", what="an LLM judge (upstream: gpt-4o-mini at temperature 0)",
        metrics=("longsafety_safety",), load="harness.judge_run:load_llm",
        judge_record="harness.metrics.longsafety:judge_record", details="harness.metrics.longsafety:pair_summary"),
    source="https://github.com/thu-coai/LongSafety/tree/130a6b739d43870e1010ec699ae4868da06d0a0e; "
           "data: LOOM-Scope's LongSafety/longsafety.jsonl (AmamiSora/LOOM_Data)",
)
