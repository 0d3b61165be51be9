"""NoLiMa's table, generator (on a made-up book and needle set, pinned), prompt and score, on the real
generator, template, middle truncation and tokenizer."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from harness.benchmarks import BENCHMARKS
from harness.data import synthetic
from harness.data.synthetic.nolima import needle_tests
from harness.metrics import ALL_METRICS, score
from harness.metrics.nolima import nolima_contains
from harness.prompts import PromptBuilder, render
from loomcore.errors import InputError
from loomcore.hashing import sha256_text
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, template_text

BENCH = BENCHMARKS["nolima"]
TASK = BENCH.tasks[0]
CHARS = ["Yuki", "Stuart", "Katie"]
# made up in NoLiMa's needle-set layout; also the --fixtures stand-in for NoLiMa's (tests/data/loombench/haystacks)
NEEDLE_SET = json.loads((ROOT / "tests/data/loombench/haystacks/NoLiMa/needlesets/needle_set.json").read_text())
assert NEEDLE_SET[0]["character_set"] == CHARS


def book_text() -> str:
    words = ["river", "lantern", "orchard", "meadow", "harbour", "window", "garden", "letter"]
    lines = [f"Line {i}: the {words[i % 8]} and the {words[(3 * i) % 8]} were quiet that evening." for i in range(400)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def inputs(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(book_text(), encoding="utf-8")
    needles = tmp_path / "needle_set.json"
    needles.write_text(json.dumps(NEEDLE_SET), encoding="utf-8")
    params = copy.deepcopy(TASK.dataset["params"])
    params.update(lengths=[250, 500], depth_intervals=3, haystack_path=str(book),
                  haystack_sha256=sha256_text(book_text()), needle_set_path=str(needles),
                  needle_set_sha256=sha256_text(json.dumps(NEEDLE_SET)))
    return params


def generate(params, tok):
    return synthetic.generate("nolima", synthetic.generator_version("nolima"), 42, params, tok)


def test_table_is_the_official_needle_set_run_with_open_pins():
    assert BENCH.capability == "retrieval" and [t.id for t in BENCH.tasks] == ["nolima_needle_set"]
    assert (ROOT / "manifests" / "templates" / TASK.template).is_file()
    assert set(TASK.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS)
    assert TASK.max_new_tokens == 192
    params = TASK.dataset["params"]
    assert params["lengths"] == [250, 500, 1000, 2000, 4000, 8000, 16000, 32000]
    assert params["depth_intervals"] == 26 and params["base_seed"] == 42
    assert params["haystack_sha256"] is None and params["needle_set_sha256"] is None  # not seen: never invented
    assert synthetic.param_problems("nolima", params) == []


def test_template_is_nolimas_default_task_template():
    text = render(template_text(TASK), {"context": "BOOK", "query": "Q?"})
    assert text == ("You will answer a question based on the following book snippet:\n\nBOOK\n\nUse the information "
                    "provided in the book snippet to answer the question. Your answer should be short and based on "
                    "either explicitly stated facts or strong, logical inferences.\n\nQuestion: Q?\n\n Return only "
                    "the final answer with no additional explanation or reasoning.")


def test_tests_questions_characters_and_answers(inputs, tok):
    samples = generate(inputs, tok)
    assert samples == generate(inputs, tok)
    assert len(samples) == 2 * 3 * 2  # 2 tests x 3 depths x 2 lengths
    assert len({s["id"] for s in samples}) == len(samples)
    char_rows = [s for s in samples if s["id"].startswith("0401_T05")]
    # np.random.seed(42 + 401 + 0), one choice per depth (the lengths share it)
    state = np.random.RandomState(443)
    chars = [str(state.choice(CHARS)) for _ in range(3)]
    assert [s["answers"] for s in char_rows] == [[c] for c in chars for _ in (250, 500)]
    for sample in char_rows:
        assert sample["needle"] == f"Actually, {sample['answers'][0]} lives next to the Semper Opera House."
        assert sample["query"] == "Which character has been to Dresden?"
        assert " " + sample["needle"] + "\n" in sample["context"]
    key_rows = [s for s in samples if s["id"].startswith("0302_T01")]
    # upstream replaces each mark in the original question: only the last ({2}) survives
    assert {s["query"] for s in key_rows} == {"Where is the key to the {1} hidden under the red stone?"}
    assert all(s["answers"] == ["red stone"] for s in key_rows)
    assert [s["depth"] for s in key_rows] == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]


def test_each_sample_carries_its_experiments_system_prompt_sent_when_not_empty(inputs, tok):
    """LOOM-Scope's process_data: a system message with the experiment's system_prompt when it is not empty,
    none otherwise (prompt.system_field); the table names the field, and no fixed system message."""
    assert TASK.system_field == "system_prompt" and TASK.system is None
    samples = generate(inputs, tok)
    assert {s["id"][:8]: s["system_prompt"] for s in samples} == {"0401_T05": "You are a helpful assistant",
                                                                   "0302_T01": ""}
    chat = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\n{% endfor %}<|assistant|>\n"
    build = PromptBuilder(template=template_text(TASK), tokenizer=tok, policy="middle", budget_tokens=4000,
                          max_new_tokens=TASK.max_new_tokens, chat_template=chat, system_field="system_prompt").build
    with_system = build(next(s for s in samples if s["system_prompt"]))["text"]
    assert with_system.startswith("<|system|>\nYou are a helpful assistant\n<|user|>\nYou will answer")
    assert build(next(s for s in samples if not s["system_prompt"]))["text"].startswith("<|user|>\nYou will answer")
    with pytest.raises(InputError, match=r"prompt/system_field: sample 'x' has no text in 'system_prompt'"):
        build({**samples[0], "id": "x", "system_prompt": None})
    hostile = [{**NEEDLE_SET[1], "system_prompt": ["not", "text"]}]
    with pytest.raises(InputError, match=r"experiment '0302_T01' has a system_prompt that is not text"):
        needle_tests(hostile, 42, 0)


def test_needle_placement_follows_book_haystack(inputs, tok):
    samples = generate(inputs, tok)
    ids = tok.encode(book_text())
    newlines = [0] + [i for i, t in enumerate(ids) if "\n" in tok.decode([t])]
    for sample in samples:
        length, depth, needle = sample["length"], sample["depth"], sample["needle"]
        if depth == 0.0:
            # position 0 is valid: the window starts there; the text before it is empty (no newline in it),
            # so the book's first token is dropped
            assert sample["context"] == " " + needle + "\n" + tok.decode(ids[1:length])
            continue
        at = next(p for p in newlines if p / (length + 1) - depth >= 0)
        start = at - round(length * depth)
        pre = tok.decode(ids[start:at + 1])
        expected = pre[:pre.rfind("\n")] + " " + needle + "\n" + tok.decode(ids[at + 1:start + length])
        assert sample["context"] == expected
        assert sample["context"].startswith(tok.decode(ids[start:start + 3]))


def test_pins_are_required_and_checked(inputs, tok):
    for key in ("haystack_sha256", "needle_set_sha256"):
        with pytest.raises(InputError, match=key):
            generate({**inputs, key: None}, tok)
        with pytest.raises(InputError, match=key):
            generate({**inputs, key: "0" * 64}, tok)
    with pytest.raises(InputError, match="haystack_path"):
        generate({**inputs, "haystack_path": inputs["haystack_path"] + ".missing"}, tok)
    with pytest.raises(InputError, match="lengths"):
        generate({**inputs, "lengths": [100000]}, tok)
    distractors = [{**NEEDLE_SET[1], "distractors": {"direct": "x"}}]
    path = inputs["needle_set_path"]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(distractors, handle)
    with pytest.raises(InputError, match="distractors"):
        generate({**inputs, "needle_set_sha256": sha256_text(json.dumps(distractors))}, tok)


def test_generated_prompt_is_cut_in_the_middle(inputs, tok):
    sample = next(s for s in generate(inputs, tok) if s["length"] == 500 and s["depth"] == 0.5)
    check_cut_prompt(TASK, sample, tok)


def test_contains_score():
    assert nolima_contains("Yuki", ["Yuki"]) == 1.0
    assert nolima_contains("The answer is Yuki.\n", ["Yuki"]) == 1.0  # substring, unstripped
    assert nolima_contains("yuki", ["Yuki"]) == 0.0  # case-sensitive
    assert nolima_contains("", ["Yuki"]) == 0.0
    assert nolima_contains("under the red stone", ["boathouse", "red stone"]) == 1.0  # any gold answer
    assert nolima_contains("anything", []) == 0.0
    assert score("nolima_contains", "Katie", ["Yuki", "Katie"], {}) == 1.0
