"""Fuzzing the commands that read received run directories: whatever bytes a record line or a run
directory's JSON file holds, `verify`, `diff`, `report`, `score` and `audit` exit 0, 1 or 2 — never 3
("internal error") — and nothing is written outside the run directory and `-o`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loomctl.cli import app
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import copy_project, loomctl, small_manifest

CLAIMS = ROOT / "golden" / "claims" / "loombench-leaderboard.json"
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=4),
                           max_leaves=12)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    project = copy_project(base)
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=2)
    out = base / "run"
    assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    return out


def _commands(run: Path, other: Path, html: Path) -> list[list[str]]:
    return [["verify", str(run)], ["diff", str(run), str(other)], ["diff", str(other), str(run), "--format", "json"],
            ["report", str(run), "-o", str(html)], ["score", str(run)], ["audit", str(CLAIMS), str(run)]]


def _check(tmp_path: Path, finished: Path, plant) -> None:
    run = tmp_path / "run"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(finished, run, ignore=shutil.ignore_patterns(".lock"))
    plant(run)
    before = sorted(p.name for p in tmp_path.iterdir())
    runner = CliRunner()
    for command in _commands(run, finished, tmp_path / "r.html"):
        result = runner.invoke(app, command)
        assert result.exit_code in (0, 1, 2), (command, result.exit_code, result.output[-1500:])
    after = sorted(p.name for p in tmp_path.iterdir())
    assert set(after) - set(before) <= {"r.html"}


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(line=st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_any_record_line(finished, tmp_path_factory, line):
    tmp_path = tmp_path_factory.mktemp("line")

    def plant(run: Path) -> None:
        records = run / "samples" / "niah_single.jsonl"
        records.write_bytes(records.read_bytes() + line + b"\n")
    _check(tmp_path, finished, plant)


@SETTINGS
@given(name=st.sampled_from(["scores.json", "manifest.json", "environment.json"]), value=JSON_VALUES)
def test_any_run_directory_json(finished, tmp_path_factory, name, value):
    tmp_path = tmp_path_factory.mktemp("json")

    def plant(run: Path) -> None:
        (run / name).write_text(json.dumps(value))
    _check(tmp_path, finished, plant)


@SETTINGS
@given(field=st.sampled_from(["id", "scores", "prediction", "references", "length", "input_tokens", "finish_reason",
                              "truncated", "meta"]), value=JSON_VALUES)
def test_any_record_field(finished, tmp_path_factory, field, value):
    tmp_path = tmp_path_factory.mktemp("field")

    def plant(run: Path) -> None:
        records = run / "samples" / "niah_single.jsonl"
        rows = [json.loads(line) for line in records.read_text().splitlines()]
        rows[0][field] = value
        records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _check(tmp_path, finished, plant)
