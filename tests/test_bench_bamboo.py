"""BAMBOO's table, fixtures, prompts and scorers, on the real loader, templates and tokenizer."""

from __future__ import annotations

import json

import pytest

from harness.benchmarks import BENCHMARKS, CAPABILITY
from harness.benchmarks.bamboo import dataset_of, prepare_sample
from harness.metrics import ALL_METRICS, REGISTRY, is_corpus, score
from harness.metrics.bamboo import (
    bamboo_altqa_acc,
    bamboo_concordance,
    bamboo_hallu_acc,
    bamboo_pred_acc,
    bamboo_qa_acc,
    hallu_f1,
)
from harness.scoring import score_sample, suite_scores, task_scores
from loomcore.records import Record
from loomcore.specs import ModelRef, Suite
from loomcore.taskspec import Dataset, Generation, Prompt, TaskSpec, Truncation
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["bamboo"]
TASKS = {t.id: t for t in BENCH.tasks}
DATASETS = ("meetingqa", "paperqa", "altqa", "senhallu", "abshallu", "meetingpred", "showspred", "reportsumsort",
            "showssort")
HALLU = ("bamboo_hallu_f1", "bamboo_hallu_acc")
METRIC = {"meetingqa": ("bamboo_qa_acc",), "paperqa": ("bamboo_qa_acc",), "altqa": ("bamboo_altqa_acc",),
          "senhallu": HALLU, "abshallu": HALLU, "meetingpred": ("bamboo_pred_acc",),
          "showspred": ("bamboo_pred_acc",), "reportsumsort": ("bamboo_concordance",),
          "showssort": ("bamboo_concordance",)}


def test_table_is_nine_datasets_at_two_levels_with_templates_and_registered_metrics():
    assert CAPABILITY["bamboo"] == BENCH.capability == "general"
    assert sorted(TASKS) == sorted(f"bamboo_{d}_{level}" for d in DATASETS for level in ("4k", "16k"))
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.metrics == METRIC[dataset_of(task.id)]
        assert task.max_new_tokens == 32
        assert task.dataset["data_files"] == f"datasets/{task.id.removeprefix('bamboo_')}.jsonl"
        assert task.dataset["revision"] is None  # no hub copy seen: never an invented pin


def test_templates_keep_the_official_prompt_text():
    text = template_text(TASKS["bamboo_senhallu_4k"])
    assert text.startswith("You are given an NLP paper and a hypothesis.")
    assert text.endswith('Hypothesis: ```{{ hypothesis }}```\nAnswer ("Yes." or "No."):\n')
    assert template_text(TASKS["bamboo_altqa_4k"]).startswith("{{ context }}\n\nYou should only give an number")


def load(task_id: str) -> list[dict]:
    task = TASKS[task_id]
    return [prepare_sample(s, task.id) for s in fixture_samples("bamboo", task)]


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_prepares_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = load(task_id)
    assert 2 <= len(samples) <= 3
    for sample in samples:
        assert len(sample["answers"]) == 1 and isinstance(sample["answers"][0], str)
        text = check_cut_prompt(task, sample, tok)
        if "hypothesis" in sample:
            assert f"Hypothesis: ```{sample['hypothesis']}```" in text
        if "question" in sample:
            assert f"Question: {sample['question']}\nOptions: {sample['options_text']}" in text


def test_prepare_numbers_paragraphs_events_and_options_as_loom_scope_does():
    shows = load("bamboo_showssort_4k")[0]
    assert shows["context"].startswith("[0] ```") and "\n[4] ```" in shows["context"]
    assert shows["answers"] == ["[2, 0, 1, 3, 4]"]
    report = load("bamboo_reportsumsort_4k")[0]
    assert report["events"].split("\n")[0] == "[1] ```The committee met.```"
    assert report["events"].split("\n")[4] == "[5] ```The bell question arose.```"
    qa = load("bamboo_meetingqa_4k")[0]
    assert qa["options_text"] == "A. the clerk\tB. the copper wire budget\tC. the fog bell\tD. the winch"
    assert [s["answers"] for s in load("bamboo_senhallu_16k")] == [["True"], ["False"]]
    for task_id in ("bamboo_showssort_16k", "bamboo_reportsumsort_4k", "bamboo_meetingqa_16k"):
        once = load(task_id)[1]
        assert prepare_sample(once, task_id) == once  # preparing twice changes nothing


