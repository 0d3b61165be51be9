"""RULER, NIAH and Counting-Stars: each task's generator -> its real template -> real middle truncation,
the official prompt texts, the new generator parameters, and the official scorers on hand-computed cases."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from harness.benchmarks import BENCHMARKS, prepared
from harness.benchmarks.base import TaskDef
from harness.data import synthetic
from harness.metrics import ALL_METRICS, REGISTRY
from harness.metrics import text as text_metrics
from harness.metrics.counting_stars import (
    counting_stars_acquisition,
    counting_stars_free_text,
    counting_stars_reasoning,
)
from harness.metrics.text import niah_word_recall, string_match_all, string_match_part
from harness.prompts import PromptBuilder, render
from loomcore.errors import InputError
from loomcore.hashing import samples_sha256
from loomcore.tokenizer import ModelTokenizer
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import load_samples

TEMPLATES = ROOT / "manifests" / "templates"
FAMILIES = ("ruler", "niah", "counting_stars")
ALL_TASKS = [(family, task) for family in FAMILIES for task in BENCHMARKS[family].tasks]
GENERATED = [(f, t) for f, t in ALL_TASKS if t.dataset["source"] == "generator"]
STAND_INS = ROOT / "tests" / "data" / "loombench"
ESSAYS = next((p for p in (ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays",
                           Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()), None)


@cache
def shipped_tokenizer() -> ModelTokenizer:
    return ModelTokenizer(SHIPPED_MODEL)


@pytest.fixture(scope="module")
def tok():
    return shipped_tokenizer()


def template(task: TaskDef) -> str:
    return (TEMPLATES / task.template).read_text(encoding="utf-8")


def small(task: TaskDef) -> dict:
    """The task's own dataset spec at small sizes; every other official parameter kept."""
    spec = copy.deepcopy(task.dataset)
    params = spec["params"]
    if spec["generator"] in ("niah", "niah_essays"):
        params.pop("grid", None)
        params.update(lengths=[700], depths=[0.0, 0.5, 1.0])
        if spec["generator"] == "niah_essays":  # LOOMBench's NIAH reads Kamradt's essays (data, not in the repo)
            if ESSAYS is None:
                pytest.skip("Kamradt's essays (shared/haystacks/PaulGrahamEssays) are not beside this checkout")
            params["haystack_dir"] = str(ESSAYS)
    elif spec["generator"].endswith("_upstream"):
        # RULER's own generators; cwe's example alone does not fit 4,096 tiny-model tokens; the essay tasks read
        # the fixtures' stand-ins for RULER's essays and punkt model
        params.update(lengths=[8192 if spec["generator"] == "ruler_cwe_upstream" else 4096], samples_per_length=2)
        for key, pin in synthetic.input_params(spec["generator"]).items():
            if params.get(key):
                params[key] = str(STAND_INS / params[key])
                params[pin] = synthetic.input_pins(spec["generator"], {key: params[key]}, ROOT)[pin]
    elif spec["generator"] == "counting_stars_text":
        # the official construction over the fixtures' stand-in haystacks, at its first two sizes
        params.update(max_context_length=8000, num_sizes=2, haystack_path=str(STAND_INS / params["haystack_path"]))
        params["haystack_sha256"] = synthetic.input_pins(spec["generator"], params, ROOT)["haystack_sha256"]
    elif spec["generator"] == "counting_stars":
        params.update(lengths=[1000, 2000], num_needles=6)
    else:
        # vt's one-shot example keeps RULER's ~400 tokens, so its task needs a little more room.
        params.update(lengths=[2000 if spec["generator"] == "ruler_vt" else 1500], samples_per_length=2)
    return spec


def generate(name: str, seed: int = 5, **params) -> list[dict]:
    return synthetic.generate(name, synthetic.generator_version(name), seed, params, shipped_tokenizer())


# --- Tables: templates and metrics ---------------------------------------------------------------

