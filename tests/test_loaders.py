"""Dataset loaders on real local files, and the hub loader failing closed when offline."""

from __future__ import annotations

import json

import pytest

from harness.data.loaders import check_pin
from loomcore.errors import InputError
from loomcore.hashing import samples_sha256
from loomcore.taskspec import Dataset
from tests.helpers import load_samples

ROWS = [{"_id": "a1", "input": "What?", "context": "Some text.", "answers": ["x"]},
        {"_id": "b2", "input": "Who?", "context": "Other text.", "answers": ["y", "z"]}]


def no_tokenizer():
    raise AssertionError("a file dataset must not need the tokenizer")


def test_jsonl_and_parquet_give_the_same_samples_and_hash(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "d.parquet")
    spec = {"source": "local", "fields": {"query": "input"}}
    a = load_samples({**spec, "path": "d.jsonl"}, tmp_path, no_tokenizer)
    b = load_samples({**spec, "path": "d.parquet"}, tmp_path, no_tokenizer)
    assert a == b
    assert [s["id"] for s in a] == ["a1", "b2"] and a[0]["query"] == "What?"
    assert check_pin(a, Dataset("local", sha256=samples_sha256(b)), "t") == samples_sha256(a)


def test_limit_and_missing_field(tmp_path):
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert len(load_samples({"source": "local", "path": "d.jsonl", "limit": 1}, tmp_path, no_tokenizer)) == 1
    with pytest.raises(InputError, match="no field 'question'"):
        load_samples({"source": "local", "path": "d.jsonl", "fields": {"query": "question"}}, tmp_path, no_tokenizer)


def test_one_changed_character_fails_the_pin(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pinned = samples_sha256(load_samples({"source": "local", "path": "d.jsonl"}, tmp_path, no_tokenizer))
    path.write_text(path.read_text().replace("Other", "Otter"))
    samples = load_samples({"source": "local", "path": "d.jsonl"}, tmp_path, no_tokenizer)
    with pytest.raises(InputError, match=pinned):
        check_pin(samples, Dataset("local", sha256=pinned), "task")


def test_hub_dataset_offline_and_uncached_fails_closed(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = {"source": "hub", "repo": "THUDM/LongBench", "config": "hotpotqa", "split": "test",
            "revision": "0123456789abcdef0123456789abcdef01234567"}
    with pytest.raises(InputError, match="not in the local cache"):
        load_samples(spec, tmp_path, no_tokenizer, data_dir=tmp_path / "cache")


def test_hub_dataset_without_revision_is_refused(tmp_path):
    spec = {"source": "hub", "repo": "THUDM/LongBench", "split": "test", "revision": None}
    with pytest.raises(InputError, match="no pinned commit"):
        load_samples(spec, tmp_path, no_tokenizer)


def test_generated_cache_is_reused_by_runs_but_never_by_pins(tmp_path, monkeypatch):
    from loomcore.tokenizer import ModelTokenizer
    from tests.conftest import SHIPPED_MODEL

    monkeypatch.setenv("LOOMCTL_DATA_CACHE", str(tmp_path / "cache"))
    tok = ModelTokenizer(SHIPPED_MODEL)
    spec = {"source": "generator", "generator": "ruler_vt", "generator_version": "1+h1", "seed": 5,
            "params": {"lengths": [256], "samples_per_length": 2}}
    fresh = load_samples(spec, tmp_path, lambda: tok)
    [cached] = (tmp_path / "cache").glob("*.jsonl")
    cached.write_text(cached.read_text().replace("VAR", "VAL"))  # a corrupted cache entry
    assert load_samples(spec, tmp_path, lambda: tok) != fresh  # a run reads it, and its pin check fails
    with pytest.raises(InputError):
        check_pin(load_samples(spec, tmp_path, lambda: tok), Dataset("local", sha256=samples_sha256(fresh)), "vt")
    assert load_samples(spec, tmp_path, lambda: tok, reuse_generated=False) == fresh  # a pin regenerates
