"""manifests/loombench-v1.json: current with the benchmark tables, valid with its open pins listed, refused
by a plain run, and run end to end on the tiny model and the fixtures (one task per benchmark)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl
from tests.loombench_tasks import run_on_fixtures

V1 = ROOT / "manifests" / "loombench-v1.json"
# NIAH's haystack, Kamradt's essays: data the user supplies (never committed), beside this checkout or at
# the workplace's shared folder
ESSAYS = next((p for p in (ROOT.parent / "shared" / "haystacks" / "PaulGrahamEssays",
                           Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()), None)


def test_manifest_is_generated_from_the_tables_and_validates_with_open_pins_listed():
    check = subprocess.run([sys.executable, "scripts/make_loombench_v1.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    result = loomctl("validate", str(V1))
    assert result.returncode == 0, result.stderr
    assert "open pin: model/weights_sha256" in result.stdout
    names = [b["name"] for b in json.loads(V1.read_text())["benchmarks"]]
    assert names == ["l_citeeval", "leval", "ruler", "longbench", "babilong", "counting_stars", "lveval",
                     "longbench_v2", "niah", "infinitebench", "longwriter", "libra"]


def test_full_suite_is_loom_scope_s_22_in_six_capabilities_and_named_while_a_table_is_missing():
    from harness.benchmarks import BENCHMARKS, CAPABILITY, LOOM_SCOPE, LOOM_SCOPE_FAMILIES

    assert len(LOOM_SCOPE) == 6 and len(LOOM_SCOPE_FAMILIES) == len(set(LOOM_SCOPE_FAMILIES)) == 22
    for name, bench in BENCHMARKS.items():
        assert bench.capability == CAPABILITY[name], name
    missing = [name for name in LOOM_SCOPE_FAMILIES if name not in BENCHMARKS]
    check = subprocess.run([sys.executable, "scripts/make_loombench_v1.py", "--suite", "loom-scope-full", "--check"],
                           cwd=ROOT, capture_output=True, text=True)
    if missing:
        assert check.returncode == 1 and f"no task table yet in harness/benchmarks/ for {', '.join(missing)}" \
            in check.stderr
    else:
        assert check.returncode == 0, check.stderr


def test_capability_scores_are_the_mean_of_their_benchmarks():
    from harness.scoring import capability_scores

    scores = capability_scores({"ruler": 40.0, "longbench": 10.0, "niah": 90.0, "babilong": 33.3333334})
    assert scores == {"general": 25.0, "reasoning": 33.333333, "retrieval": 90.0}
    assert list(scores) == sorted(scores)


def test_plain_run_refuses_the_open_pins(tmp_path):
    result = loomctl("run", str(V1), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "model/weights_sha256: open pin" in result.stderr


def test_every_benchmark_runs_to_a_score_on_the_tiny_model_and_fixtures(tmp_path):
    """One task per benchmark (generated ones at two samples per length), substituted model, engine
    and data, --limit 2: every benchmark gets a score; the substitutions are recorded. NIAH reads Kamradt's
    essays where the manifest names them (haystacks/PaulGrahamEssays beside it), pinned by their hash."""
    if ESSAYS is None:
        pytest.skip("Kamradt's essays (shared/haystacks/PaulGrahamEssays) are not beside this checkout")
    project = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", project, ignore=shutil.ignore_patterns("models", "haystacks"))
    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    shutil.copytree(ESSAYS, project / "haystacks" / "PaulGrahamEssays")
    data = json.loads(V1.read_text())
    for bench in data["benchmarks"]:
        # the task with the shortest template, so that it fits the tiny model's 8k window; for RULER, an
        # essay task, so that RULER's own generator reads the essay and punkt stand-ins of the fixtures
        bench["tasks"] = [next(t for t in bench["tasks"] if t["id"] == "ruler_niah_single_2") if bench["name"] == "ruler"
                          else min(bench["tasks"], key=lambda t: (project / t["prompt"]["template_file"]).stat().st_size)]
        for task in bench["tasks"]:
            params = task["dataset"].get("params", {})
            for key in ("samples_per_length", "samples_per_cell", "samples_per_size", "num_samples"):
                if key in params:
                    params[key] = 2
            if params.get("grid") == "loom-scope":  # NIAH: the grid's two shortest lengths, all its depths
                del params["grid"]
                params.update(lengths=[1000, 4256], depths=[0.0, 0.11, 0.22, 0.33, 0.44, 0.56, 0.67, 0.78, 0.89, 1.0])
    path = project / "loombench-v1.json"
    path.write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    # the committed fixtures without their made-up essays, so that the real ones beside the manifest are read;
    # under the manifest's folder, so the stand-ins are named by relative paths (the digest is the same anywhere)
    fixtures = project / "fixtures"
    shutil.copytree(ROOT / "tests" / "data" / "loombench", fixtures,
                    ignore=lambda folder, names: ["PaulGrahamEssays"] if Path(folder).name == "haystacks" else [])
    result = run_on_fixtures(path, project, out, fixtures=fixtures)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["benchmarks"]) == {b["name"] for b in data["benchmarks"]}
    assert scores["average"] is not None
    effective = json.loads((out / "manifest.json").read_text())
    whys = {c["why"] for c in effective["substitutions"]["changes"]}
    assert {"--model", "--engine", "--fixtures"} <= whys
    stood_in = {c["field"].rsplit("/", 1)[-1] for c in effective["substitutions"]["changes"]
                if c["why"] == "--fixtures" and "/params/" in c["field"]}
    assert {"essay_path", "punkt_dir"} <= stood_in, "RULER's essay task reads the fixtures' stand-ins"
    _same_as_reference(out)


REFERENCE = ROOT / "tests" / "data" / "reference" / "loombench-v1-limit2"


def _same_as_reference(out: Path) -> None:
    """Refactors keep every record and score byte-identical: this run's records and scores.json equal
    the reference written by the code before them (LOOMCTL_WRITE_REFERENCE=1 rewrites the reference,
    for a deliberate change of records, to be committed with that change)."""
    produced = sorted((out / "samples").glob("*.jsonl")) + [out / "scores.json"]
    if os.environ.get("LOOMCTL_WRITE_REFERENCE") == "1":
        shutil.rmtree(REFERENCE, ignore_errors=True)
        (REFERENCE / "samples").mkdir(parents=True)
        for path in produced:
            shutil.copyfile(path, REFERENCE / path.relative_to(out))
    expected = sorted((REFERENCE / "samples").glob("*.jsonl")) + [REFERENCE / "scores.json"]
    assert [p.relative_to(REFERENCE) for p in expected] == [p.relative_to(out) for p in produced]
    for path in produced:
        assert path.read_bytes() == (REFERENCE / path.relative_to(out)).read_bytes(), path.relative_to(out)