def test_qa_reads_the_first_character_of_the_first_line():
    assert bamboo_qa_acc("B", ["B"]) == 1.0
    assert bamboo_qa_acc("  b. the copper wire\nA", ["B"]) == 1.0
    assert bamboo_qa_acc("[B]", ["B"]) == 0.0  # first character "[": upstream's "[B" test never fires
    assert bamboo_qa_acc("Answer: B", ["B"]) == 0.0  # read as A
    assert bamboo_qa_acc("Answer: B", ["A"]) == 1.0
    assert bamboo_qa_acc("", ["A"]) == 0.0  # upstream raises IndexError
    assert bamboo_qa_acc("E", ["E"]) == 0.0  # not a letter A-D: "F"


def test_exact_answers_ignore_case_outer_dots_and_whitespace():
    assert bamboo_altqa_acc(" 1964. ", ["1964"]) == 1.0
    assert bamboo_altqa_acc("1964\nbecause", ["1964"]) == 0.0  # altqa compares the whole output
    assert bamboo_pred_acc("janet finch-saunders am.\nShe said", ["Janet Finch-Saunders AM"]) == 1.0
    assert bamboo_pred_acc("Janet", ["Janet Finch-Saunders AM"]) == 0.0
    assert bamboo_pred_acc("", ["Diane"]) == 0.0
    assert bamboo_altqa_acc("1964", []) == 0.0


def test_hallucination_reads_yes_in_the_first_three_characters():
    assert bamboo_hallu_acc("Yes.", ["True"]) == 1.0
    assert bamboo_hallu_acc("  YES, it is", ["True"]) == 1.0
    assert bamboo_hallu_acc("No.", ["False"]) == 1.0
    assert bamboo_hallu_acc("The answer is yes", ["True"]) == 0.0  # "yes" not in "The"
    assert bamboo_hallu_acc("", ["False"]) == 1.0  # no yes: a no
    assert bamboo_hallu_acc("Yes", ["False"]) == 0.0


def test_concordance_index_by_hand():
    ref = [json.dumps([2, 0, 1, 3, 4])]
    assert bamboo_concordance("[2] > [0] > [1] > [3] > [4]", ref) == 1.0
    # reversed: none of the 10 ordered pairs agree
    assert bamboo_concordance("[4] > [3] > [1] > [0] > [2]", ref) == 0.0
    # [0] [2] [1] [3] [4]: pairs of the reference (2,0) (2,1) (0,1) fail/hold: (2,0) lost, (2,1) kept,
    # (0,1) kept, the 7 with 3 or 4 kept -> 9/10
    assert bamboo_concordance("[0] > [2] > [1] > [3] > [4]", ref) == pytest.approx(0.9)
    # four numbers for five: a format error, 0
    assert bamboo_concordance("[2] > [0] > [1] > [3]", ref) == 0.0
    assert bamboo_concordance("", ref) == 0.0
    # numbered from 1 (reportsumsort's events): lowered by one when the smallest is 1
    assert bamboo_concordance("[5] > [4] > [3] > [2] > [1]", [json.dumps([4, 3, 2, 1, 0])]) == 1.0
    # 3 1 2 4 5 -> 2 0 1 3 4
    assert bamboo_concordance("3, 1, 2, 4, 5", ref) == 1.0


def test_registry_scores_through_the_names():
    assert score("bamboo_concordance", "2 0 1 3 4", ["[2, 0, 1, 3, 4]"], {}) == 1.0
    assert score("bamboo_hallu_acc", "no", ["True"], {}) == 0.0


def test_hallucination_f1_is_a_task_level_metric_keeping_the_decision_per_sample():
    assert is_corpus("bamboo_hallu_f1") and not is_corpus("bamboo_hallu_acc")
    assert REGISTRY["bamboo_hallu_f1"].aggregate is hallu_f1
    # each record keeps its parsed decision (1.0: yes), whatever the reference
    assert score_sample(list(HALLU), "Yes.", ["False"]) == {"bamboo_hallu_f1": 1.0, "bamboo_hallu_acc": 0.0}
    assert score_sample(list(HALLU), "No", ["False"]) == {"bamboo_hallu_f1": 0.0, "bamboo_hallu_acc": 1.0}


def _f1(predictions: list[str], truths: list[str]) -> float:
    values = [score("bamboo_hallu_f1", p, [t], {}) for p, t in zip(predictions, truths)]
    return hallu_f1(values, [[t] for t in truths], [{}] * len(truths))


