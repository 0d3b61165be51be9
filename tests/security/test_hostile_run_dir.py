"""Threat model, run directories: a run directory may come from anyone (`verify`, `score`, `report`,
`diff`, `audit` read what others send), so reading one never writes, nothing in it is followed out of
it through a link, and a run directory has one writer at a time, whose harness dies with it.

Each test plants what an attacker (or an accident) would, and checks what the commands do with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest

GOLDEN_CLAIMS = ROOT / "golden" / "claims" / "loombench-leaderboard.json"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small finished run on the shipped model."""
    from tests.helpers import copy_project

    base = tmp_path_factory.mktemp("finished")
    project = copy_project(base)
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single", "vt"), lengths=(256,), per_length=2)
    out = base / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def _copy(finished: Path, tmp_path: Path) -> Path:
    run = tmp_path / "received"
    shutil.copytree(finished, run, ignore=shutil.ignore_patterns(".lock"))
    return run


@pytest.mark.parametrize("command", [("verify",), ("score",), ("report", "-o", "{tmp}/r.html")])
def test_a_symlinked_records_file_is_refused_and_its_target_untouched(finished, tmp_path, command):
    run = _copy(finished, tmp_path)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes((run / "samples" / "vt.jsonl").read_bytes() + b'{"torn')  # a torn last line
    before = outside.read_bytes()
    (run / "samples" / "vt.jsonl").unlink()
    (run / "samples" / "vt.jsonl").symlink_to(outside)
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    result = loomctl(args[0], str(run), *args[1:])
    assert result.returncode == 2, result.stderr[-2000:]
    assert "symlink" in result.stderr and "Traceback" not in result.stderr
    assert outside.read_bytes() == before


@pytest.mark.parametrize("command", [("verify",), ("score",)])
def test_reading_a_torn_records_file_never_writes_it(finished, tmp_path, command):
    run = _copy(finished, tmp_path)
    records = run / "samples" / "vt.jsonl"
    records.write_bytes(records.read_bytes() + b'{"id": "torn')
    before = records.read_bytes()
    loomctl(command[0], str(run))
    assert records.read_bytes() == before


def test_score_never_writes_through_a_planted_temporary_file(finished, tmp_path):
    run = _copy(finished, tmp_path)
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    for name in ("scores.json.tmp", ".scores.json.tmp"):
        (run / name).symlink_to(target)
    result = loomctl("score", str(run))
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.read_text() == "keep me\n"
    assert json.loads((run / "scores.json").read_text())["tasks"]
    assert not (run / "scores.json").is_symlink()


def test_a_second_writer_is_refused_naming_the_holder(finished, tmp_path):
    from loomctl.runtime import writer_lock

    run = _copy(finished, tmp_path)
    with writer_lock(run):
        result = loomctl("score", str(run))
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"another loomctl is writing this run directory (pid {os.getpid()}" in result.stderr
    assert loomctl("score", str(run)).returncode == 0  # released


