"""niah_essays: LOOM-Scope's / Kamradt's needle placement on the pinned Paul Graham essays, with the shipped
model's real tokenizer. The essays are read from ../shared/haystacks (data, never in the repository)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.data import synthetic
from harness.data.synthetic.niah import GRIDS
from loomcore.errors import InputError
from loomcore.hashing import samples_sha256
from tests.conftest import ROOT

# beside this checkout, or at the workplace's shared folder (a CI clone lives elsewhere), as test_realdata finds it
ESSAYS = next((p for p in (ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays",
                           Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()),
              ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays")
NEEDLE = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
QUESTION = "What is the best thing to do in San Francisco?"
ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day."
RESERVE = 200
# LOOM-Scope's depth percents 0, 11, 56, 100 as the loom-scope grid gives them (fractions)
DEPTHS = [d for d in GRIDS["loom-scope"][1] if round(d * 100) in (0, 11, 56, 100)]

pytestmark = pytest.mark.skipif(not ESSAYS.is_dir(), reason=f"Kamradt's essays are not at {ESSAYS} (see "
                                "shared/haystacks/SOURCES.md); these tests need the real haystack")


def essays_text() -> str:
    """The haystack as LOOM-Scope's download_paulgraham_essay.py concatenates it: sorted, read in text mode."""
    text = ""
    for name in sorted(p.name for p in ESSAYS.iterdir() if p.suffix == ".txt"):
        with open(ESSAYS / name) as handle:
            text += handle.read()
    return text


def params(**overrides):
    return {"lengths": [1000, 4256], "depths": DEPTHS, "needle": NEEDLE, "question": QUESTION, "answer": ANSWER,
            "reserve_tokens": RESERVE, "haystack_dir": str(ESSAYS),
            "haystack_sha256": hashlib.sha256(essays_text().encode("utf-8")).hexdigest(), **overrides}


def gen(tok, root=None, seed=0, **overrides):
    return synthetic.generate("niah_essays", synthetic.generator_version("niah_essays"), seed,
                              params(**overrides), tok, root)


@pytest.fixture(scope="module")
def samples(tok):
    return gen(tok, lengths=[1000, 4256, 16000])


def test_fields_and_grid_as_niah(samples):
    assert [(s["length"], s["depth"]) for s in samples] == [(n, d) for n in (1000, 4256, 16000) for d in DEPTHS]
    for s in samples:
        assert set(s) == {"id", "context", "query", "answers", "length", "depth", "context_tokens"}
        assert s["id"] == f"niah-{s['length']}-d{round(s['depth'] * 100):03d}-00"
        assert (s["query"], s["answers"]) == (QUESTION, [ANSWER])


def test_needle_after_a_period_token_within_the_budget(samples, tok):
    periods = set(tok.encode("."))
    needle = tok.count(NEEDLE)
    for s in samples:
        context = s["context"]
        assert context.count(NEEDLE) == 1, s["id"]
        before, after = context.split(NEEDLE)
        assert s["context_tokens"] == tok.count(context) <= s["length"] - RESERVE, s["id"]
        if round(s["depth"] * 100) == 100:
            assert after == "", s["id"]
        else:
            assert before == "" or tok.encode(before)[-1] in periods, s["id"]
            # the last period before the depth's token position: none between it and that position
            target = int((s["length"] - RESERVE - needle) * (round(s["depth"] * 100) / 100))
            assert tok.count(before) <= target, s["id"]
            assert not periods & set(tok.encode(before + after)[tok.count(before):target]), s["id"]


def test_context_is_the_essays_beginning_with_the_needle_in_it(samples, tok):
    haystack = essays_text()
    for s in samples:
        rest = s["context"].replace(NEEDLE, "", 1).rstrip("\ufffd")  # a cut inside a character's bytes
        assert haystack.startswith(rest), s["id"]
        # as long as the budget allows: a few tokens short at most (the cut, the re-encoding at the seams)
        assert tok.count(rest) >= s["length"] - RESERVE - tok.count(NEEDLE) - 4, s["id"]


def test_deterministic_and_seed_free(samples, tok):
    again = gen(tok, seed=7, lengths=[1000, 4256, 16000])
    assert samples_sha256(again) == samples_sha256(samples)


def test_loom_scope_grid_depths_are_its_integer_percents():
    assert [round(d * 100) for d in GRIDS["loom-scope"][1]] == [0, 11, 22, 33, 44, 56, 67, 78, 89, 100]


def test_version_has_no_filler_suffix():
    assert synthetic.generator_version("niah_essays") == synthetic.GENERATORS["niah_essays"].version


def test_wrong_or_missing_haystack_hash_is_refused(tok):
    with pytest.raises(InputError, match=r"params\.haystack_sha256: pinned 0{64} but the essays") as err:
        gen(tok, haystack_sha256="0" * 64)
    assert params()["haystack_sha256"] in str(err.value)
    with pytest.raises(InputError, match=r"params\.haystack_sha256: open pin"):
        gen(tok, haystack_sha256=None)
    with pytest.raises(InputError, match=r"params\.haystack_dir: missing"):
        gen(tok, haystack_dir=None)


