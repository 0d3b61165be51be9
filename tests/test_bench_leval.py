"""LEval's table, fixtures, prompts and scorers (exam, F1, ROUGE), on the real loader, templates and tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.metrics.leval import (
    choice_exam,
    code_exam,
    exam,
    exam_score,
    math_exam,
    multichoice_exam,
    option_prediction,
    rouge_l_f1,
)
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples

BENCH = BENCHMARKS["leval"]
TASKS = {t.id: t for t in BENCH.tasks}
CLOSED = ("coursera", "quality", "tpo", "topic_retrieval_longchat", "gsm100", "codeU")


def test_table_groups_templates_and_registered_metrics():
    assert len(TASKS) == 19 and "leval_sci_fi" not in TASKS  # sci_fi needs a second generation
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.max_new_tokens == 512 and task.chat_template
        assert task.group == ("Closed-ended" if task.id.removeprefix("leval_") in CLOSED else "Open-ended")
    assert TASKS["leval_gov_report_summ"].metrics[0] == "leval_rouge_l"
    assert TASKS["leval_narrative_qa"].metrics == ("qa_f1",)


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("leval", task)
    assert 2 <= len(samples) <= 3
    for sample in samples:
        text = check_cut_prompt(task, sample, tok)
        assert sample["question"] in text
        assert isinstance(sample["answers"], str)


def test_open_ended_prompt_states_the_reference_length(tok):
    task = TASKS["leval_narrative_qa"]
    sample = fixture_samples("leval", task)[0]  # reference "Tomas, who sails the mail boat." has 6 words
    assert check_cut_prompt(task, sample, tok).endswith(
        "Instruction: Who is Marta's brother? The suggested output length is around 6 words. Output: ")


def test_option_answers_single_and_multiple():
    assert choice_exam("C", ["C"]) == 1.0
    assert choice_exam("The answer is C.", ["C"]) == 1.0  # first capital A-D is C
    assert choice_exam("Based on the text, C", ["C"]) == 0.0  # the B of "Based" is read first
    assert choice_exam("", ["C"]) == 0.0  # "None"
    assert multichoice_exam("AB", ["AB"]) == 1.0
    assert multichoice_exam("A", ["AB"]) == 0.25  # a correct subset of the options
    # capitals followed by a space or '.': " A", " B" -> "AB"
    assert multichoice_exam("The correct options are A and B.", ["AB"]) == 1.0
    # "I" is the only capital before a break (" B," and a final " D" are not): no A-D, so the
    # first run of A-D letters, "B", a subset of AB
    assert option_prediction("I choose B, D", multiple=True) == "B"
    assert multichoice_exam("I choose B, D", ["AB"]) == 0.25


def test_math_answers_compare_final_numbers():
    ref = "She climbs 90 * 4 = 360 steps. The answer is 360"
    assert math_exam("So 360 steps. The answer is 360.", [ref]) == 1.0  # "360." -> "360"
    assert math_exam("I think about 1,440 steps", [ref]) == 0.0  # last word with a digit -> "1440"
    assert math_exam("", [ref]) == 0.0  # "" is no float and does not contain "360"


def test_code_output_and_topic_retrieval_are_containment():
    # "The output will be:\n11\n1" -> "The output : 11 1" -> its last 2 + 3 words; "111" is in it
    assert code_exam("The output will be:\n11\n1", ["11 1"]) == 1.0
    assert code_exam("11 2", ["11 1"]) == 0.0
    assert exam("The first topic was Lighthouse Keeping.", ["lighthouse keeping"]) == 1.0
    assert exam("", ["lighthouse keeping"]) == 0.0
    assert exam_score("12.0", "12") == 1.0  # numbers compare as floats


def test_rouge_on_rouge_score_tokens():
    pred = "The keeper records the weather."
    ref = "A lighthouse keeper records the weather each evening."
    # tokens [the keeper records the weather] (5) and [a lighthouse keeper records the weather each
    # evening] (8). ROUGE-1: overlap 4, P 4/5, R 4/8 -> 8/13. ROUGE-2: overlap 3 (keeper records,
    # records the, the weather), P 3/4, R 3/7 -> 6/11. ROUGE-L: LCS 4 -> 8/13.
    assert score("leval_rouge1", pred, [ref], {}) == pytest.approx(8 / 13)
    assert score("leval_rouge2", pred, [ref], {}) == pytest.approx(6 / 11)
    assert rouge_l_f1(pred, [ref]) == pytest.approx(8 / 13)
    assert rouge_l_f1(pred, ["unrelated words", ref]) == pytest.approx(8 / 13)  # best reference
    assert rouge_l_f1("", [ref]) == 0.0
    assert rouge_l_f1("灯塔看守人", ["灯塔看守人"]) == 0.0  # the tokenizer keeps a-z0-9 only: no tokens


def test_f1_tasks_use_the_squad_f1():
    # "Tomas, who sails the mail boat." vs "Tomas": tokens [tomas who sails mail boat] and [tomas]
    assert score("qa_f1", "Tomas", ["Tomas, who sails the mail boat."], {}) == pytest.approx(2 * 1 * 0.2 / 1.2)