@pytest.mark.parametrize("family,task", ALL_TASKS, ids=[t.id for _, t in ALL_TASKS])
def test_every_template_exists_and_every_metric_is_registered(family, task):
    assert (TEMPLATES / task.template).is_file(), task.template
    bench = BENCHMARKS[family]
    for metric in task.metrics:
        assert metric in ALL_METRICS and metric in bench.metrics, metric
    assert bool(task.group) == (family != "niah"), "RULER and Counting-Stars group their tasks; NIAH is one grid"
    if task.dataset["source"] == "generator":
        assert task.dataset["generator_version"] == synthetic.generator_version(task.dataset["generator"])


def test_benchmarks_name_their_official_groups_and_metrics():
    ruler = {t.id.removeprefix("ruler_"): t for t in BENCHMARKS["ruler"].tasks}
    assert len(ruler) == 13
    assert {t.group for t in ruler.values()} == {"Retrieval", "Multi-hop Tracing", "Aggregation",
                                                   "Question Answering"}
    assert ruler["qa_1"].metrics == ("string_match_part",) and ruler["cwe"].metrics == ("string_match_all",)
    assert [ruler[t].max_new_tokens for t in ("niah_single_1", "vt", "cwe", "fwe", "qa_2")] == [128, 30, 120, 50, 32]
    assert ruler["niah_single_1"].dataset["params"]["lengths"] == [4096, 8192, 16384, 32768, 65536, 131072]
    stars = {t.id: t for t in BENCHMARKS["counting_stars"].tasks}
    assert {t.group for t in stars.values()} == {"acquisition", "reasoning"}
    assert stars["counting_stars_zh_reasoning"].metrics == ("counting_stars_reasoning",)
    assert all(t.dataset["params"]["num_needles"] == 32 and t.samples == 32 for t in stars.values())
    # The lite manifest scores these by name: they must stay allowed.
    assert "string_match_all" in BENCHMARKS["niah"].metrics and "string_match_all" in BENCHMARKS["ruler"].metrics
    assert REGISTRY["counting_stars_acquisition"].needs_meta and REGISTRY["counting_stars_reasoning"].needs_meta
    assert not REGISTRY["counting_stars_free_text"].needs_meta
    assert "counting_stars_acquisition" not in text_metrics.METRICS


def test_qa_tasks_are_an_open_hub_pin_that_fails_closed(tmp_path):
    for task in (t for t in BENCHMARKS["ruler"].tasks if t.id.startswith("ruler_qa_")):
        assert task.dataset["source"] == "hub" and task.dataset["revision"] is None
        with pytest.raises(InputError, match="no pinned commit"):
            load_samples(task.dataset, tmp_path, lambda: pytest.fail("a hub dataset needs no tokenizer"))
    # The pass-through template renders LOOMBench's prebuilt prompt as it is.
    assert render((TEMPLATES / "ruler/qa.j2").read_text(), {"context": "Answer the question... Answer:"}) == \
        "Answer the question... Answer:"


QA_PROMPT = ("Answer the question based on the given documents. Only give me the answer and do not output any "
             "other words.\n\nThe following are given documents.\n\nDocument 1:\nThe Nile flows through Egypt "
             "and Sudan.\n\nAnswer the question based on the given documents. Only give me the answer and do not "
             "output any other words.\n\nQuestion: Which country does the Nile flow through besides Egypt?")


@pytest.mark.parametrize("row", [
    # LOOMBench's layout (what LOOM-Scope downloads): the whole prompt in input, the answers in answer
    {"index": 0, "input": QA_PROMPT + " Answer:", "answer": ["Sudan"], "length": 4096},
    # RULER's own (scripts/data/synthetic/qa.py): the answer prefix cut off input, the answers in outputs
    {"index": 0, "input": QA_PROMPT, "outputs": ["Sudan"], "length": 4096, "length_w_model_temp": 4096,
     "answer_prefix": " Answer:"},
], ids=["loombench", "ruler"])
def test_ruler_qa_rows_of_either_layout_give_the_same_prompt_and_references(row, tmp_path):
    task = next(t for t in BENCHMARKS["ruler"].tasks if t.id == "ruler_qa_1")
    (tmp_path / "qa.jsonl").write_text(json.dumps(row) + "\n")
    dataset = {"source": "local", "path": "qa.jsonl", "fields": dict(task.fields)}
    [sample] = prepared(load_samples(dataset, tmp_path, lambda: None), "ruler", task.id)
    assert render(template(task), sample) == QA_PROMPT + " Answer:"
    assert sample["answers"] == ["Sudan"]


