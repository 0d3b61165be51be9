"""Test helpers: a small pinned manifest on a real saved model, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tiny model's training mix: every task LOOMBench-lite had when the model was trained, as lite wrote them
# (lite has since dropped the four the model did not learn: niah_multikey, vt, cwe, fwe).
MIX = ROOT / "scripts" / "tiny_loom_mix.json"


def mix_tasks() -> dict[str, dict]:
    """The tasks of ``MIX`` by id."""
    return {t["id"]: t for b in json.loads(MIX.read_text())["benchmarks"] for t in b["tasks"]}

def loomctl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loomctl", *args], capture_output=True, text=True, **kwargs)


def copy_project(base: Path) -> Path:
    """A copy of manifests/ (schema, templates, lite manifest) under ``base``, with an empty models/."""
    root = Path(__file__).resolve().parents[1]
    project = base / "manifests"
    shutil.copytree(root / "manifests", project, ignore=shutil.ignore_patterns("models"))
    (project / "models").mkdir()
    return project


def small_manifest(project: Path, model_dir: Path, tasks: tuple[str, ...] = ("niah_single", "vt"),
                   lengths=(256, 512), per_length: int = 3, batch_size: int = 2, **truncation) -> Path:
    """The lite manifest cut down to a few short tasks on ``model_dir``, pinned. A task lite does not run
    (the four the tiny model did not learn: niah_multikey, vt, cwe, fwe) is taken from the model's training
    mix, ``MIX``, which holds every task lite had, as lite wrote it."""
    shutil.copytree(model_dir, project / "models" / "tiny-loom", dirs_exist_ok=True)
    path = project / "loombench-lite.json"
    data = json.loads(path.read_text())
    data["benchmarks"] = json.loads(MIX.read_text())["benchmarks"]
    data["engine"]["args"]["batch_size"] = batch_size
    data["defaults"]["truncation"].update(truncation)
    for bench in data["benchmarks"]:
        bench["tasks"] = [t for t in bench["tasks"] if t["id"] in tasks]
        for task in bench["tasks"]:
            params = task["dataset"]["params"]
            params["lengths"] = list(lengths)
            params["samples_per_cell" if task["dataset"]["generator"] == "niah" else "samples_per_length"] = per_length
    data["benchmarks"] = [b for b in data["benchmarks"] if b["tasks"]]
    path.write_text(json.dumps(data, indent=2) + "\n")
    result = loomctl("pin", str(path))
    assert result.returncode == 0, result.stderr
    return path


def small_run(base: Path, model_dir: Path, **kwargs) -> tuple[Path, Path]:
    """A pinned small manifest (see ``small_manifest``) run once under ``base``: (run dir, project)."""
    project = copy_project(base)
    manifest = small_manifest(project, model_dir, **kwargs)
    out = base / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, project


def load_samples(dataset: dict, *args, **kwargs) -> list[dict]:
    """``harness.data.loaders.load_samples`` of a dataset written as the manifest writes it (JSON)."""
    from harness.data.loaders import load_samples as load
    from loomcore.taskspec import Dataset

    return load(Dataset.from_json(dataset, "dataset"), *args, **kwargs)


RAY_ADDRESS = os.environ.get("LOOMCTL_TEST_RAY_ADDRESS", "127.0.0.1:6379")


def _needed_in_ci(reason: str) -> None:
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"this test must run in CI: {reason}")
    pytest.skip(reason)


def slurm_available() -> bool:
    return bool(shutil.which("sbatch")) and subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0


def slurm_or_skip() -> None:
    """A SLURM cluster answers here (CI: .ci/run starts a one-node one), or the test is skipped (failed in CI)."""
    if slurm_available():
        return
    _needed_in_ci("no SLURM cluster here (sbatch/sinfo); .ci/run starts a one-node one (scripts/slurm-up.sh)")


def ray_or_skip() -> str:
    """The address of a Ray head that answers (CI: .ci/run starts one), or the test is skipped (failed in CI)."""
    probe = "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False)"
    found = subprocess.run([sys.executable, "-c", probe, RAY_ADDRESS], capture_output=True, text=True, timeout=120)
    if found.returncode != 0:
        _needed_in_ci(f"no Ray head at {RAY_ADDRESS}; .ci/run starts one (`ray start --head`): {found.stderr[-300:]}")
    return RAY_ADDRESS
