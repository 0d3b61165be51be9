"""Manifest schema v1 and `loomctl validate | show` on the shipped and the broken manifests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted((ROOT / "tests/data/bad_manifests").glob("*.json"))
PROBLEM_LINE = re.compile(r"^\S+\.json(:\d+:\d+)?: \S.* — \S.+$")


def loomctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loomctl", *args], cwd=cwd, capture_output=True, text=True)


def test_shipped_manifests_are_valid():
    shipped = sorted(str(p) for p in (ROOT / "manifests").glob("*.json"))
    assert shipped
    result = loomctl("validate", *shipped)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_at_least_fifteen_broken_manifests_are_kept():
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_broken_manifest_fails_with_one_line_per_problem(path):
    result = loomctl("validate", str(path.relative_to(ROOT)))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines, "no problem printed"
    for line in lines:
        assert PROBLEM_LINE.match(line), line
    assert "Traceback" not in result.stderr


def test_problem_names_the_field():
    result = loomctl("validate", "tests/data/bad_manifests/hub_branch_revision.json")
    assert "benchmarks/0/tasks/0/dataset/revision: 'main' is not a commit" in result.stderr


def test_all_problems_reported_at_once(tmp_path):
    data = json.loads((ROOT / "tests/data/valid_minimal.json").read_text())
    data["engine"]["name"] = "llama.cpp"
    data["benchmarks"][0]["name"] = "nope"
    data["defaults"]["generation"]["max_new_tokens"] = "x"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    result = loomctl("validate", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 3, result.stderr


def test_valid_manifest_lists_open_pins():
    result = loomctl("validate", "tests/data/valid_minimal.json")
    assert result.returncode == 0
    assert "open pin: model/weights_sha256" in result.stdout


def test_template_larger_than_budget_is_caught(project):
    import shutil

    from tests.conftest import SHIPPED_MODEL

    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    data = json.loads((project / "loombench-lite.json").read_text())
    data["benchmarks"][0]["tasks"][0]["truncation"] = {"budget_tokens": 40}
    data["benchmarks"][0]["tasks"][0]["generation"] = {"max_new_tokens": 16}
    (project / "loombench-lite.json").write_text(json.dumps(data))
    result = loomctl("validate", str(project / "loombench-lite.json"))
    assert result.returncode == 2
    assert "the template alone is" in result.stderr


def test_show_prints_effective_settings_and_digest():
    from loomctl import manifest as mf

    result = loomctl("show", "manifests/loombench-lite.json", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["digest"] == mf.load(ROOT / "manifests/loombench-lite.json").digest
    multivalue = next(t for t in shown["tasks"] if t["id"] == "niah_multivalue")
    # suite defaults reach the task, the task's own settings override them
    assert multivalue["truncation"]["policy"] == "middle"
    assert multivalue["generation"]["max_new_tokens"] == 48
    assert multivalue["generation"]["stop"] == ["\n"]


def test_digest_ignores_formatting_but_not_content(tmp_path):
    from loomctl import manifest as mf

    data = json.loads((ROOT / "tests/data/valid_minimal.json").read_text())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(data, indent=4))
    b.write_text(json.dumps(data, separators=(",", ":")))
    assert mf.load(a).digest == mf.load(b).digest
    data["defaults"]["generation"]["max_new_tokens"] = 33
    b.write_text(json.dumps(data))
    assert mf.load(a).digest != mf.load(b).digest


def test_help_starts_without_torch():
    code = "import sys; from loomctl.cli import app; assert 'torch' not in sys.modules; assert 'transformers' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert loomctl("--help").returncode == 0