def test_a_ruler_qa_row_of_neither_layout_is_refused_naming_the_task(tmp_path):
    (tmp_path / "qa.jsonl").write_text(json.dumps({"input": QA_PROMPT, "gold": ["Sudan"]}) + "\n")
    samples = load_samples({"source": "local", "path": "qa.jsonl", "fields": {"context": "input"}}, tmp_path,
                           lambda: None)
    with pytest.raises(InputError, match=r"ruler_qa_2/dataset: .*neither 'answer' .* nor 'outputs'"):
        prepared(samples, "ruler", "ruler_qa_2")


# --- Each generated task: generator -> template -> middle truncation ------------------------------

@pytest.mark.parametrize("family,task", GENERATED, ids=[t.id for _, t in GENERATED])
def test_generated_task_renders_and_truncates_in_the_middle(family, task, tok, tmp_path):
    samples = load_samples(small(task), tmp_path, lambda: tok)
    assert samples and len({s["id"] for s in samples}) == len(samples)
    text = template(task)
    for sample in samples[:2]:
        answers = sample["answers"]
        assert answers and all(str(a) in sample["context"] for a in answers)
        full = render(text, sample)
        head, _, tail = full.partition(sample["context"])
        # the context is rendered once, followed by the question; or it is the whole prompt (RULER's own rows)
        assert tail or (full == sample["context"] and task.template == "ruler/upstream.j2")
        builder = PromptBuilder(template=text, tokenizer=tok, policy="middle", max_new_tokens=task.max_new_tokens,
                                budget_tokens=PromptBuilder(template=text, tokenizer=tok, policy="middle",
                                                            budget_tokens=10**6, max_new_tokens=0).overhead(sample)
                                + task.max_new_tokens + 80)
        out = builder.build(sample)
        assert out["truncated"] and out["tokens_before"] == tok.count(full)
        assert out["tokens_after"] <= builder.prompt_budget
        assert out["text"].startswith(head) and out["text"].endswith(tail)
        assert out["text"][len(head):].startswith(sample["context"][:5]), "the context's head is kept"
        if not tail:
            assert out["text"].endswith(sample["context"][-20:]), "the whole prompt's question is kept"


# --- Official prompt texts (RULER constants.py, Counting-Stars gen_test_data.ipynb, LOOM-Scope NIAH.py) ---

def test_ruler_niah_prompt_is_rulers_singular_or_plural_text():
    text = (TEMPLATES / "ruler/niah.j2").read_text()
    one = render(text, {"type_needle_v": "uuids", "answers": ["u"], "context": "C", "query": "k"})
    assert one == ("A special magic uuid is hidden within the following text. Make sure to memorize it. I will quiz "
                   "you about the uuid afterwards.\nC\nWhat is the special magic uuid for k mentioned in the provided "
                   "text? The special magic uuid for k mentioned in the provided text is")
    many = render(text, {"type_needle_v": "numbers", "answers": ["1", "2"], "context": "C", "query": "a, and b"})
    assert many == ("Some special magic numbers are hidden within the following text. Make sure to memorize it. I will "
                    "quiz you about the numbers afterwards.\nC\nWhat are all the special magic numbers for a, and b "
                    "mentioned in the provided text? The special magic numbers for a, and b mentioned in the provided "
                    "text are")


