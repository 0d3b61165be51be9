"""The pipeline end to end on CPU with a real saved transformers model: determinism, resume, re-score."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import loomctl, small_manifest


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(run_dir).as_posix(): p.read_bytes()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.parts[-2] in ("samples",)} | {
        "scores.json": (run_dir / "scores.json").read_bytes()}


def test_two_runs_are_byte_identical(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir)
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = loomctl("run", str(manifest), "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert _files(a) == _files(b)
    records = [json.loads(line) for line in (a / "samples" / "vt.jsonl").read_text().splitlines()]
    assert len(records) == 6
    for record in records:
        assert len(record["prompt_sha256"]) == 64
        assert record["input_tokens"] <= record["input_tokens_before"]
        assert record["output_tokens"] <= 32
    env = json.loads((a / "environment.json").read_text())
    assert env["engine"]["transformers"] and env["torch"]
    scores = json.loads((a / "scores.json").read_text())
    assert scores["manifest_digest"] == json.loads((a / "manifest.json").read_text())["manifest_digest"]
    assert set(scores["tasks"]["vt"]["by_length"]) == {"256", "512"}


def test_sigkill_mid_task_then_resume_gives_the_same_records(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single",), lengths=(256, 512, 1024),
                              per_length=6, batch_size=1)
    whole = tmp_path / "whole"
    assert loomctl("run", str(manifest), "--out", str(whole)).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "loomctl", "run", str(manifest), "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    records = killed / "samples" / "niah_single.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and the harness child, like a node going down
    proc.wait()
    done_before = len(records.read_text().splitlines())
    assert 4 <= done_before < 18, "the kill did not land mid-task"

    result = loomctl("run", str(manifest), "--out", str(killed))
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr
    assert records.read_bytes() == (whole / "samples" / "niah_single.jsonl").read_bytes()
    ids = [json.loads(line)["id"] for line in records.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 18


def _command_lines() -> list[bytes]:
    """Every process's command line (Linux /proc), skipping processes that end while being read."""
    lines = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(path.read_bytes())
        except OSError:
            pass
    return lines


def test_sigterm_to_loomctl_stops_the_harness_child_and_keeps_finished_samples(project, random_model_dir, tmp_path):
    """SIGTERM to the CLI alone (a cancelled CI job): the harness child is stopped too, not left
    running, exit 3, and the finished samples are kept for the resume."""
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single",), lengths=(1024,), per_length=40,
                              batch_size=1)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "loomctl", "run", str(manifest), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    records = out / "samples" / "niah_single.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if records.exists() and len(records.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr[-2000:]
    assert "interrupted" in stderr
    time.sleep(0.5)
    assert not [cmd for cmd in _command_lines() if str(out).encode() in cmd and b"harness" in cmd], \
        "the harness child was left running"
    done = len(records.read_text().splitlines())
    assert 2 <= done < 40
    time.sleep(1)
    assert len(records.read_text().splitlines()) == done, "samples were still being written"


def test_torn_last_line_is_dropped_and_redone(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("vt",), batch_size=1)
    out = tmp_path / "run"
    assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    path = out / "samples" / "vt.jsonl"
    complete = path.read_bytes()
    path.write_bytes(complete[: len(complete) - 40])  # a kill in the middle of the last write
    assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    assert path.read_bytes() == complete


def test_score_from_records_alone_is_identical(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir)
    out = tmp_path / "run"
    assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    before = (out / "scores.json").read_bytes()
    (out / "scores.json").unlink()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = loomctl("score", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert (out / "scores.json").read_bytes() == before


def test_changed_data_pin_stops_before_inference(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("vt",))
    data = json.loads(manifest.read_text())
    data["benchmarks"][0]["tasks"][0]["dataset"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 2
    assert "vt/dataset/sha256: the samples hash to" in result.stderr
    assert "0" * 64 in result.stderr
    assert not (out / "samples").exists()


def test_a_later_tasks_bad_pin_stops_the_run_after_the_earlier_task_is_done(project, random_model_dir, tmp_path):
    """Task 2 is prepared in the background while task 1 generates: its data hash mismatch still stops
    the run (exit 2) when task 2 starts, with task 1 finished and its records those of a clean run."""
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single", "vt"))
    clean = tmp_path / "clean"
    assert loomctl("run", str(manifest), "--out", str(clean)).returncode == 0
    data = json.loads(manifest.read_text())
    tasks = [t for b in data["benchmarks"] for t in b["tasks"]]
    first, last = tasks[0]["id"], tasks[-1]["id"]
    tasks[-1]["dataset"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert f"{last}/dataset/sha256: the samples hash to" in result.stderr
    assert (out / "samples" / f"{first}.jsonl").read_bytes() == (clean / "samples" / f"{first}.jsonl").read_bytes()
    assert not (out / "samples" / f"{last}.jsonl").exists()


def test_changed_weights_stop_the_run(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("vt",))
    config = project / "models" / "tiny-loom" / "generation_config.json"
    config.write_text(config.read_text().replace("}", ', "x": 1}', 1))
    result = loomctl("run", str(manifest), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "model/weights_sha256" in result.stderr and "generation_config.json" in result.stderr


def test_open_pin_is_refused(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("vt",))
    data = json.loads(manifest.read_text())
    data["model"]["weights_sha256"] = None
    manifest.write_text(json.dumps(data, indent=2))
    result = loomctl("run", str(manifest), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "model/weights_sha256: open pin" in result.stderr


def test_remote_code_is_refused_unless_the_manifest_allows_it(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("vt",))
    config = project / "models" / "tiny-loom" / "config.json"
    data = json.loads(config.read_text())
    data["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
    config.write_text(json.dumps(data))
    assert loomctl("pin", str(manifest)).returncode == 0
    result = loomctl("run", str(manifest), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "trust_remote_code" in result.stderr
