"""InfiniteBench's table, fixtures, prompts and official scorers, on the real loader, templates and tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.metrics.infinitebench import (
    choice_label,
    code_debug,
    code_run,
    first_integer,
    kv_retrieval,
    longbook_choice,
    longdialogue,
    math_find,
    qa_f1_zh_chars,
)
from harness.run import record_meta
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples

BENCH = BENCHMARKS["infinitebench"]
TASKS = {t.id: t for t in BENCH.tasks}


def test_table_is_the_ten_loombench_tasks_with_templates_and_registered_metrics():
    assert sorted(TASKS) == sorted(f"infinitebench_{n}" for n in (
        "passkey", "number_string", "kv_retrieval", "longbook_choice_eng", "longbook_qa_eng", "longbook_qa_chn",
        "longdialogue_qa_eng", "math_find", "code_run", "code_debug"))
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.dataset["revision"] is None or len(task.dataset["revision"]) == 40
    assert TASKS["infinitebench_passkey"].max_new_tokens == 6
    assert TASKS["infinitebench_math_find"].max_new_tokens == 3


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("infinitebench", task)
    assert 2 <= len(samples) <= 3
    for sample in samples:
        assert isinstance(sample["answers"], list) and sample["answers"]
        text = check_cut_prompt(task, sample, tok)
        if "{{ input }}" in (ROOT / "manifests" / "templates" / task.template).read_text():
            assert sample["input"] in text


def test_derived_prompt_fields_match_create_prompt(tok):
    math = fixture_samples("infinitebench", TASKS["infinitebench_math_find"])[0]
    text = check_cut_prompt(TASKS["infinitebench_math_find"], math, tok)
    # create_prompt: "The largest number of" -> lower()[:-3] -> "the largest number"
    assert text.startswith("What is the largest number in the following list?\n\n[")
    run = fixture_samples("infinitebench", TASKS["infinitebench_code_run"])[1]
    text = check_cut_prompt(TASKS["infinitebench_code_run"], run, tok)
    assert text.startswith("There is a function called func_10 in the following Python code.\n\n")
    assert text.endswith("Please compute the exact value of func_10(-7). The value of func_10(-7) is")


def test_first_integer_passkey_and_number_string():
    assert first_integer("The pass key is 71432. Remember it.", ["71432"]) == 1.0
    assert first_integer("It is 7143 2", ["71432"]) == 0.0  # first digit run is "7143"
    assert first_integer("", ["71432"]) == 0.0  # no digits: "" != "71432"
    assert first_integer("key: 071432", ["71432"]) == 0.0  # strings compared, leading zero counts


def test_kv_retrieval_words_after_separators():
    assert kv_retrieval('The value is "abc-123".', ["abc-123"]) == 1.0  # '"' and '.' become spaces
    assert kv_retrieval("abc-1234", ["abc-123"]) == 0.0
    assert kv_retrieval("", ["abc-123"]) == 0.0


def test_code_run_last_word_as_integer():
    assert code_run("The value of func_3(4) is 11.", ["11"]) == 1.0  # "." -> " ", last word "11"
    assert code_run("so the result is -4", ["-4"]) == 1.0
    assert code_run("11 is the answer", ["11"]) == 0.0  # last word "answer" is no integer
    assert code_run("", ["11"]) == 0.0


def test_math_find_first_number_by_answer_type():
    assert math_find("45", ["45"]) == 1.0
    assert math_find("It is 45.5", ["45"]) == 0.0  # int("45.5") fails: 0 (upstream raises)
    assert math_find("-100", ["-100"]) == 0.0  # the sign is never read: 100 != -100
    assert math_find("2.50 exactly", ["2.5"]) == 1.0  # decimal answer: float(2.50) == 2.5
    assert math_find("", ["45"]) == 0.0


def test_longbook_choice_reads_letters_in_free_text():
    meta = {"options": ["Eleven", "Ninety", "Twelve", "Forty"]}
    refs = ["Ninety"]
    assert choice_label(refs, meta["options"]) == ["Ninety", "B"]
    assert longbook_choice(" B", refs, meta) == 1.0
    assert longbook_choice("Ninety", refs, meta) == 1.0  # exact option text
    assert longbook_choice("the answer is: B", refs, meta) == 1.0  # text after "answer is:" starts with B
    assert longbook_choice("my pick is option B, Ninety", refs, meta) == 1.0  # first word found in "ABCD": B
    assert longbook_choice("Certainly, the answer is B", refs, meta) == 0.0  # first character C is read as C
    assert longbook_choice("", refs, meta) == 0.0
    assert longbook_choice("B", ["Ninety", "B"], {}) == 1.0  # a [text, letter] pair needs no options
    # an empty (or two-letter) second item is no letter: not a label that every text starts with
    assert choice_label(["Paris", ""], []) == ["Paris"]
    assert longbook_choice("the answer is: Z", ["Paris", ""], {}) == 0.0
    assert choice_label(["Paris", "AB"], []) == ["Paris"]


def test_code_debug_needs_a_prefix_or_letter_dot():
    meta = {"options": ["func_1", "func_5", "func_8", "func_11"]}
    refs = ["func_5"]
    assert code_debug("B. func_5", refs, meta) == 1.0  # starts with "B."
    assert code_debug("B", refs, meta) == 0.0  # a bare letter: no prefix, no "B." (upstream quirk)
    assert code_debug("The answer is: func_5", refs, meta) == 1.0  # function name after "answer is:"
    assert code_debug("I think it is: C", refs, meta) == 0.0  # "is:" then C
    assert code_debug("", refs, meta) == 0.0


def test_longdialogue_upper_cased_words():
    assert longdialogue("It's troy, obviously", ["TROY"]) == 1.0  # words IT S TROY OBVIOUSLY
    assert longdialogue("Troyer", ["TROY"]) == 0.0
    assert longdialogue("", ["TROY"]) == 0.0


def test_chinese_character_f1_and_multiple_references():
    assert qa_f1_zh_chars("十二年。", ["十二年"]) == 1.0  # "。" is punctuation
    # "大约十二年" vs "十二年": 3 shared characters, P = 3/5, R = 3/3, F1 = 2*0.6*1/1.6 = 0.75
    assert qa_f1_zh_chars("大约十二年", ["十二年"]) == pytest.approx(0.75)
    assert qa_f1_zh_chars("橘子", ["新鲜的橘子和旧报纸", "橘子"]) == 1.0  # the best reference
    assert qa_f1_zh_chars("", ["十二年"]) == 0.0
    # longbook_qa_eng is the registry's qa_f1: punctuation dropped, best of the references
    assert score("qa_f1", "Tomas!", ["her brother Tomas", "Tomas"], {}) == 1.0


def test_options_reach_the_choice_scorers_through_record_meta():
    for task_id, prediction in (("infinitebench_longbook_choice_eng", "B"), ("infinitebench_code_debug", "B.")):
        task = TASKS[task_id]
        sample = fixture_samples("infinitebench", task)[0]  # answers at option B in both fixtures
        meta = record_meta("infinitebench", sample)
        assert meta == {"options": sample["options"]}
        assert score(task.metrics[0], prediction, [str(a) for a in sample["answers"]], meta) == 1.0
        assert score(task.metrics[0], "D.", [str(a) for a in sample["answers"]], meta) == 0.0