def test_ruler_vt_cwe_fwe_prompts_carry_the_one_shot_example_as_ruler_builds_it():
    vt = render((TEMPLATES / "ruler/vt.j2").read_text(),
                {"example_context": "E", "example_query": "11111", "example_answers": ["AB", "CD"],
                 "context": "C", "query": "22222", "answers": ["X", "Y", "Z"]})
    task = ("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{c}\nQuestion: "
            "Find all variables that are assigned the value {q} in the text above. Answer: According to the chain(s) "
            "of variable assignment in the text above, {n} variables are assigned the value {q}, they are: ")
    # RULER: example input + " " + answers + "\n", then "\n" + the task.
    assert vt == task.format(c="E", q="11111", n=2) + " AB CD\n\n" + task.format(c="C", q="22222", n=3)
    cwe = render((TEMPLATES / "ruler/cwe.j2").read_text(),
                 {"example_context": "E", "example_answers": ["u", "v"], "context": "C"})
    task = ("Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones "
            "that appear most often.\n{c}\nQuestion: What are the 10 most common words in the above list? Answer: The "
            "top 10 words that appear most often in the list are:")
    assert cwe == task.format(c="E") + " 1. u 2. v\n" + task.format(c="C")
    fwe = render((TEMPLATES / "ruler/fwe.j2").read_text(), {"context": "C"})
    assert fwe == ("Read the following coded text and track the frequency of each coded word. Find the three "
                   "most frequently appeared coded words. C\nQuestion: Do not provide any explanation. Please ignore "
                   "the dots '....'. What are the three most frequently appeared words in the above coded text? "
                   "Answer: According to the coded text above, the three most frequently appeared words are:")


def test_counting_stars_and_niah_prompts():
    en = render((TEMPLATES / "counting_stars/en_reasoning.j2").read_text(), {"context": "C\n"})
    assert en.startswith("C\n\n\n\n\nOn this moonlit and misty night") and en.endswith(
        "represent the correctly counted number of ★ by the little penguin. Only output the results in JSON format "
        "without any explanation.")
    zh = render((TEMPLATES / "counting_stars/zh_acquisition.j2").read_text(), {"context": "C"})
    assert zh == ("C\n\n\n\n在这个月光皎洁、云雾缭绕的夜晚，小企鹅正望向天空，全神贯注地数★。请帮助小企鹅收集所数★的颗数，"
                  "按照如下格式：{\"小企鹅\":[x,x,x,...]}，不要求和，[x,x,x,...]中数字为小企鹅每次数★的颗数，仅以JSON格式"
                  "输出结果，不需要输出任何解释。")
    niah = render((TEMPLATES / "niah/niah.j2").read_text(), {"context": "C", "query": "Q?"})
    assert niah == ("This is a very long story book: <book> C </book>.\n Based on the content of the book, "
                    "Question: Q?\nAnswer:")


# --- Generators: lite unchanged, official structure, determinism ----------------------------------

# samples_sha256 of the version-1 generators' default style, recorded before the official styles were
# added (lengths [300, 900], 2 samples per length or cell, seed 1): LOOMBench-lite pins on these bytes.
LITE_SHA256 = {
    "niah": "603549fe82aca3e6769a46188df719c4b95b200de048cc3fb5d5e29f8667e87a",
    "ruler_niah": "d883ff05904748dbde87b356c7a793adfc3301682b5528e1a0e0a614efb8d002",
    "ruler_vt": "6e8305718cefcdb578790fed77b55159d7967880d4a09bdae5a0e8d9b403a0bd",
    "ruler_cwe": "7a0c10ffcd5fbd494ee48f9675a707093e34e1a13adc3d27bd596b2be937f9a8",
    "ruler_fwe": "aeb0545c09947b8029aa77ee92c3333ef3e9a9e0fd70de1721e4797b4190f0a5",
    "counting_stars": "081bacf06bd521d5e6fc370b832d48c1441a8a9c6aef544bc01ca75cdddb5b95",
}


