"""`loomctl diff`: the statistics, the formats, and the gate on real run directories."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from loomctl.compare import compare, holm, mcnemar_worse_p
from tests.helpers import copy_project, loomctl, small_manifest


def test_exact_mcnemar_one_sided():
    # 8 discordant pairs, 7 of them losses: P(X >= 7 | n=8, 1/2) = (8 + 1) / 256
    assert mcnemar_worse_p(7, 1) == pytest.approx(9 / 256)
    assert mcnemar_worse_p(0, 0) == 1.0
    assert mcnemar_worse_p(0, 5) == 1.0


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def test_tarone_pruning_drops_tests_that_cannot_be_significant():
    # two informative tests and seven with no discordant pairs (min attainable p = 1)
    p = [0.004, 0.01] + [1.0] * 7
    plain = holm(p)
    pruned = holm(p, [0.0001, 0.0001] + [1.0] * 7, alpha=0.05)
    assert plain[0] == pytest.approx(0.036) and plain[1] == pytest.approx(0.08)
    assert pruned[0] == pytest.approx(0.008) and pruned[1] == pytest.approx(0.01)
    assert pruned[2:] == [1.0] * 7


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, random_model_dir):
    base = tmp_path_factory.mktemp("diff")
    project = copy_project(base)
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single", "vt"), per_length=4)
    golden, new = base / "golden", base / "new"
    for out in (golden, new):
        assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    return golden, new


def _flip(run_dir, task, to_value, count):
    """Edit a run's records as if the new model had answered differently."""
    path = run_dir / "samples" / f"{task}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows[:count]:
        row["scores"] = {k: to_value for k in row["scores"]}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = json.loads((run_dir / "scores.json").read_text())
    values = [next(iter(r["scores"].values())) for r in rows]
    entry = scores["tasks"][task]
    entry["score"] = entry["metrics"][entry["metric"]]["score"] = 100 * sum(values) / len(values)
    (run_dir / "scores.json").write_text(json.dumps(scores))


def test_identical_runs_pass_and_name_no_pin(two_runs):
    golden, new = two_runs
    result = compare(new, golden)
    assert result["verdict"] == "PASS"
    assert result["pin_differences"] == []
    assert {r["task"] for r in result["tasks"]} == {"niah_single", "vt"}
    assert {b["bucket"] for b in result["buckets"]} == {"256", "512"}


def test_a_large_drop_fails_and_exits_1(two_runs, tmp_path):
    golden, new = two_runs
    g, n = tmp_path / "g", tmp_path / "n"
    shutil.copytree(golden, g)
    shutil.copytree(new, n)
    _flip(g, "vt", 1.0, 8)  # golden right on all 8, new wrong on all 8
    result = compare(n, g)
    vt = next(r for r in result["tasks"] if r["task"] == "vt")
    assert vt["verdict"] == "FAIL" and vt["delta"] == pytest.approx(-100.0)
    assert vt["p_worse"] == pytest.approx(1 / 256, abs=1e-6)
    cli = loomctl("diff", str(n), str(g))
    assert cli.returncode == 1
    assert "verdict: FAIL" in cli.stdout


def test_formats(two_runs, tmp_path, monkeypatch):
    golden, new = two_runs
    junit = loomctl("diff", str(new), str(golden), "--format", "junit")
    suite = ET.fromstring(junit.stdout)
    assert suite.get("tests") == "3" and suite.get("failures") == "0"  # the suite and two tasks
    as_json = json.loads(loomctl("diff", str(new), str(golden), "--format", "json").stdout)
    assert as_json["verdict"] == "PASS"
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "PATH": "/usr/bin:/bin"}
    import os
    md = loomctl("diff", str(new), str(golden), "--format", "markdown", env={**os.environ, **env})
    assert md.stdout.startswith("### loomctl diff")
    assert "| vt |" in summary.read_text()


def test_the_suite_average_is_tested_paired_and_printed_first(two_runs):
    golden, new = two_runs
    result = compare(new, golden)
    suite = result["suite"]
    published = json.loads((golden / "scores.json").read_text())["average"]
    assert suite["golden"] == pytest.approx(published, abs=1e-3) and suite["delta"] == 0
    assert suite["p_worse"] == 1.0 and suite["verdict"] == "PASS"
    table = loomctl("diff", str(new), str(golden)).stdout.splitlines()
    assert table[4].startswith("suite average")  # after the two side labels, the header and its rule


def test_a_drop_spread_over_tasks_fails_the_suite_where_no_task_fails(two_runs, tmp_path):
    golden, new = two_runs
    g, n = tmp_path / "g", tmp_path / "n"
    shutil.copytree(golden, g)
    shutil.copytree(new, n)
    for task in ("niah_single", "vt"):
        _flip(g, task, 1.0, 3)  # golden right on 3 samples of each task, new wrong on them
        _flip(n, task, 0.0, 3)
    result = compare(n, g)
    tasks = {r["task"]: r for r in result["tasks"]}
    # each task alone: 3 losses, McNemar p = 1/8, not significant
    assert all(r["p_worse"] == pytest.approx(1 / 8) and r["verdict"] != "FAIL" for r in tasks.values())
    # together, stratified: all 6 differing pairs are losses; p ~ 1/64 stays below alpha after Holm
    suite = result["suite"]
    assert suite["p_worse"] == pytest.approx(1 / 64, abs=0.01) and suite["p_holm"] < 0.05
    assert suite["delta"] == pytest.approx(-6 / 16 * 100) and suite["verdict"] == "FAIL"
    assert result["verdict"] == "FAIL" and loomctl("diff", str(n), str(g)).returncode == 1
    junit = ET.fromstring(loomctl("diff", str(n), str(g), "--format", "junit").stdout)
    assert junit.get("failures") == "1"

    # the suite's margin is the golden tolerance's suite.margin
    tolerance = json.loads((golden / "tolerance.json").read_text()) if (golden / "tolerance.json").exists() else {}
    (g / "tolerance.json").write_text(json.dumps({**tolerance, "suite": {"margin": 50.0}}))
    relaxed = compare(n, g)
    assert relaxed["suite"]["margin"] == 50.0 and relaxed["suite"]["verdict"] != "FAIL"


def test_aggregate_only_golden_falls_back_to_unpaired(two_runs):
    golden, new = two_runs
    result = compare(new, golden / "scores.json")
    row = result["tasks"][0]
    assert row["test"].startswith("unpaired")
    assert any("unpaired" in note for note in row["notes"])
    assert result["pin_differences"] == ["(one side has no effective manifest: pins cannot be compared)"]


def test_changed_pin_is_named(two_runs, tmp_path):
    golden, new = two_runs
    n = tmp_path / "n"
    shutil.copytree(new, n)
    manifest = json.loads((n / "manifest.json").read_text())
    manifest["tasks"][0]["truncation"]["policy"] = "left"
    (n / "manifest.json").write_text(json.dumps(manifest))
    diffs = compare(n, golden)["pin_differences"]
    assert any('truncation.policy: "middle" -> "left"' in d for d in diffs)
