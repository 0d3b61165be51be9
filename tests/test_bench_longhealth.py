"""LongHealth's table, its generator on a made-up patient file (same format as LongHealth's
benchmark_v5.json), the official prompt and the scorer, with the shipped tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.data.synthetic import GENERATORS, generate
from harness.data.synthetic.longhealth import PROMPT_TEMPLATE, SYSTEM_PROMPT, UNANSWERABLE
from harness.metrics import ALL_METRICS
from harness.metrics.longhealth import longhealth_accuracy
from loomcore.errors import InputError
from loomcore.hashing import sha256_text
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, template_text

BENCH = BENCHMARKS["longhealth"]
TASKS = {t.id: t for t in BENCH.tasks}
PATIENTS = ROOT / "tests" / "data" / "loombench" / "haystacks" / "LongHealth" / "benchmark_v5.json"
PIN = sha256_text(PATIENTS.read_text(encoding="utf-8"))


def _rows(task: str, seed: int = 1, max_len: int = 16000, tok=None):
    params = {"task": task, "prompt_max_len": max_len, "haystack_path": str(PATIENTS), "haystack_sha256": PIN}
    return generate("longhealth", "1", seed, params, tok)


def test_table_is_three_generated_tasks_with_the_official_prompt():
    assert sorted(TASKS) == ["longhealth_task1", "longhealth_task2", "longhealth_task3"]
    assert BENCH.capability == "specialization" and "longhealth" in GENERATORS
    for task in BENCH.tasks:
        assert task.dataset["generator"] == "longhealth" and task.dataset["params"]["task"] == task.group
        assert task.max_new_tokens == 512 and task.system == SYSTEM_PROMPT
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS)
        assert (ROOT / "manifests" / "templates" / task.template).is_file()
    text = template_text(BENCH.tasks[0])
    assert text == PROMPT_TEMPLATE.replace("{documents}", "{{ context }}").replace(
        "{question_text}", "{{ question }}").replace("{options}", "{{ options }}") + "\n"
    assert SYSTEM_PROMPT.startswith("\nYou are a highly skilled and detail-oriented assistant")
    assert "'The correct answer is C: Acute bronchitis.'\n" in text


def test_task1_five_rows_per_question_from_the_patients_own_letters(tok):
    rows = _rows("task1", tok=tok)
    assert len(rows) == 3 * 2 * 5  # patients x questions x 5
    first = rows[0]
    assert first["answers"] == ["Drug P101"] and first["question"] == "Which drug did patient P1 receive on day 1?"
    assert first["options"] == "A: Drug P101\nB: Aspirin\nC: Heparin\nD: Insulin\nE: Warfarin"
    letters = first["context"].split("\n\n--------------\n\n")
    assert len(letters) == 3 and all(letter.startswith("Discharge letter") for letter in letters)
    assert all("patient P1 " in letter for letter in letters)  # the patient's own letters only


def test_task2_and_task3_draw_other_patients_letters(tok):
    task2, task3 = _rows("task2", tok=tok), _rows("task3", tok=tok)
    assert len(task2) == len(task3) == 3 * 2 * 5
    row = task2[0]
    assert row["answers"] == ["Drug P101"] and row["options"].endswith("\nF: " + UNANSWERABLE)
    letters = row["context"].split("\n\n--------------\n\n")
    # the answer letter (text_0 of P1) and min(10, 6) letters of the other two patients
    assert sum("Discharge letter 0 of patient P1." in x for x in letters) == 1 and len(letters) == 7
    for row in task3:
        assert row["answers"] == [UNANSWERABLE]
        letters = row["context"].split("\n\n--------------\n\n")
        patient = row["question"].split()[4]
        assert len(letters) == 6 and not any(f"patient {patient}." in x for x in letters)


def test_rows_are_fixed_by_the_seed(tok):
    assert _rows("task2", seed=1, tok=tok) == _rows("task2", seed=1, tok=tok)
    assert [r["context"] for r in _rows("task2", seed=1, tok=tok)] != [r["context"] for r in _rows("task2", seed=2, tok=tok)]


def test_packing_cuts_the_letter_that_does_not_fit_and_stops(tok):
    # budget: the system prompt, the template, question and options, and 200 tokens more: the answer
    # letter is cut to those 200 tokens, and the next letter to nothing (an empty letter), as create_prompt does
    fixed = len(tok.encode(PROMPT_TEMPLATE)) + len(tok.encode(SYSTEM_PROMPT))
    row = _rows("task1", max_len=10**6, tok=tok)[0]
    fixed += len(tok.encode(row["question"])) + len(tok.encode(row["options"]))
    row = _rows("task1", max_len=fixed + 200, tok=tok)[0]
    letters = row["context"].split("\n\n--------------\n\n")
    assert sorted(len(x) > 0 for x in letters) == [False, True]
    answer_letter = [x for x in _rows("task1", max_len=10**6, tok=tok)[0]["context"].split("\n\n--------------\n\n")
                     if x.startswith("Discharge letter 0 of patient P1.")][0]
    assert next(x for x in letters if x) == tok.decode(tok.encode(answer_letter)[:200])


def test_open_or_wrong_pin_is_refused(tok):
    params = {"task": "task1", "haystack_path": str(PATIENTS), "haystack_sha256": None}
    with pytest.raises(InputError, match="haystack_sha256: open pin"):
        generate("longhealth", "1", 1, params, tok)
    with pytest.raises(InputError, match="task"):
        generate("longhealth", "1", 1, {**params, "haystack_sha256": PIN, "task": "task4"}, tok)


def test_generated_row_renders_and_is_cut_in_the_middle(tok):
    task = TASKS["longhealth_task2"]
    row = _rows("task2", tok=tok)[3]
    text = check_cut_prompt(task, row, tok)
    assert text.endswith(row["options"] + "\n\nPlease answer using the following format:\n" + text.split(
        "Please answer using the following format:\n")[1])
    assert row["question"] + "\n" + row["options"] in text


def test_accuracy_is_the_correct_text_inside_the_response():
    assert longhealth_accuracy("The correct answer is A: Drug P101.", ["Drug P101"]) == 1.0
    assert longhealth_accuracy("The correct answer is A.", ["Drug P101"]) == 0.0  # the letter alone is not enough
    assert longhealth_accuracy("the correct answer is a: drug p101", ["Drug P101"]) == 0.0  # case-sensitive
    assert longhealth_accuracy("F: Question cannot be answered with provided documents", [UNANSWERABLE]) == 1.0
    assert longhealth_accuracy("", ["Drug P101"]) == 0.0