@pytest.mark.parametrize("name", sorted(LITE_SHA256))
def test_lite_style_output_is_byte_identical_to_version_1(name):
    count = {"samples_per_cell" if name == "niah" else "samples_per_length": 2}
    assert samples_sha256(generate(name, 1, lengths=[300, 900], **count)) == LITE_SHA256[name]


def test_lite_manifest_still_pins():
    out = subprocess.run([sys.executable, "-m", "loomctl", "pin", "--check",
                          str(ROOT / "manifests" / "loombench-lite.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


OFFICIAL_CASES = [
    ("ruler_niah", {"haystack": "needle", "key_type": "uuids", "value_type": "uuids", "task": "mk3"}),
    ("ruler_niah", {"haystack": "essay", "num_queries": 3, "task": "mq"}),
    ("ruler_vt", {"lengths": [2000]}),
    ("ruler_cwe", {}),
    ("ruler_fwe", {"vocab_size": -1, "word_length": 6}),
    ("counting_stars", {"num_needles": 5, "language": "zh", "variant": "reasoning", "size_unit": "chars",
                        "size_scale": 0.7}),
]


@pytest.mark.parametrize("name,params", OFFICIAL_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OFFICIAL_CASES)])
def test_official_style_is_deterministic_and_seeded(name, params):
    full = {"lengths": [1500], "samples_per_length": 2, "style": "official", **params}  # params may set lengths
    a, b, c = generate(name, 3, **full), generate(name, 3, **full), generate(name, 4, **full)
    assert samples_sha256(a) == samples_sha256(b) != samples_sha256(c)


def test_official_style_is_identical_in_a_fresh_interpreter():
    params = {"lengths": [1200], "samples_per_length": 1, "style": "official", "num_needles": 4, "language": "zh",
              "variant": "reasoning"}
    code = ("from harness.data import synthetic; from loomcore.tokenizer import ModelTokenizer;"
            "from loomcore.hashing import samples_sha256;"
            f"t = ModelTokenizer({str(SHIPPED_MODEL)!r});"
            f"print(samples_sha256(synthetic.generate('counting_stars', '1+h1', 9, {params!r}, t)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": "7"})
    assert out.stdout.strip() == samples_sha256(generate("counting_stars", 9, **params))


def test_ruler_niah_official_needles_haystacks_and_queries():
    noise = generate("ruler_niah", lengths=[800], samples_per_length=1, style="official", haystack="noise",
                     task="s1")[0]
    lines = noise["context"].split("\n")
    needle = [line for line in lines if line.startswith("One of")]
    assert needle == [f"One of the special magic numbers for {noise['query']} is: {noise['answers'][0]}."]
    assert set(lines) - set(needle) == {synthetic.ruler._RULER_NOISE}
    assert re.fullmatch(r"\d{7}", noise["answers"][0]) and noise["type_needle_v"] == "numbers"
    uuids = generate("ruler_niah", lengths=[800], samples_per_length=1, style="official", haystack="needle",
                     key_type="uuids", value_type="uuids", task="mk3")[0]
    uuid_re = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    lines = uuids["context"].split("\n")
    assert len(lines) > 3 and all(re.fullmatch(f"One of the special magic uuids for {uuid_re} is: {uuid_re}.", x)
                                  for x in lines)
    assert sum(uuids["query"] in line for line in lines) == 1, "no distractor shares the asked key"
    many = generate("ruler_niah", lengths=[900], samples_per_length=1, style="official", num_keys=4, num_queries=4,
                    task="mq")[0]
    keys = many["query"].replace(", and ", ", ").split(", ")
    assert len(keys) == 4 and many["query"].count(", and ") == 1
    for key, value in zip(keys, many["answers"]):
        assert f"One of the special magic numbers for {key} is: {value}." in many["context"]