def test_hallucination_f1_by_hand_from_upstreams_definition():
    """sklearn ``f1_score(y_true, y_pred)`` (binary, positive True): 2 TP / (2 TP + FP + FN), 0 when 0/0."""
    # T T T T F against yes no no no yes: TP 1, FP 1, FN 3 -> 2/6 (precision 1/2, recall 1/4)
    assert _f1(["Yes.", "No.", "no", "", "yes"], ["True"] * 4 + ["False"]) == pytest.approx(1 / 3)
    # no True predicted while some are True: TP 0, FN 2 -> 0 (not accuracy's 1/3)
    assert _f1(["No.", "No.", "No."], ["True", "False", "True"]) == 0.0
    # every prediction True: T F F T -> TP 2, FP 2 -> 4/6 (precision 1/2, recall 1)
    assert _f1(["Yes"] * 4, ["True", "False", "False", "True"]) == pytest.approx(2 / 3)
    # empty predictions say no; no True anywhere: 0/0 -> 0 (sklearn's zero_division), though all are "right"
    assert _f1(["", ""], ["False", "False"]) == 0.0
    assert _f1(["", ""], ["True", "False"]) == 0.0
    # all right with a True: 1
    assert _f1(["Yes", "No"], ["True", "False"]) == 1.0
    # a record without a reference counts as a False one
    assert hallu_f1([1.0, 1.0], [["True"], []], [{}, {}]) == pytest.approx(2 / 3)


def _record(task: str, index: int, prediction: str | None, truth: str, metrics: tuple[str, ...],
            length: int | None = None, meta: dict | None = None) -> Record:
    scores = score_sample(list(metrics), prediction, [truth]) if prediction is not None else {}
    return Record(id=f"{task}-{index}", task=task, benchmark="bamboo", length=length, depth=None,
                  prompt_sha256=None, prompt_head=None, prompt_tail=None, input_tokens_before=10, input_tokens=10,
                  truncated=False, skipped=prediction is None, prediction=prediction, references=[truth],
                  output_tokens=1, finish_reason="stop", scores=scores, meta=meta or {})


def test_task_scores_use_the_aggregate_for_the_task_its_buckets_and_groups():
    cases = [("Yes.", "True", 4000, "a"), ("No.", "True", 4000, "a"), ("no", "True", 16000, "b"),
             ("", "True", 16000, "b"), ("yes", "False", 16000, "a"), (None, "True", 16000, "a")]  # last: skipped
    records = [_record("senhallu", i, p, t, HALLU, n, {"part": g}) for i, (p, t, n, g) in enumerate(cases)]
    out = task_scores(records, list(HALLU), ("part",))
    assert out["metric"] == "bamboo_hallu_f1" and out["n_skipped"] == 1 and out["n"] == 5
    assert out["score"] == pytest.approx(100 / 3)  # TP 1, FP 1, FN 3 over the 5 scored
    # jackknife, records in order TP FN FN FN FP: without the TP 0; without a FN (TP 1, FP 1, FN 2) or the FP
    # (TP 1, FN 3) 2/5 -> centre 8/25, se = sqrt(4/5 * ((8/25)^2 + 4 * (2/25)^2)) = sqrt(4/5 * 0.128) = 0.32
    assert out["stderr"] == pytest.approx(32.0)
    # 4000: yes/T, no/T -> TP 1, FN 1 -> 2/3; 16000: no/T, ""/T, yes/F -> 0
    assert {k: v["score"] for k, v in out["by_length"].items()} == pytest.approx({"4000": 200 / 3, "16000": 0.0})
    assert out["by_length"]["4000"]["stderr"] is not None and out["by_length"]["4000"]["n"] == 2
    groups = out["metrics"]["bamboo_hallu_f1"]["by_group"]["part"]
    # a: yes/T, no/T, yes/F -> TP 1, FN 1, FP 1 -> 1/2; b: no/T, ""/T -> 0
    assert {k: v["score"] for k, v in groups.items()} == pytest.approx({"a": 50.0, "b": 0.0})
    # the second metric stays the mean of per-sample accuracy: right are 1 of 5 -> 20
    acc = out["metrics"]["bamboo_hallu_acc"]
    assert acc["score"] == pytest.approx(20.0) and acc["stderr"] == pytest.approx(20.0)
    assert task_scores([], list(HALLU))["score"] is None
    assert task_scores(records[:1], list(HALLU))["stderr"] is None  # one record: no jackknife


