"""LongIns's table, fixtures, prompts and bracketed-number F1, on the real loader, templates and tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS, CAPABILITY
from harness.metrics import ALL_METRICS, score
from harness.metrics.longins import bracketed_numbers, longins_f1
from harness.prompts import render
from harness.run import record_meta
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["longins"]
TASKS = {t.id: t for t in BENCH.tasks}
LENGTHS = ("256", "512", "1024", "2048", "4096", "8192")
GIST_HEAD = ("You are an excellent grading teacher, and you will be given many completed questions. The requirements "
             "for these questions are as follows:\n")
LIST_TAIL = ("Additionally, ensure to output the question numbers in the specified standard format.Answer:")


def test_table_is_gist_and_list_at_six_lengths_with_templates_and_registered_metric():
    assert CAPABILITY["longins"] == BENCH.capability == "reasoning"
    assert sorted(TASKS) == sorted(f"longins_{m}_{n}" for m in ("GIST", "LIST") for n in LENGTHS)
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert task.metrics == ("longins_f1",) and "longins_f1" in ALL_METRICS
        assert task.dataset["repo"] == "AmamiSora/LOOM_Data" and task.dataset["revision"] is None
        assert task.dataset["data_files"] == f"LongIns/{task.id.removeprefix('longins_')}.jsonl"
        assert task.max_new_tokens == 1000 and task.group == task.id.split("_")[1]
        assert task.fields == {"context": "Data", "answers": "error"}
        assert task.template == f"longins/{task.group}.j2"


def test_templates_keep_loom_scope_layout_of_the_official_instructions():
    gist = render(template_text(TASKS["longins_GIST_256"]), {"task_prompt": "TASK", "context": "DATA"})
    lines = gist.split("\n")
    assert gist.startswith(GIST_HEAD) and len(lines) == 5
    assert lines[1] == " " * 32 + "TASK" and lines[3] == " " * 32 + "DATA"
    assert lines[2] == " " * 32 + ("Please identify all the questions that have been answered incorrectly according "
                                   "to the requirements.")
    assert lines[4].startswith(" " * 32 + "The above text contains a description of the task for this group")
    assert gist.endswith("in the specified standard format.Answer:")
    listed = render(template_text(TASKS["longins_LIST_256"]), {"context": "DATA"}).split("\n")
    assert len(listed) == 3 and listed[1] == " " * 24 + "DATA"
    assert listed[0].endswith("Please identify all the questions that have been answered incorrectly according to "
                              "the requirements.")
    assert listed[2].startswith(" " * 24 + "Each group [] contains the command, input, and output for the task.")
    assert listed[2].endswith(LIST_TAIL)


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("longins", task)
    assert 2 <= len(samples) <= 3
    assert [s["id"] for s in samples] == [f"{i:06d}" for i in range(len(samples))]  # no id field: file order
    for sample in samples:
        assert all(isinstance(e, int) for e in sample["answers"]) and sample["answers"]
        text = check_cut_prompt(task, sample, tok)
        assert text.endswith("standard format.Answer:")
        if task.group == "GIST":
            assert text.startswith(GIST_HEAD + " " * 32 + sample["task_prompt"] + "\n")


def test_numbers_count_only_inside_brackets():
    assert bracketed_numbers("The wrong ones are [3, 12] and also [Q7-8].") == {3, 12, 7, 8}
    assert bracketed_numbers("Questions 4 and 5 are wrong.") == set()
    assert bracketed_numbers("[]") == set()
    assert bracketed_numbers("[4,\n5]") == set()  # a bracket does not span a line break
    assert bracketed_numbers("[2] [2] [02]") == {2}


def test_f1_over_sets_from_the_official_definition():
    refs = ["3", "7", "12"]
    assert longins_f1("[3, 7, 12]", refs) == 1.0
    # pred {3, 7, 9}: tp 2, fp 1, fn 1 -> P = R = 2/3 -> F1 2/3
    assert longins_f1("Answer: [3, 7, 9]", refs) == pytest.approx(2 / 3)
    # pred {3}: P 1, R 1/3 -> F1 0.5; repeats count once
    assert longins_f1("[3] and again [3, 3]", refs) == pytest.approx(0.5)
    assert longins_f1("[4, 5]", refs) == 0.0
    assert longins_f1("", refs) == 0.0
    assert longins_f1("3, 7, 12", refs) == 0.0  # no brackets: nothing predicted
    assert longins_f1("[3]", []) == 0.0  # no wrong question in the row: always 0 upstream
    # scored through the registry from a fixture row's references, as a record carries them
    sample = fixture_samples("longins", TASKS["longins_LIST_512"])[0]
    refs = [str(a) for a in sample["answers"]]
    assert record_meta("longins", sample) == {}
    assert score("longins_f1", "[" + ", ".join(refs) + "]", refs, {}) == 1.0
    one = f"[{refs[0]}]"  # P 1, R 1/3 (three wrong per fixture row)
    assert score("longins_f1", one, refs, {}) == pytest.approx(0.5)