def test_vt_cwe_fwe_official_structure():
    vt = generate("ruler_vt", lengths=[2000], samples_per_length=1, style="official")[0]
    chain = [line for line in vt["context"].split("\n") if line.startswith("VAR ")]
    names = vt["answers"]
    assert chain == [f"VAR {names[0]} = {vt['query']}"] + [f"VAR {b} = VAR {a} " for a, b in zip(names, names[1:])]
    assert all(re.fullmatch("[A-Z]{5}", n) for n in names) and all(len(n) == 3 for n in vt["example_answers"])
    assert f"VAR {vt['example_answers'][0]} = {vt['example_query']}" in vt["example_context"]
    cwe = generate("ruler_cwe", lengths=[1500, 4096], samples_per_length=1, style="official")
    for sample, (common, rare) in zip(cwe, [(6, 1), (30, 3)]):  # RULER's regimes below and from 4096
        counts = Counter(sample["context"].split()[1::2])
        assert {counts[w] for w in sample["answers"]} == {common}
        assert set(counts.values()) == {common, rare}
        example = Counter(sample["example_context"].split()[1::2])
        assert min(example[w] for w in sample["example_answers"]) > max(
            c for w, c in example.items() if w not in sample["example_answers"])
    fwe = generate("ruler_fwe", lengths=[2000], samples_per_length=1, style="official", vocab_size=-1,
                   word_length=6)[0]
    ranked = [w for w, _ in Counter(fwe["context"].split()).most_common()]
    assert ranked[0] == "..." and ranked[1:4] == fwe["answers"] and fwe["context_tokens"] <= 2000
    zeta2 = 1.6449340668482264  # pi^2 / 6
    assert abs(synthetic.ruler._zeta(2.0) - zeta2) < 1e-9


@pytest.mark.parametrize("language,variant", [("en", "acquisition"), ("en", "reasoning"), ("zh", "acquisition"),
                                              ("zh", "reasoning")])
def test_counting_stars_official_stars(language, variant):
    s = generate("counting_stars", lengths=[3000], samples_per_length=1, style="official", num_needles=8,
                 language=language, variant=variant)[0]
    right = [int(x) for x in s["answers"]]
    assert len(set(right)) == 8 and all(1 <= r < 32 for r in right)
    star = r"(\d+) ★" if language == "en" else r"(\d+)颗★"
    found = [int(x) for x in re.findall(star, s["context"])]
    if variant == "reasoning":
        wrong = [int(x) for x in s["wrong_counts"]]
        assert all(abs(w - r) == 1 for w, r in zip(wrong, right)) and not set(wrong) & set(right)
        assert found == [x for pair in zip(wrong, right) for x in pair]
    else:
        assert found == right and "wrong_counts" not in s
    star_lines = [line for line in s["context"].split("\n") if "★" in line]
    assert len(star_lines) == 8 and s["context"].endswith(star_lines[-1] + "\n"), "the last star closes the context"
    assert (" " in s["context"]) == (language == "en")


def test_niah_follows_the_grid_its_manifest_names(monkeypatch):
    """LOOM-Scope's 40 x 10 (its heatmaps' axes: 1000, 4256, 7513 ... 128000 tokens; 0, 11 ... 100 %)."""
    task = BENCHMARKS["niah"].tasks[0]
    assert task.dataset["params"]["grid"] == "loom-scope" and task.samples == 400
    lengths, depths = synthetic.niah.GRIDS["loom-scope"]
    assert (len(lengths), len(depths)) == (40, 10)
    assert lengths[:4] == (1000, 4256, 7513, 10769) and lengths[-3:] == (121487, 124744, 128000)
    assert [round(d * 100) for d in depths] == [0, 11, 22, 33, 44, 56, 67, 78, 89, 100]
    # the generator reads the named grid's cells (a small grid under that name, to keep this quick)
    monkeypatch.setitem(synthetic.niah.GRIDS, "loom-scope", ((600, 900), (0.0, 0.11)))
    named = generate("niah", grid="loom-scope", needle="The key is under the mat.", question="Where is the key?",
                     answer="under the mat.", reserve_tokens=200, samples_per_cell=1)
    assert [s["id"] for s in named] == ["niah-600-d000-00", "niah-600-d011-00", "niah-900-d000-00", "niah-900-d011-00"]
    assert synthetic.param_problems("niah", {"grid": "kamradt"})[0].startswith("params.grid: 'kamradt' is not")
    assert synthetic.param_problems("niah", {"grid": "loom-scope", "lengths": [1000]})[0].startswith(
        "params.grid: a named grid sets the lengths and depths")