def test_jackknife_of_two_records_by_hand():
    # T/yes, F/yes: F1 2/3; without either: 1 or 0 -> centre 1/2, se sqrt(1/2 * (1/4 + 1/4)) = 1/2
    out = task_scores([_record("t", 0, "Yes", "True", HALLU), _record("t", 1, "Yes", "False", HALLU)], list(HALLU))
    assert out["score"] == pytest.approx(200 / 3) and out["stderr"] == pytest.approx(50.0)


def _spec(task_id: str) -> TaskSpec:
    metrics = TASKS[task_id].metrics
    return TaskSpec(benchmark="bamboo", id=task_id, dataset=Dataset("local", path="d.jsonl"),
                    prompt=Prompt("{{ context }}", "0" * 64), truncation=Truncation("middle", 4096),
                    generation=Generation(32), metrics=metrics)


def test_suite_scores_report_the_hallucination_f1_as_the_task_score():
    hallu = [_record("bamboo_senhallu_4k", i, p, t, HALLU)
             for i, (p, t) in enumerate([("Yes", "True"), ("Yes", "False"), ("Yes", "False"), ("No", "True")])]
    altqa = [_record("bamboo_altqa_4k", i, p, "1964", ("bamboo_altqa_acc",)) for i, p in enumerate(["1964", "no"])]
    tasks = [_spec("bamboo_senhallu_4k"), _spec("bamboo_altqa_4k")]
    scores = suite_scores({"bamboo_senhallu_4k": hallu, "bamboo_altqa_4k": altqa}, tasks, "0" * 64,
                          Suite("s", "1"), ModelRef("m", "0" * 64))
    senhallu = scores.tasks["bamboo_senhallu_4k"]
    # TP 1, FP 2, FN 1 -> 2/5 = 40 (accuracy would be 1/4 = 25)
    assert senhallu.score == pytest.approx(40.0) and senhallu.metric == "bamboo_hallu_f1" and senhallu.n == 4
    assert scores.tasks["bamboo_altqa_4k"].score == 50.0
    # the benchmark weights task scores by samples: (40 * 4 + 50 * 2) / 6
    assert scores.benchmarks["bamboo"].score == pytest.approx(260 / 6, abs=1e-5)


def _run_dir(path, hallu_predictions: list[str]):
    from loomcore.rundir import SAMPLES, SCORES, write_json_atomic

    truths = ["True", "False"] * (len(hallu_predictions) // 2)
    records = {"bamboo_senhallu_4k": [_record("bamboo_senhallu_4k", i, p, t, HALLU)
                                      for i, (p, t) in enumerate(zip(hallu_predictions, truths))],
               "bamboo_altqa_4k": [_record("bamboo_altqa_4k", i, "1964", "1964", ("bamboo_altqa_acc",))
                                   for i in range(4)]}
    tasks = [_spec("bamboo_senhallu_4k"), _spec("bamboo_altqa_4k")]
    scores = suite_scores(records, tasks, "0" * 64, Suite("s", "1"), ModelRef("m", "0" * 64))
    (path / SAMPLES).mkdir(parents=True)
    write_json_atomic(path / SCORES, scores.to_json())
    for task, rows in records.items():
        (path / SAMPLES / f"{task}.jsonl").write_text("".join(r.to_line() for r in rows))
    return path


def test_the_gate_compares_a_task_level_metric_by_its_aggregates_not_its_per_sample_decisions(tmp_path):
    from loomctl.compare import compare, load_side

    golden = _run_dir(tmp_path / "golden", ["Yes", "No"] * 4)  # F1 100
    new = _run_dir(tmp_path / "new", ["Yes"] * 8)  # F1 2/3: every "no" turned "yes"
    assert "bamboo_senhallu_4k" not in load_side(golden).per_sample  # decisions are not scores to pair
    result = compare(new, golden)
    rows = {r["task"]: r for r in result["tasks"]}
    hallu = rows["bamboo_senhallu_4k"]
    assert hallu["golden"] == 100.0 and hallu["new"] == pytest.approx(200 / 3)
    assert hallu["test"].startswith("unpaired normal") and "task-level" in " ".join(hallu["notes"])
    assert rows["bamboo_altqa_4k"]["test"].startswith("exact McNemar")
    assert result["suite"]["n"] == 4  # the suite's paired test: altqa's pairs only
