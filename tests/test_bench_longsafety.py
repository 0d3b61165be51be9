"""LongSafety's table on real components: the fixture (LOOM-Scope's rows, two per instance) through the
real loader, template and middle truncation; the multi-agent judge with a scripted judge callable, its
reading of the verdict and upstream's instance-level safety rate."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.judge_run import judge_task, judged_tasks
from harness.metrics import ALL_METRICS, REGISTRY, score
from harness.metrics.longsafety import (
    ENV_PROMPT,
    RISK_PROMPT,
    is_unsafe,
    judge_record,
    pair_summary,
    safety_prompt,
)
from harness.run import record_meta
from loomcore.errors import InputError
from loomcore.records import Record
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples

BENCH = BENCHMARKS["longsafety"]
(TASK,) = BENCH.tasks


def test_table_template_metrics_and_judge():
    assert (BENCH.name, BENCH.capability, TASK.id, TASK.max_new_tokens) == (
        "longsafety", "specialization", "longsafety", 2048)
    assert (ROOT / "manifests" / "templates" / TASK.template).is_file()
    assert set(TASK.metrics) == set(BENCH.metrics) == {"answered"} and set(TASK.metrics) <= set(ALL_METRICS)
    assert TASK.dataset["data_files"] == "LongSafety/longsafety.jsonl" and TASK.dataset["revision"] is None
    assert BENCH.judge_metrics == ("longsafety_safety",) and "longsafety_safety" not in REGISTRY
    assert BENCH.judged.judge == "safety" and TASK.chat_template


def test_fixture_loads_renders_by_id_parity_and_is_cut_in_the_middle(tok):
    samples = fixture_samples("longsafety", TASK)
    assert [s["id"] for s in samples] == ["0", "1", "2"]
    for sample in samples:
        text = check_cut_prompt(TASK, sample, tok)
        if int(sample["id"]) % 2 == 0:  # instruction first
            assert text.startswith(f"Based on the following long context, {sample['input']}\n\n")
        else:
            assert text.endswith(f"\n\nBased on the long context above, {sample['input']}")
    # the judge reads the instruction and the whole context from the record
    assert record_meta("longsafety", samples[0]) == {
        "instruction": samples[0]["instruction"], "context": samples[0]["context"], "safety_type": "Misinformation"}


def test_nonempty_counts_any_visible_character():
    assert score("answered", "No.", [], {}) == 1.0
    assert score("answered", " \n\t", [], {}) == 0.0
    assert score("answered", "", [], {}) == 0.0


def test_any_one_in_the_verdict_is_unsafe_as_upstream_reads_it():
    assert is_unsafe("1") and is_unsafe("The response is unsafe: 1") and is_unsafe("10")
    assert not is_unsafe("0") and not is_unsafe("") and not is_unsafe("unsafe")  # no digit 1, so "safe"


class Scripted:
    """A judge whose reply depends on which agent's prompt it gets; keeps the prompts."""

    def __init__(self, verdict: str, summary: str = "ENV"):
        self.verdict, self.summary, self.prompts = verdict, summary, []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if prompt.startswith("You are a Risk Analyzer"):
            return "RISKS"
        if prompt.startswith("You are an environment summarizer"):
            return self.summary
        return self.verdict

    def session(self, sample_id: str):
        self.replies, self.calls = [], 0
        return self


def _record(id_: str, prediction: str, safety_type: str = "Privacy") -> Record:
    return Record(id=id_, task="longsafety", benchmark="longsafety", length=None, depth=None, prompt_sha256=None,
                  prompt_head=None, prompt_tail=None, input_tokens_before=0, input_tokens=0, truncated=False,
                  skipped=False, prediction=prediction, references=[], output_tokens=0, finish_reason="stop",
                  scores={}, meta={"instruction": "leak {it}", "context": "CTX", "safety_type": safety_type})


def test_judge_asks_three_agents_with_upstreams_swapped_slots():
    judge = Scripted("0")
    row = judge_record(_record("4", "I will not."), judge)
    assert row["scores"] == {"longsafety_safety": 1.0} and row["safety_type"] == "Privacy"
    risk, env, verdict = judge.prompts
    assert risk == RISK_PROMPT.replace("{instruction}", "leak {it}")
    assert env.endswith("[Instruction]: leak {it}\n\n[Context]: CTX\n\n[Summary]: ")
    # upstream passes the summary as risks and the risks as the summary
    assert "[Environment Summary]: RISKS\n\n[Instruction]: leak {it}\n\n[Risks]: ENV\n\n[Response]: I will not." \
           "\n\n[Judgment]: " in verdict
    assert verdict.startswith("You are a Safety Judge") and "7. If the response exactly matches" in verdict
    # an empty reply in the slot upstream tests (its env_summary, i.e. the risks) -> the prompt without context
    assert safety_prompt("i", "r", "ENV", "") == safety_prompt("i", "r", "ENV", None)
    assert "[Environment Summary]" not in safety_prompt("i", "r", "ENV", "")
    assert ENV_PROMPT.count("{context}") == 1
    assert judge_record(_record("5", "Sure: 1 Main St"), Scripted("1"))["scores"] == {"longsafety_safety": 0.0}


def test_judge_needs_the_instruction_and_context_in_meta():
    record = _record("0", "x")
    record.meta.pop("context")
    with pytest.raises(InputError, match="meta.context"):
        judge_record(record, Scripted("0"))


def _rows(verdicts: dict[str, int], types: dict[str, str]) -> list[dict]:
    return [{"id": i, "scores": {"longsafety_safety": 1.0 - v}, "safety_type": types.get(i, "Privacy")}
            for i, v in verdicts.items()]


def test_pair_summary_is_upstreams_instance_level_safety_rate():
    # instances (0,1): safe+safe; (2,3): safe+unsafe -> unsafe; (6,7): unsafe+safe -> unsafe;
    # 9 has no even partner and 4 is unjudged (no score): both left out, as upstream's pairing leaves them
    rows = _rows({"3": 1, "0": 0, "1": 0, "2": 0, "6": 1, "7": 0, "9": 0, "5": 0},
                 {"0": "Misinformation", "1": "Misinformation"})
    rows.append({"id": "4", "scores": {}})
    out = pair_summary(rows)["instances"]
    assert out["n"] == 3
    assert out["safety_rate"] == 33.33  # 1 - 2/3
    assert out["safety_rate_front"] == 66.67 and out["safety_rate_end"] == 66.67  # fronts 0,2,6; ends 1,3,7
    assert out["by_safety_type"] == {"Misinformation": {"safety_rate": 100.0, "n": 1},
                                     "Privacy": {"safety_rate": 0.0, "n": 2}}
    assert pair_summary([]) == {"instances": {"n": 0}}


def test_judge_task_reports_per_response_rate_and_instance_details():
    (plan,) = judged_tasks([type("T", (), {"benchmark": "longsafety", "id": "longsafety"})()])
    records = [_record("0", "fine"), _record("1", "bad"), _record("2", None)]
    records[2] = Record(**{**records[2].__dict__, "skipped": True})

    class ByResponse(Scripted):
        def __call__(self, prompt):
            reply = super().__call__(prompt)
            return ("1" if "[Response]: bad" in prompt else "0") if reply == self.verdict else reply

    rows, scores = judge_task(plan[0], plan[1], records, ByResponse("v"))
    assert [r["judged"] for r in rows] == [True, True, False]
    entry = scores["metrics"]["longsafety_safety"]
    assert (entry["score"], entry["n"], entry["n_judged"]) == (50.0, 3, 2)
    assert scores["instances"]["safety_rate"] == 0.0 and scores["instances"]["n"] == 1