def test_size_units_and_fixed_needle_grid():
    en = generate("counting_stars", lengths=[1000], samples_per_length=1, style="official", num_needles=4,
                  size_unit="words", size_scale=0.8)[0]
    haystack = re.sub(r"\nThe little penguin counted \d+ ★\n", " ", en["context"])
    assert 700 <= len(haystack.split()) <= 800  # int(1000 x 0.8) words at most, cut at a sentence end
    grid = generate("niah", lengths=[600, 900], depths=[0.0, 1.0], samples_per_cell=1, reserve_tokens=200,
                    needle="The key is under the mat.", question="Where is the key?", answer="under the mat.")
    assert [g["id"] for g in grid] == ["niah-600-d000-00", "niah-600-d100-00", "niah-900-d000-00", "niah-900-d100-00"]
    assert grid[0]["context"].startswith("The key is under the mat.") and grid[1]["context"].endswith("the mat.")
    assert all(g["context_tokens"] <= g["length"] - 200 and g["answers"] == ["under the mat."] for g in grid)


def test_bad_choices_and_missing_question_are_input_errors():
    with pytest.raises(InputError, match="params.style"):
        generate("ruler_vt", style="offical")
    with pytest.raises(InputError, match="params.language"):
        generate("counting_stars", style="official", language="fr")
    with pytest.raises(InputError, match="question and answer"):
        generate("niah", needle="A needle.")
    with pytest.raises(InputError, match="no room"):
        generate("counting_stars", lengths=[100], style="official", num_needles=32)


# --- Scorers, expected values computed by hand from the official definitions ----------------------

RIGHT = ["15", "117", "42", "69"]
WRONG = ["16", "116", "43", "70"]


EN, ZH = {"language": "en"}, {"language": "zh"}


@pytest.mark.parametrize("prediction,meta,expected", [
    ('{"little_penguin": [15, 117, 42, 69]}', EN, 1.0),            # all 4 found
    ('```json\n{"little_penguin": [15, 42, 99, 15, 69]}\n```', EN, 0.5),  # first m=4 kept: {15, 42, 99} -> 2/4
    ('{"little_penguin": [15, 117', EN, 0.5),                     # cut off: json_repair completes it (English too)
    ('{"小企鹅":[15,117,42,69]}', ZH, 1.0),                         # the Chinese key, for a Chinese task
    ('{"小企鹅":[15,117,42,69]}', EN, 0.0),                         # the other language's key lists nothing
    ('{"little_penguin": [15, 117, 42, 69]}', ZH, 0.0),
    ("小企鹅数了15颗★，又数了42颗★", ZH, 0.0),                         # no JSON object: nothing listed
    ('I see 117 stars. {"little_penguin": [15]}', EN, 0.25),     # the repaired object's list, not the prose
    ('{"little_penguin": ["15", "117"]}', EN, 0.0),               # quoted numbers are strings: never equal
    ('{"little_penguin": [15.0, 117]}', EN, 0.5),                 # 15.0 == 15
    ('{"little_penguin": ["x", "y", "z", 15, 117]}', EN, 0.25),   # non-numbers take 3 of the 4 slots
    ('{"little_penguin": [[15, 117], 42]}', EN, 0.0),             # a nested list cannot be de-duplicated
    ('{"little_penguin": 15}', EN, 0.0),                          # not a list
    ("", EN, 0.0),
])
def test_counting_stars_acquisition_reads_the_reply_as_loom_scope_does(prediction, meta, expected):
    assert counting_stars_acquisition(prediction, RIGHT, meta) == expected