def _slow_run(project: Path, out: Path) -> subprocess.Popen:
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(4096,), per_length=8,
                              batch_size=1)
    return subprocess.Popen([sys.executable, "-m", "loomctl", "run", str(manifest), "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def _wait_for_first_records(out: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = out / "samples" / "niah_single.jsonl"
        if path.exists() and path.read_bytes().count(b"\n") >= 1:
            return
        time.sleep(0.2)
    raise AssertionError("the run wrote no record in time")


def test_the_harness_dies_with_a_killed_loomctl_and_the_rerun_writes_each_sample_once(project, tmp_path):
    import psutil

    out = tmp_path / "run"
    loom = _slow_run(project, out)
    _wait_for_first_records(out)
    children = _children(loom.pid)
    assert children, "no harness child"
    loom.send_signal(signal.SIGKILL)
    loom.wait()
    gone, alive = psutil.wait_procs([psutil.Process(pid) for pid in children if psutil.pid_exists(pid)], timeout=30)
    assert not alive, "the harness outlived loomctl"
    result = loomctl("run", str(project / "loombench-lite.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in (out / "samples" / "niah_single.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 8


def test_a_harness_killed_by_a_signal_is_exit_3_naming_it(project, tmp_path):
    out = tmp_path / "run"
    loom = _slow_run(project, out)
    _wait_for_first_records(out)
    for pid in _children(loom.pid):
        os.kill(pid, signal.SIGKILL)
    _, stderr = loom.communicate(timeout=120)
    assert loom.returncode == 3, stderr[-2000:]
    assert "killed by SIGKILL" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1.5", "-0.5", '"1"'])
def test_diff_refuses_a_per_sample_score_that_is_not_a_score(finished, tmp_path, bad):
    run = _copy(finished, tmp_path)
    records = run / "samples" / "niah_single.jsonl"
    lines = records.read_text().splitlines()
    first = json.loads(lines[0])
    metric = next(iter(first["scores"]))
    lines[0] = lines[0].replace(f'"{metric}":{json.dumps(first["scores"][metric])}', f'"{metric}":{bad}', 1)
    assert lines[0] != records.read_text().splitlines()[0]
    records.write_text("\n".join(lines) + "\n")
    for fmt in ("table", "json"):
        result = loomctl("diff", str(run), str(finished), "--format", fmt)
        assert result.returncode == 2, (bad, fmt, result.stdout[-500:], result.stderr[-1000:])
        assert "Traceback" not in result.stderr


def test_diff_refuses_a_non_finite_task_score(finished, tmp_path):
    run = _copy(finished, tmp_path)
    scores = (run / "scores.json").read_text()
    task = next(iter(json.loads(scores)["tasks"]))
    data = json.loads(scores)
    data["tasks"][task]["score"] = float("nan")
    (run / "scores.json").write_text(json.dumps(data))  # Python writes the NaN literal
    result = loomctl("diff", str(run), str(finished))
    assert result.returncode == 2 and "not valid JSON" in result.stderr, result.stderr[-1000:]


def test_the_report_escapes_every_field_and_forbids_foreign_scripts(finished, tmp_path):
    """Markup planted in any field of a received run directory reaches the report as text."""
    run = _copy(finished, tmp_path)
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    records = run / "samples" / "vt.jsonl"
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    rows[0].update({"finish_reason": payload, "prompt_head": payload, "prompt_tail": payload})
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = json.loads((run / "scores.json").read_text())
    task = next(iter(scores["tasks"].values()))
    task["benchmark"] = payload  # strings in the typed scores: they pass the reader and must be escaped
    vt = scores["tasks"]["vt"]
    vt["metrics"][payload] = vt["metrics"].pop(vt["metric"])  # a metric named so, consistently
    vt["metric"] = payload
    (run / "scores.json").write_text(json.dumps(scores))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["manifest_digest"] = payload
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "r.html"
    result = loomctl("report", str(run), "-o", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    html = out.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("<script>") == 1  # the report's own
    assert "Content-Security-Policy" in html and "script-src 'sha256-" in html


@pytest.mark.parametrize("field, value", [("score", "high"), ("n", "<script>alert(1)</script>"), ("score", 100.5),
                                          ("n_skipped", -1), ("stderr", -0.1), ("by_length", [1])])
def test_a_report_of_a_malformed_run_directory_is_exit_2(finished, tmp_path, field, value):
    """The typed reader (loomcore.specs.Scores) refuses a field of the wrong type or range, naming it."""
    run = _copy(finished, tmp_path)
    scores = json.loads((run / "scores.json").read_text())
    scores["tasks"]["vt"][field] = value
    (run / "scores.json").write_text(json.dumps(scores))
    for command in (["report", str(run), "-o", str(tmp_path / "r.html")], ["verify", str(run)],
                    ["diff", str(run), str(finished)], ["audit", str(GOLDEN_CLAIMS), str(run)]):
        result = loomctl(*command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (command, result.stderr[-2000:])
        assert f"tasks/vt/{field}" in result.stderr, (command, result.stderr[-2000:])


@pytest.mark.parametrize("field, value", [("output_tokens", "<b>9</b>"), ("length", "1k"), ("input_tokens", -3),
                                          ("truncated", "no"), ("references", "42"), ("scores", {"m": 2}),
                                          ("surprise", 1)])
def test_a_record_of_the_wrong_shape_is_refused_naming_the_field(finished, tmp_path, field, value):
    """The typed record reader (Record.from_dict): a field of the wrong type, or one no record has, is
    exit 2 naming the file, the line and the field, for every command that reads records."""
    run = _copy(finished, tmp_path)
    records = run / "samples" / "vt.jsonl"
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    rows[1][field] = value
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for command in (["report", str(run), "-o", str(tmp_path / "r.html")], ["verify", str(run)],
                    ["diff", str(run), str(finished)], ["score", str(run)]):
        result = loomctl(*command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (command, result.stderr[-2000:])
        assert "vt.jsonl: line 2" in result.stderr and field in result.stderr, (command, result.stderr[-2000:])
