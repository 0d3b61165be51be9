"""manifests/loom-scope-full.json: LOOM-Scope's 22 benchmarks, current with the tables, valid with its open
pins listed, and the ten benchmarks beyond LOOMBench's twelve run end to end on the tiny model and the
fixtures (the twelve are run by tests/test_loombench_v1.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from harness.benchmarks import BENCHMARKS, FAMILIES, LOOM_SCOPE, LOOM_SCOPE_FAMILIES
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl
from tests.loombench_tasks import run_on_fixtures

FULL = ROOT / "manifests" / "loom-scope-full.json"
NEW = [name for name in LOOM_SCOPE_FAMILIES if name not in FAMILIES]
SAMPLE_KEYS = ("samples_per_length", "samples_per_cell", "samples_per_size", "num_samples")
BUDGET = 32  # new tokens per answer in the run below: it tests the plumbing, the tiny model scores ~0 anyway


def test_manifest_is_generated_from_the_tables_and_validates_with_open_pins_listed():
    check = subprocess.run([sys.executable, "scripts/make_loombench_v1.py", "--suite", "loom-scope-full", "--check"],
                           cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    data = json.loads(FULL.read_text())
    assert [b["name"] for b in data["benchmarks"]] == list(LOOM_SCOPE_FAMILIES)
    assert {BENCHMARKS[b["name"]].capability for b in data["benchmarks"]} == set(LOOM_SCOPE)
    assert sum(len(b["tasks"]) for b in data["benchmarks"]) == sum(len(BENCHMARKS[n].tasks) for n in LOOM_SCOPE_FAMILIES)
    result = loomctl("validate", str(FULL))
    assert result.returncode == 0, result.stderr
    assert "open pin: model/weights_sha256" in result.stdout
    # a pin nobody could see is listed, never invented: NoLiMa's book and needle set
    nolima = LOOM_SCOPE_FAMILIES.index("nolima")
    for pin in ("needle_set_sha256", "haystack_sha256"):
        assert f"open pin: benchmarks/{nolima}/tasks/0/dataset/params/{pin}" in result.stdout


def _one_task_each(data: dict, project) -> dict:
    """The ten new benchmarks, each with its task of the shortest template, generated ones at two
    samples per cell and their two shortest lengths; every answer budget BUDGET."""
    data["benchmarks"] = [b for b in data["benchmarks"] if b["name"] in NEW]
    for bench in data["benchmarks"]:
        bench["tasks"] = [min(bench["tasks"], key=lambda t: (project / t["prompt"]["template_file"]).stat().st_size)]
        for task in bench["tasks"]:
            task["generation"]["max_new_tokens"] = BUDGET
            params = task["dataset"].get("params", {})
            for key in SAMPLE_KEYS:
                if key in params:
                    params[key] = 2
            if "lengths" in params:
                params["lengths"] = sorted(params["lengths"])[:2]
    return data


def _smaller_inputs(data: dict) -> None:
    """NoLiMa at 3 depths, LongHealth's letters packed to 2000 tokens: the inputs themselves are the committed
    fixtures' made-up stand-ins (tests/data/loombench/haystacks), which --fixtures reads."""
    nolima = next(b for b in data["benchmarks"] if b["name"] == "nolima")["tasks"][0]["dataset"]["params"]
    nolima.update(depth_intervals=3)
    longhealth = next(b for b in data["benchmarks"] if b["name"] == "longhealth")["tasks"][0]["dataset"]["params"]
    longhealth.update(prompt_max_len=2000)


def test_the_ten_benchmarks_beyond_loombench_run_to_a_score_on_the_tiny_model_and_fixtures(tmp_path):
    project = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", project, ignore=shutil.ignore_patterns("models", "haystacks"))
    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    data = _one_task_each(json.loads(FULL.read_text()), project)
    _smaller_inputs(data)
    path = project / "loom-scope-full.json"
    path.write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    result = run_on_fixtures(path, project, out)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((out / "scores.json").read_text())
    assert set(NEW) <= {t["benchmark"] for t in scores["tasks"].values()}
    assert all(t["n"] > 0 and t["score"] is not None for t in scores["tasks"].values()), scores["tasks"]
    judged_only = {name for name in NEW if BENCHMARKS[name].judged_only}
    assert set(scores["benchmarks"]) == set(NEW) - judged_only  # a judge-only benchmark is in no mean
    shown = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("capability: ")}
    assert shown == {BENCHMARKS[name].capability for name in set(NEW) - judged_only}
    effective = json.loads((out / "manifest.json").read_text())
    stood_in = {c["to"]["fixture"] for c in effective["substitutions"]["changes"] if "/dataset/params/" in c["field"]}
    assert stood_in == {"haystacks/NoLiMa/rand_shuffle/rand_book_1.txt", "haystacks/NoLiMa/needlesets/needle_set.json",
                        "haystacks/LongHealth/benchmark_v5.json"}
    verify = loomctl("verify", str(out))
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]


def test_every_missing_haystack_is_named_at_once_with_its_task(tmp_path):
    """Without the inputs nobody may commit (Kamradt's essays, NoLiMa's book, LongHealth's patients), the
    substituted run stops before generating anything, naming each task and field, exit 2."""
    project = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", project, ignore=shutil.ignore_patterns("models", "haystacks"))
    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    fixtures = tmp_path / "fixtures"  # the committed fixtures without their made-up stand-ins for those inputs
    shutil.copytree(ROOT / "tests" / "data" / "loombench", fixtures, ignore=shutil.ignore_patterns("haystacks"))
    result = run_on_fixtures(project / "loom-scope-full.json", project, tmp_path / "run", fixtures=fixtures)
    assert result.returncode == 2, result.stderr[-2000:]
    for task, field in (("niah", "haystack_dir"), ("nolima_needle_set", "haystack_path"),
                        ("longhealth_task1", "haystack_path"), ("longhealth_task3", "haystack_path")):
        assert f"({task}): dataset.params.{field}: " in result.stderr, task
    assert not (tmp_path / "run" / "samples").exists()