def test_counting_stars_scores_are_rounded_to_two_decimals_and_need_the_language():
    assert counting_stars_acquisition('{"little_penguin": [15]}', ["15", "117", "42"], EN) == 0.33  # 1/3
    assert counting_stars_acquisition('{"little_penguin": [15]}', [], EN) == 0.0
    with pytest.raises(InputError, match="language"):
        counting_stars_acquisition("[15]", RIGHT, {})
    with pytest.raises(InputError, match="whole number"):
        counting_stars_acquisition('{"little_penguin": [15]}', ["15", "x"], EN)


@pytest.mark.parametrize("prediction,meta,points", [
    # star 1: 15 alone -> 1; star 2: 117 and 116 -> 0.5; star 3: 43 alone -> 0.25; star 4: neither -> 0
    ('{"little_penguin": [15, 116, 117, 43]}', EN, 1 + 0.5 + 0.25 + 0),
    # star 1: 16 alone -> 0.25; stars 2-4 right alone -> 1 each
    ('{"小企鹅":[16,117,42,69]}', ZH, 0.25 + 3),
    ('{"little_penguin": [15, 117, 42, 69]}', EN, 4),
    ('{"little_penguin": [15, 117, 42, 69]}', ZH, 0),
    ("", EN, 0),
])
def test_counting_stars_reasoning(prediction, meta, points):
    assert counting_stars_reasoning(prediction, RIGHT, {**meta, "wrong_counts": WRONG}) == round(points / 4, 2)


def test_counting_stars_reasoning_needs_the_wrong_counts():
    with pytest.raises(InputError, match="wrong_counts"):
        counting_stars_reasoning("[15]", RIGHT, EN)


@pytest.mark.parametrize("prediction,expected", [
    ("The little penguin counted 15, 42 and 99 stars.", 0.5),   # the first m=4 numbers: 15, 42, 99
    ('{"little_penguin": [15, 117, 42, 69]}', 1.0),
    ("", 0.0),
])
def test_the_embedded_defaults_free_text_reading(prediction, expected):
    assert counting_stars_free_text(prediction, RIGHT) == expected


def test_each_official_task_records_its_language():
    bench = BENCHMARKS["counting_stars"]
    for task in bench.tasks:
        language = task.dataset["params"]["language"]
        assert bench.prepare({"id": "x"}, task.id)["language"] == language and "language" in bench.meta_fields
    assert "language" not in bench.prepare({"id": "x"}, "counting_stars")  # the lite's free-text task


ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day."  # 11 distinct words ('a' twice; 'day.' with its dot)


@pytest.mark.parametrize("prediction,references,expected", [
    ("Eat a sandwich and sit in Dolores Park on a sunny day.", [ANSWER], 1.0),
    ("eat a sandwich and sit in Dolores Park on a sunny day", [ANSWER], 10 / 11),  # 'day' is not 'day.'
    ("The best thing is to eat a sandwich.", ["eat a sandwich"], 2 / 3),          # 'sandwich.' is not 'sandwich'
    ("I would sit in the park", ["eat a sandwich", "sit in the park"], 1.0),      # best reference: 4/4
    ("", [ANSWER], 0.0),
])
def test_niah_word_recall(prediction, references, expected):
    assert niah_word_recall(prediction, references) == pytest.approx(expected)


def test_ruler_string_match_on_multi_value_answers():
    # RULER: control characters become newlines; matching is case-insensitive substring.
    assert string_match_all(" 1234567 and 7654321\x00", ["1234567", "7654321", "1111111"]) == pytest.approx(2 / 3)
    assert string_match_all("", ["1234567"]) == 0.0
    assert string_match_part("PARIS, France", ["paris", "Lyon"]) == 1.0
    assert string_match_part("Marseille", ["paris", "Lyon"]) == 0.0