def test_haystack_dir_leaving_the_manifest_folder_is_refused(tok, tmp_path):
    with pytest.raises(InputError, match=r"params\.haystack_dir: '\.\./essays' leaves the manifest's folder"):
        gen(tok, root=tmp_path, haystack_dir="../essays")
    (tmp_path / "essays").symlink_to(ESSAYS)
    with pytest.raises(InputError, match=r"params\.haystack_dir: 'essays' resolves outside"):
        gen(tok, root=tmp_path, haystack_dir="essays")


def test_haystack_dir_inside_the_manifest_folder(tok, tmp_path, samples):
    inside = tmp_path / "haystacks" / "essays"
    inside.mkdir(parents=True)
    for path in ESSAYS.glob("*.txt"):
        (inside / path.name).write_bytes(path.read_bytes())
    (inside / "notes.md").write_text("not an essay")
    assert gen(tok, root=tmp_path, haystack_dir="haystacks/essays", lengths=[1000]) == samples[:len(DEPTHS)]


def test_too_short_a_haystack_is_refused(tok, tmp_path):
    (tmp_path / "one.txt").write_text("A short essay. It ends here.")
    digest = hashlib.sha256(b"A short essay. It ends here.").hexdigest()
    with pytest.raises(InputError, match=r"params\.lengths: 1000 tokens need \d+ tokens of haystack"):
        gen(tok, haystack_dir=str(tmp_path), haystack_sha256=digest, lengths=[1000])


def test_param_types_are_checked():
    problems = synthetic.param_problems("niah_essays", {"haystack_sha256": 5, "haystack_dir": ["a"], "seed": 1})
    assert any(p.startswith("params.haystack_sha256:") for p in problems)
    assert any(p.startswith("params.haystack_dir:") for p in problems)
    assert any("unknown parameter(s) ['seed']" in p for p in problems)
    assert synthetic.param_problems("niah_essays", params()) == []


def test_pin_fills_the_haystack_hash_and_check_names_a_changed_essay(project, tok):
    """`loomctl pin` hashes the folder the manifest names into params.haystack_sha256 and pins the data made
    from it; a changed essay is then drift of both."""
    import json
    import shutil

    from loomctl import manifest as mf
    from loomctl import pins
    from tests.conftest import SHIPPED_MODEL

    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    shutil.copytree(ESSAYS, project / "haystacks" / "essays")
    path = project / "loombench-lite.json"
    data = json.loads(path.read_text())
    bench = next(b for b in data["benchmarks"] if b["name"] == "niah")
    bench["tasks"] = bench["tasks"][:1]
    bench["tasks"][0]["dataset"] = {
        "source": "generator", "generator": "niah_essays", "generator_version": "1", "seed": 1, "sha256": None,
        "params": {**params(lengths=[1000]), "haystack_dir": "haystacks/essays", "haystack_sha256": None}}
    data["benchmarks"] = [bench]
    path.write_text(json.dumps(data, indent=2) + "\n")
    manifest = mf.load_valid(path)
    assert "benchmarks/0/tasks/0/dataset/params/haystack_sha256" in mf.open_pins(manifest, for_run=True)
    computed = {pin.pointer: pin.value for pin in pins.compute(manifest)}
    assert computed["benchmarks/0/tasks/0/dataset/params/haystack_sha256"] == params()["haystack_sha256"]
    assert computed["benchmarks/0/tasks/0/dataset/sha256"] == samples_sha256(gen(tok, lengths=[1000]))
    pins.write(manifest, pins.compute(manifest))
    manifest = mf.load_valid(path)
    assert mf.open_pins(manifest) == []
    assert pins.drift(manifest, pins.compute(manifest)) == []
    first = project / "haystacks" / "essays" / "addiction.txt"  # the first essay: within the 1000 tokens
    first.write_text("Once " + first.read_text())
    problems = pins.drift(manifest, pins.compute(manifest))
    assert [p.split(":")[0] for p in problems] == ["benchmarks/0/tasks/0/dataset/params/haystack_sha256",
                                                   "benchmarks/0/tasks/0/dataset/sha256"]


def test_clean_up_tokenization_spaces_as_transformers_4_decodes(tok):
    """With clean_up_tokenization_spaces both decodes drop the space before '.' (the essays' first ' .' is
    'about .5 second', past 100,000 tokens of the shipped tokenizer)."""
    length = tok.count(essays_text().split("about .5 second")[0]) + 2000
    plain, cleaned = (gen(tok, lengths=[length], depths=[0.0], clean_up_tokenization_spaces=flag)[0]["context"]
                      for flag in (False, True))
    assert "about .5 second" in plain and "about .5 second" not in cleaned and "about.5 second" in cleaned
    assert " ." not in cleaned and NEEDLE in cleaned
    assert synthetic.param_problems("niah_essays", {"clean_up_tokenization_spaces": "yes"}) == [
        'params.clean_up_tokenization_spaces: "yes" is not true or false']
