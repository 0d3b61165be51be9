"""`loomctl run --runtime venv`: the harness in an environment uv builds from the flavour's hashed lock,
offline from the wheelhouse .ci/run downloads; records byte-identical to this Python's, the
environment reused by its lock's hash, a half-built one rebuilt."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from loomcore.hashing import sha256_text
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest

WHEELHOUSE = Path(os.environ.get("LOOMCTL_WHEELHOUSE", ROOT / ".ci-cache" / "wheelhouse"))


@pytest.fixture(scope="module")
def venv_cache(tmp_path_factory) -> Path:
    if not any(WHEELHOUSE.glob("torch-*.whl")):
        if os.environ.get("CI"):
            pytest.fail(f"no wheelhouse at {WHEELHOUSE}: .ci/run downloads it from images/lock-cpu.txt")
        pytest.skip(f"no wheelhouse at {WHEELHOUSE}; .ci/run downloads it from images/lock-cpu.txt")
    return tmp_path_factory.mktemp("venvs")


def _venv_run(manifest: Path, out: Path, cache: Path, *extra: str):
    return loomctl("run", str(manifest), "--runtime", "venv", "--wheelhouse", str(WHEELHOUSE), "--out", str(out),
                   *extra, env={**os.environ, "LOOMCTL_VENV_CACHE": str(cache)})


def test_lite_tasks_in_the_venv_equal_the_local_run_and_the_venv_is_reused(venv_cache, project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single", "vt", "counting_stars"),
                              lengths=(512, 1024), per_length=3)
    local, first, second = tmp_path / "local", tmp_path / "venv", tmp_path / "venv-again"
    assert loomctl("run", str(manifest), "--out", str(local)).returncode == 0
    built = _venv_run(manifest, first, venv_cache)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "venv: built" in built.stderr
    for records in sorted((local / "samples").glob("*.jsonl")):
        assert (first / "samples" / records.name).read_bytes() == records.read_bytes(), records.name
    assert (first / "scores.json").read_bytes() == (local / "scores.json").read_bytes()

    lock = (ROOT / "images" / "lock-cpu.txt").read_text()
    runtime = json.loads((first / "manifest.json").read_text())["runtime"]
    assert runtime["kind"] == "venv" and runtime["flavour"] == "cpu" and runtime["lock"] == "images/lock-cpu.txt"
    assert runtime["lock_sha256"] == sha256_text(lock)
    assert Path(runtime["path"]).parent == venv_cache and runtime["path"].endswith(sha256_text(lock)[:16])
    # the harness ran on the environment's Python, with the lock's versions
    environment = json.loads((first / "environment.json").read_text())
    locked = dict(line.split(" ")[0].split("==") for line in lock.splitlines() if line and not line.startswith("#"))
    assert environment["transformers"] == locked["transformers"] and environment["torch"] == locked["torch"]
    assert environment["python"] == runtime["python"]

    again = _venv_run(manifest, second, venv_cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"venv: reusing {runtime['path']}" in again.stderr and "venv: built" not in again.stderr
    assert (second / "scores.json").read_bytes() == (local / "scores.json").read_bytes()


def test_a_half_built_environment_is_rebuilt(venv_cache, tmp_path, monkeypatch):
    """A build that was killed leaves a folder without the completion mark: the next run rebuilds it."""
    from loomctl import venvs

    cache = tmp_path / "venvs"
    data = json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())
    lock = (ROOT / "images" / "lock-cpu.txt").read_text()
    stale = cache / f"cpu-{sha256_text(lock)[:16]}"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").write_text("not a python\n")
    monkeypatch.setenv("LOOMCTL_VENV_CACHE", str(cache))
    venv = venvs.ensure(data, WHEELHOUSE)
    assert not venv.reused and venv.path == stale
    assert json.loads((stale / venvs.MARK).read_text())["lock_sha256"] == sha256_text(lock)
    assert venvs.ensure(data, WHEELHOUSE).reused


def test_a_manifest_the_lock_cannot_serve_is_refused_before_anything_is_built(project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    data["engine"]["version"] = "5.24.0"
    manifest.write_text(json.dumps(data, indent=2) + "\n")
    cache = tmp_path / "venvs"
    result = _venv_run(manifest, tmp_path / "run", cache)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "engine/version: the manifest pins transformers 5.24.0, images/lock-cpu.txt installs 5.23.0" in result.stderr
    assert not cache.exists() or not any(cache.iterdir())
    assert not (tmp_path / "run").exists()


def test_an_offline_build_without_the_wheels_is_a_runtime_failure_naming_the_wheelhouse(project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    result = loomctl("run", str(manifest), "--runtime", "venv", "--wheelhouse", str(empty), "--out",
                     str(tmp_path / "run"), env={**os.environ, "LOOMCTL_VENV_CACHE": str(tmp_path / "venvs")})
    assert result.returncode == 3, result.stderr[-2000:]
    assert "--runtime venv: installing images/lock-cpu.txt failed" in result.stderr
    assert not list((tmp_path / "venvs").glob(f"cpu-*/{'.loomctl-venv.json'}"))


def test_the_judge_pass_in_the_venv_equals_the_local_one(venv_cache, project, tmp_path):
    """`loomctl judge --runtime venv`: the same judge rows and scores as the local pass, the
    environment (lock and its sha256) named in judge_scores.json, passed as an argument."""
    import shutil

    from tests.test_judge import CITEEVAL_TASK, judged_citeeval_run

    venv, local = tmp_path / "venv", tmp_path / "local"
    judged_citeeval_run(project, tmp_path, venv)
    shutil.copytree(venv, local)
    result = loomctl("judge", str(venv), "--root", str(project), "--runtime", "venv", "--wheelhouse", str(WHEELHOUSE),
                     env={**os.environ, "LOOMCTL_VENV_CACHE": str(venv_cache)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert loomctl("judge", str(local), "--root", str(project)).returncode == 0
    rows = (venv / "judge" / f"{CITEEVAL_TASK}.jsonl").read_bytes()
    assert rows == (local / "judge" / f"{CITEEVAL_TASK}.jsonl").read_bytes()
    in_venv, here = (json.loads((d / "judge_scores.json").read_text()) for d in (venv, local))
    assert here.pop("runtime") == {"kind": "local"}
    runtime = in_venv.pop("runtime")
    assert runtime["kind"] == "venv" and runtime["venv"]["lock"] == "images/lock-cpu.txt"
    assert runtime["venv"]["lock_sha256"] == sha256_text((ROOT / "images" / "lock-cpu.txt").read_text())
    assert in_venv == here
