"""NThread's table, generator (needles and threads followed back through the JSON), prompts and score,
on the real generator, templates, middle truncation and tokenizer."""

from __future__ import annotations

import ast
import copy
import json

import pytest

from harness.benchmarks import BENCHMARKS
from harness.data import synthetic
from harness.metrics import ALL_METRICS, score
from harness.metrics.nthread import nthread_contains_all
from harness.prompts import render
from loomcore.errors import InputError
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, template_text

BENCH = BENCHMARKS["nthread"]
TASKS = {t.id: t for t in BENCH.tasks}
NAMES = ("single_needle", "multiple_needles", "conditional_needles", "single_threads", "multi_threads")


def small(task, lengths=(2048,), per_length=2):
    spec = copy.deepcopy(task.dataset)
    spec["params"]["lengths"] = list(lengths)
    if "samples_per_length" in spec["params"]:
        spec["params"]["samples_per_length"] = per_length
    return spec


def generate(task, tok, **kw):
    spec = small(task, **kw)
    return synthetic.generate(spec["generator"], spec["generator_version"], spec["seed"], spec["params"], tok)


def follow(pairs: dict[str, str], key: str) -> str:
    """The final value of the chain from ``key`` (the task's own definition, from the prompt)."""
    value = pairs[key]
    seen = {key}
    while value in pairs and value not in seen:
        seen.add(value)
        value = pairs[value]
    return value


def test_table_is_loom_scopes_five_tasks_with_templates_budget_and_registered_metric():
    assert sorted(TASKS) == sorted(f"nthread_{n}" for n in NAMES)
    assert BENCH.capability == "retrieval"
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.max_new_tokens == 1000
        assert task.dataset["source"] == "generator" and task.dataset["generator"] == "nthread"
        assert synthetic.param_problems("nthread", task.dataset["params"]) == []
    assert TASKS["nthread_single_needle"].samples == 11 * 7
    assert TASKS["nthread_multi_threads"].samples == 10 * 7


def test_templates_are_loom_scopes_instruction_text():
    # utils/instruction.py: instruction[0] + "\n" + haystack + "\n" + instruction[1].format(key=keys)
    text = render(template_text(TASKS["nthread_single_needle"]), {"context": "{}", "query": "K"})
    assert text == ("Extract the value corresponding to the specified key in the JSON object below.\n{}\n"
                    "Only write the corresponding value, nothing else. Key: K\nCorresponding value:")
    text = render(template_text(TASKS["nthread_multi_threads"]), {"context": "{}", "query": "['a']"})
    assert text.endswith("in square brackets, nothing else. Keys:['a']\n Corresponding final values:")
    text = render(template_text(TASKS["nthread_single_threads"]), {"context": "{}", "query": "K"})
    assert text.endswith("Key: K\nCorresponding fina value:")
    text = render(template_text(TASKS["nthread_conditional_needles"]), {"context": "{}", "query": ""})
    assert text.startswith("Extract the values corresponding to the keys that contain the character '*' in the "
                           "JSON object below\n{}\n")


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_generated_rows_answer_their_question_and_are_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = generate(task, tok)
    again = generate(task, tok)
    assert samples == again, "deterministic from seed and version"
    assert len({s["id"] for s in samples}) == len(samples)
    for sample in samples:
        pairs = json.loads(sample["context"])
        assert len(pairs) == sample["num_kv_pairs"] > 4
        assert sample["context_tokens"] <= 2048
        name = task_id.removeprefix("nthread_")
        if name in ("single_needle", "multiple_needles"):
            keys = [sample["query"]] if name == "single_needle" else ast.literal_eval(sample["query"])
            assert [pairs[k] for k in keys] == sample["answers"]
        elif name == "conditional_needles":
            marked = [k for k in pairs if "*" in k]
            assert len(marked) == 4 and [pairs[k] for k in marked] == sample["answers"]
        else:
            keys = [sample["query"]] if name == "single_threads" else ast.literal_eval(sample["query"])
            assert [follow(pairs, k) for k in keys] == sample["answers"]
            assert all(pairs[k] in pairs for k in keys), "a thread is longer than one pair"
        check_cut_prompt(task, sample, tok)


def test_single_needle_depths_and_thread_directions(tok):
    samples = generate(TASKS["nthread_single_needle"], tok)
    assert [s["depth"] for s in samples] == [i / 10 for i in range(11)]
    first, last = samples[0], samples[-1]
    assert next(iter(json.loads(first["context"]))) == first["query"]
    assert list(json.loads(last["context"]))[-1] == last["query"]
    forward, backward = generate(TASKS["nthread_single_threads"], tok)
    for sample, step in ((forward, 1), (backward, -1)):
        pairs = json.loads(sample["context"])
        order = list(pairs)
        chain = [sample["query"]]
        while pairs[chain[-1]] in pairs:
            chain.append(pairs[chain[-1]])
        assert len(chain) == 4
        positions = [order.index(k) for k in chain]
        assert positions == sorted(positions, reverse=step < 0)


def test_a_length_too_short_for_the_needles_is_refused(tok):
    spec = small(TASKS["nthread_multi_threads"], lengths=(300,))
    with pytest.raises(InputError):
        synthetic.generate("nthread", "1", 42, spec["params"], tok)
    assert synthetic.param_problems("nthread", {"direction": "sideways"})


def test_score_is_substring_containment_of_every_answer():
    value = "1759edc3-72ae-2244-8b01-63c1cd9d2b7d"
    assert nthread_contains_all(f"  {value}\n", [value]) == 1.0
    assert nthread_contains_all(f"The value is \"{value}\".", [value]) == 1.0  # no extraction needed
    assert nthread_contains_all(value.upper(), [value]) == 0.0  # case-sensitive
    assert nthread_contains_all(value[:-1], [value]) == 0.0
    assert nthread_contains_all("", [value]) == 0.0
    a, b = "aaaa-1", "bbbb-2"
    assert nthread_contains_all(f"['{b}', '{a}']", [a, b]) == 1.0  # order does not matter
    assert nthread_contains_all(f"['{a}']", [a, b]) == 0.0  # all or nothing
    assert nthread_contains_all("anything", []) == 1.0  # upstream: 0 found of 0
    assert score("nthread_contains_all", f"[{a}, {b}]", [a, b], {}) == 1.0
