"""`loomctl verify` catches each kind of tampering on a real run directory."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import loomctl, small_run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, random_model_dir):
    return small_run(tmp_path_factory.mktemp("verify"), random_model_dir, tasks=("niah_single", "vt"), per_length=2)


@pytest.fixture
def copy(bundle, tmp_path):
    out, project = bundle
    dest = tmp_path / "run"
    shutil.copytree(out, dest)
    return dest, project


def _verify(run, project):
    return loomctl("verify", str(run), "--model-dir", str(project / "models" / "tiny-loom"), "--root", str(project))


def _rows(run, task):
    path = run / "samples" / f"{task}.jsonl"
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows))


def test_untouched_bundle_is_consistent(copy):
    run, project = copy
    result = _verify(run, project)
    assert result.returncode == 0, result.stderr
    assert "consistent with its inputs" in result.stdout


def test_edited_prediction(copy):
    run, project = copy
    path, rows = _rows(run, "vt")
    rows[0]["prediction"] = " " + " ".join(rows[0]["references"])
    _write(path, rows)
    result = _verify(run, project)
    assert result.returncode == 1 and "recorded scores" in result.stderr


def test_changed_score_in_scores_json(copy):
    run, project = copy
    scores = json.loads((run / "scores.json").read_text())
    task = scores["tasks"]["vt"]
    task["score"] = 99.0  # the task's copy of its primary metric, alone: a self-contradicting file
    (run / "scores.json").write_text(json.dumps(scores))
    result = loomctl("verify", str(run))
    assert result.returncode == 2 and "scores.json/tasks/vt/score: '" in result.stderr
    task["metrics"][task["metric"]]["score"] = 99.0  # both: a consistent file whose records say otherwise
    (run / "scores.json").write_text(json.dumps(scores))
    result = loomctl("verify", str(run))
    assert result.returncode == 1 and "vt says 99.0" in result.stderr


def test_deleted_record(copy):
    run, project = copy
    path, rows = _rows(run, "niah_single")
    _write(path, rows[1:])
    result = _verify(run, project)
    assert result.returncode == 1
    assert f"{rows[0]['id']}: missing record" in result.stderr


def test_duplicated_record(copy):
    run, project = copy
    path, rows = _rows(run, "niah_single")
    _write(path, rows + rows[:1])
    result = loomctl("verify", str(run))
    assert result.returncode == 1 and "duplicated record" in result.stderr


def test_prompt_hash_not_matching_the_template(copy):
    run, project = copy
    path, rows = _rows(run, "vt")
    rows[1]["prompt_sha256"] = "f" * 64
    _write(path, rows)
    result = _verify(run, project)
    assert result.returncode == 1 and "prompt_sha256 does not match" in result.stderr
