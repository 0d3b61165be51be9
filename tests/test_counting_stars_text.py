"""counting_stars_text: Counting-Stars' stars sprinkled into its own pinned haystack (The Story of the Stone,
the Paul Graham essays) at the official notebook's offsets. The haystacks are read from ../shared/haystacks
(data, never in the repository)."""

from __future__ import annotations

import hashlib
import random
import re
import string
from pathlib import Path

import pytest

from harness.data import synthetic
from harness.prompts import render
from loomcore.errors import InputError
from loomcore.hashing import samples_sha256
from tests.conftest import ROOT

STONE = next((p for p in (ROOT.parent / "shared" / "haystacks" / "The_Story_of_the_Stone.txt",
                          Path("/work/shared/haystacks/The_Story_of_the_Stone.txt")) if p.exists()),
             ROOT.parent / "shared" / "haystacks" / "The_Story_of_the_Stone.txt")
ESSAYS = next((p for p in (ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays",
                           Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()),
              ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays")
M = 8
RNG = random.Random(20240101)
COUNTS = RNG.sample(range(1, 4 * M), M)
WRONG = [c + RNG.choice((-1, 1)) for c in COUNTS]
STARS = {"zh": re.compile(r"\n小企鹅数了(\d+)颗★(?:，但发现数错了，于是又数了一遍，这次数对了，是(\d+)颗★)?\n"),
         "en": re.compile(r"\nThe little penguin counted (\d+) ★(?:, but found that a mistake had been made, so the "
                          r"counting was done again, and this time (\d+) ★ was counted correctly\.)?\n")}

pytestmark = pytest.mark.skipif(not STONE.exists(), reason=f"The Story of the Stone is not at {STONE} (see "
                                "shared/haystacks/SOURCES.md); these tests need the real haystack")


def sha(path: Path) -> str:
    if path.is_dir():
        text = "".join((path / name).read_text(encoding="utf-8")
                       for name in sorted(p.name for p in path.iterdir() if p.suffix == ".txt"))
    else:
        text = path.read_text(encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cleaned_stone() -> str:
    """The notebook's Chinese haystack, written out again here: lines stripped, no spaces, no ASCII
    punctuation and no Latin letters."""
    with open(STONE, encoding="utf-8") as handle:
        text = "".join(line.strip().replace("------------", "").replace(" ", "") for line in handle)
    return "".join(ch for ch in text if ch not in string.punctuation and not ("a" <= ch.lower() <= "z"))


def gen(tok, root=None, language="zh", variant="acquisition", **overrides):
    haystack = STONE if language == "zh" else ESSAYS
    params = {"language": language, "variant": variant, "num_needles": M, "num_sizes": 4,
              "max_context_length": 16000, "counts": COUNTS, "wrong_counts": WRONG,
              "haystack_path": str(haystack), "haystack_sha256": sha(haystack), **overrides}
    return synthetic.generate("counting_stars_text", synthetic.generator_version("counting_stars_text"), 0,
                              params, tok, root)


@pytest.fixture(scope="module")
def zh(tok):
    return gen(tok)


def test_sizes_and_fields(zh):
    interval = 16000 // 4
    assert [s["length"] for s in zh] == [interval * k for k in range(1, 5)]
    assert [s["context_size"] for s in zh] == [int(s["length"] * 0.7) for s in zh]
    for s in zh:
        assert s["answers"] == [str(c) for c in COUNTS]
        assert s["language"] == "zh" and "wrong_counts" not in s


def test_stars_in_order_over_a_prefix_of_the_novel(zh):
    novel = cleaned_stone()
    for s in zh:
        found = STARS["zh"].findall(s["context"])
        assert [right for right, _ in found] == [str(c) for c in COUNTS]
        # without its stars, the context is the first context_size characters of the cleaned novel
        assert STARS["zh"].sub("", s["context"]) == novel[:s["context_size"]]
        # spread over the context: one star in each m-th part, the last one not before the last part
        positions = [m.start() for m in STARS["zh"].finditer(s["context"])]
        assert positions == sorted(positions) and positions[0] > 0


def test_reasoning_states_the_wrong_count_first(tok):
    for s in gen(tok, variant="reasoning", num_sizes=2, max_context_length=8000):
        assert STARS["zh"].findall(s["context"]) == [(str(w), str(c)) for w, c in zip(WRONG, COUNTS)]
        assert s["wrong_counts"] == [str(w) for w in WRONG] and s["answers"] == [str(c) for c in COUNTS]


def test_prompt_is_context_then_the_official_question(zh):
    template = (ROOT / "manifests" / "templates" / "counting_stars" / "zh_acquisition.j2").read_text(encoding="utf-8")
    prompt = render(template, {"context": zh[0]["context"]})
    assert prompt.startswith(zh[0]["context"] + "\n\n\n\n在这个月光皎洁") and not prompt.endswith("\n")


def test_deterministic(tok, zh):
    assert samples_sha256(gen(tok)) == samples_sha256(zh)


def test_pin_refused_naming_the_field(tok):
    with pytest.raises(InputError, match="haystack_sha256"):
        gen(tok, haystack_sha256="0" * 64)
    with pytest.raises(InputError, match="haystack_sha256: open pin"):
        gen(tok, haystack_sha256=None)
    with pytest.raises(InputError, match="haystack_path: missing"):
        gen(tok, haystack_path=None)


def test_path_leaving_the_manifest_folder_refused(tok, tmp_path):
    with pytest.raises(InputError, match="haystack_path: '../x.txt' leaves"):
        gen(tok, root=tmp_path, haystack_path="../x.txt")
    (tmp_path / "link").symlink_to(STONE.parent)
    with pytest.raises(InputError, match="haystack_path: .* resolves outside"):
        gen(tok, root=tmp_path, haystack_path=f"link/{STONE.name}")


def test_relative_path_and_input_pins(tok, tmp_path, zh):
    (tmp_path / "stone.txt").write_bytes(STONE.read_bytes())
    params = {"haystack_path": "stone.txt"}
    assert synthetic.input_pins("counting_stars_text", params, tmp_path) == {"haystack_sha256": sha(STONE)}
    assert samples_sha256(gen(tok, root=tmp_path, haystack_path="stone.txt")) == samples_sha256(zh)


def test_bad_params_refused(tok):
    with pytest.raises(InputError, match="params.counts"):
        gen(tok, counts=COUNTS[:-1])
    with pytest.raises(InputError, match="params.wrong_counts"):
        gen(tok, variant="reasoning", wrong_counts=WRONG[1:])
    assert synthetic.param_problems("counting_stars_text", {"size_scale": 0.5}) == []
    assert synthetic.param_problems("counting_stars_text", {"size_scale": "big"})
    with pytest.raises(InputError, match="haystack_path: the haystack has"):
        gen(tok, max_context_length=4_000_000, num_sizes=1, size_scale=1.0)


@pytest.mark.skipif(not ESSAYS.is_dir(), reason="the Paul Graham essays are not in ../shared/haystacks")
def test_english_words_and_stars(tok):
    essays = "".join((ESSAYS / n).read_text(encoding="utf-8").replace("\n", " ")
                     for n in sorted(p.name for p in ESSAYS.iterdir() if p.suffix == ".txt"))
    for s in gen(tok, language="en", num_sizes=2, max_context_length=8000):
        assert s["context_size"] == int(s["length"] * 0.8)
        assert [right for right, _ in STARS["en"].findall(s["context"])] == [str(c) for c in COUNTS]
        # a star stands between two words (the last may close the text); put back the space and the cut is
        # the first words of the essays
        cut = " ".join(essays.split(" ")[:s["context_size"]])
        assert STARS["en"].sub(" ", s["context"]) in (cut, cut + " ")


# git blob ids of the official Chinese files (nick7nlp/Counting-Stars at 32e16f2c, test_data/)
OFFICIAL_ZH_BLOBS = {"acquisition": "a7b8a49eb371c1f85defe0077acbc47069a0bb12",
                     "reasoning": "3cb1d45803fe2acf69c8afeb62664c5ac7610e2f"}


@pytest.mark.parametrize("variant", ["acquisition", "reasoning"])
def test_loombench_v1s_chinese_tasks_give_the_official_files_byte_for_byte(tok, variant):
    """LOOMBench v1's Chinese Counting-Stars tasks, as the table pins them (the official counts, sizes and
    haystack pin) over The Story of the Stone: the rows written as the notebook writes them
    (``json.dumps(..., ensure_ascii=False)``, the question being the task's rendered prompt) have the git
    blob ids of the official test files."""
    import json

    from harness.benchmarks import BENCHMARKS

    task = next(t for t in BENCHMARKS["counting_stars"].tasks
                if t.dataset["params"]["language"] == "zh" and t.dataset["params"]["variant"] == variant)
    params = {**task.dataset["params"], "haystack_path": str(STONE)}
    samples = synthetic.generate("counting_stars_text", task.dataset["generator_version"], task.dataset["seed"], params,
                                 tok)
    template = (ROOT / "manifests" / "templates" / task.template).read_text(encoding="utf-8")
    question = render(template, {"context": ""})
    lines = [json.dumps({"question": render(template, s), "context_size": s["context_size"],
                         "retrieval_question": question, "reference_counting_results": params["counts"],
                         "parameters": {"temperature": 0.0}}, ensure_ascii=False) + "\n" for s in samples]
    data = "".join(lines).encode("utf-8")
    assert len(samples) == 32 and samples[-1]["length"] == 128000
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == OFFICIAL_ZH_BLOBS[variant]
