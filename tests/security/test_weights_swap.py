"""Threat model, weights: what the records name is what was loaded. The weights are hashed from the
handles their identity is taken from, and checked again once the engine has loaded them, so a file
swapped between hashing and loading (or swapped and swapped back) stops the run, exit 2."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import harness.run as pipeline
from loomcore.errors import EXIT_INVALID_INPUT, InputError
from loomcore.hashing import HashCache, file_sha256
from loomctl import manifest as mf
from loomctl.runtime import LocalRuntime
from tests.conftest import SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest


def _evil_copy(weights, tmp_path):
    """The same safetensors file with its last tensor bytes changed: it loads, it computes otherwise."""
    evil = tmp_path / "evil.safetensors"
    shutil.copyfile(weights, evil)
    with evil.open("r+b") as handle:
        handle.seek(-16, os.SEEK_END)
        handle.write(b"\x7f" * 16)
    assert file_sha256(evil) != file_sha256(weights)
    return evil


def _prepared(project, tmp_path):
    manifest_path = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    manifest = mf.load_valid(manifest_path)
    out = tmp_path / "run"
    LocalRuntime().prepare(manifest, out, None, None, False)
    return manifest, out, project / "models" / "tiny-loom"


@pytest.mark.parametrize("how", ["replaced", "swapped-and-back", "written-in-place-and-back"])
def test_weights_changed_between_hashing_and_loading_stop_the_run(project, tmp_path, monkeypatch, how):
    manifest, out, model_dir = _prepared(project, tmp_path)
    weights = model_dir / "model.safetensors"
    evil = _evil_copy(weights, tmp_path)
    real_load = pipeline.load_engine

    def racing_load(*args, **kwargs):
        if how == "replaced":
            os.replace(evil, weights)
            return real_load(*args, **kwargs)
        if how == "swapped-and-back":
            os.rename(weights, tmp_path / "original.safetensors")
            os.rename(evil, weights)
            engine = real_load(*args, **kwargs)
            os.rename(weights, evil)
            os.rename(tmp_path / "original.safetensors", weights)
            return engine
        original = weights.read_bytes()
        stat = weights.stat()
        weights.write_bytes(evil.read_bytes())
        engine = real_load(*args, **kwargs)
        weights.write_bytes(original)
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return engine

    monkeypatch.setattr(pipeline, "load_engine", racing_load)
    with pytest.raises(InputError) as caught:
        pipeline.run(out, model_dir, manifest.root)
    assert caught.value.exit_code == EXIT_INVALID_INPUT
    assert "model/files: model.safetensors" in caught.value.problems[0]
    assert "changed while the model was being loaded" in caught.value.problems[0]
    assert not any(line.strip() for f in out.glob("samples/*.jsonl") for line in f.read_text().splitlines())


def test_an_unchanged_folder_passes_the_check_after_loading(project, tmp_path):
    """The control: the same run with nobody touching the folder finishes."""
    manifest, out, model_dir = _prepared(project, tmp_path)
    scores = pipeline.run(out, model_dir, manifest.root)
    assert scores.tasks


def test_no_cache_hashes_every_byte_even_when_the_cache_is_fooled(project, tmp_path, monkeypatch):
    """`pin --check --no-cache` reads the bytes: a cache entry forged to the file's identity does not count."""
    manifest_path = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    weights = project / "models" / "tiny-loom" / "model.safetensors"
    cache_path = tmp_path / "forged.json"
    monkeypatch.setenv("LOOMCTL_HASH_CACHE", str(cache_path))
    cache = HashCache(cache_path)
    cache.sha256(weights)
    cache.save()
    entries = json.loads(cache_path.read_text())
    entries[str(weights.resolve())]["sha256"] = "0" * 64  # what a cache poisoned by anyone would say
    cache_path.write_text(json.dumps(entries))
    env = {**os.environ, "LOOMCTL_HASH_CACHE": str(cache_path)}
    fooled = loomctl("pin", str(manifest_path), "--check", env=env)
    assert fooled.returncode == 1 and "model" in fooled.stderr
    entries = json.loads(cache_path.read_text())  # the other files hashed and cached by that check
    audited = loomctl("pin", str(manifest_path), "--check", "--no-cache", env=env)
    assert audited.returncode == 0, audited.stderr[-2000:]
    run = loomctl("run", str(manifest_path), "--no-cache", "--out", str(tmp_path / "run"), env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(cache_path.read_text()) == entries  # --no-cache neither reads nor writes the cache
