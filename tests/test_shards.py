"""Sharded runs: the planner, `run --shard K/N`, `run --shards N` (the local executor), `merge` — on a real
saved model, real processes and real files. The merged run must be the single-process run, byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loomcore.shards import ShardSpec, Unit
from loomctl import plan as planner
from tests.helpers import copy_project, loomctl, ray_or_skip, slurm_or_skip, small_manifest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "loombench-lite"


def _records(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "samples").glob("*.jsonl"))}


# --- the planner and the shard block, on their own -------------------------------------------------

def test_a_unit_runs_every_pth_batch_and_the_parts_cover_each_batch_once():
    for samples, batch, parts in [(13, 4, 3), (6, 2, 3), (5, 1, 2), (1, 4, 1)]:
        units = [Unit("t", p, parts) for p in range(parts)]
        batches = -(-samples // batch)
        assert [sum(u.runs_batch(b) for u in units) for b in range(batches)] == [1] * batches
        assert sum(u.sample_count(samples, batch) for u in units) == samples
    assert Unit("t", 1, 3).sample_count(13, 4) == 4  # batch 1 only (batch 4 is the 1-sample tail of part 0)
    assert Unit("t", 0, 3).sample_count(13, 4) == 5


def _cost(task: str, lengths: list[int], batch: int = 2, new: int = 16) -> planner.TaskCost:
    lengths = sorted(lengths, reverse=True)
    costs = tuple(sum(planner.sample_cost(t, new) for t in lengths[i:i + batch]) for i in range(0, len(lengths), batch))
    return planner.TaskCost(task, batch, costs, len(lengths), sum(lengths), new * len(lengths))


def test_the_plan_is_a_pure_function_and_balances_long_and_short_tasks():
    costs = [_cost("long", [128_000] * 8 + [64_000] * 8), _cost("short", [4_000] * 40), _cost("mid", [32_000] * 12)]
    first, again = planner.plan(costs, 4, "d" * 64), planner.plan(list(costs), 4, "d" * 64)
    assert first.to_json() == again.to_json() and first.sha256 == again.sha256
    assert first.balance <= 1.10, planner.table(first)
    assert planner.by_count(costs, 4) > 1.5  # equal sample counts put the 128k samples on one shard
    covered = [(u.task, b) for units in first.shards for u in units
               for b in range(len(next(c for c in costs if c.task == u.task).batch_costs)) if u.runs_batch(b)]
    assert sorted(covered) == sorted((c.task, b) for c in costs for b in range(len(c.batch_costs)))
    assert "balance (slowest shard / mean)" in planner.table(first)


def test_more_shards_than_batches_leaves_shards_empty_and_the_plan_valid():
    result = planner.plan([_cost("a", [1000, 900])], 3, "e" * 64)
    assert sorted(len(units) for units in result.shards) == [0, 0, 1]


def test_a_damaged_shard_block_is_refused_naming_the_field():
    block = {"schema": "loomctl.shard/1", "index": 4, "count": 4, "parent_digest": "a", "plan_sha256": "b",
             "units": [], "samples": {}}
    with pytest.raises(Exception, match="shard/index"):
        ShardSpec.from_json(block)
    block.update(index=0, units=[{"task": "x", "part": 2, "parts": 2}], samples={"x": 3})
    with pytest.raises(Exception, match="units/0/part"):
        ShardSpec.from_json(block)


# --- real runs ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sharded(tmp_path_factory, random_model_dir):
    """A small manifest (two tasks, 6 samples each, batches of 2) run once in one process and once in
    3 shards by the local executor: (manifest, single-process run, sharded run)."""
    base = tmp_path_factory.mktemp("shards")
    project = copy_project(base)
    manifest = small_manifest(project, random_model_dir)
    single, split = base / "single", base / "split"
    result = loomctl("run", str(manifest), "--out", str(single))
    assert result.returncode == 0, result.stderr
    result = loomctl("run", str(manifest), "--shards", "3", "--out", str(split))
    assert result.returncode == 0, result.stderr
    return manifest, single, split


def test_the_merged_run_equals_the_single_process_run_byte_for_byte(sharded):
    _, single, split = sharded
    plan = json.loads((split / "plan.json").read_text())["plan"]
    assert any(u["parts"] > 1 for units in plan["shards"] for u in units), "the plan splits no task"
    assert _records(split) == _records(single)
    assert (split / "scores.json").read_bytes() == (single / "scores.json").read_bytes()
    assert (split / "manifest.json").read_bytes() == (single / "manifest.json").read_bytes()
    shards = json.loads((split / "shards.json").read_text())
    assert [s["index"] for s in shards["shards"]] == [0, 1, 2]
    result = loomctl("verify", str(split))
    assert result.returncode == 0, result.stderr


def test_one_shard_alone_then_merge_and_a_foreign_shard_is_refused(sharded, tmp_path):
    manifest, single, split = sharded
    out = tmp_path / "by-hand"
    shutil.copytree(split, out)
    for name in ("samples", "scores.json", "timings", "shards.json"):
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    shutil.rmtree(out / "shards" / "2")  # shard 2 run again, alone, as a job array's task runs it
    result = loomctl("run", str(manifest), "--shard", "2/3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "shard 2/3 done" in result.stdout and f"loomctl merge {out}" in result.stdout
    result = loomctl("merge", str(out))
    assert result.returncode == 0, result.stderr
    assert _records(out) == _records(single)
    # A shard of another run (another --limit: another parent manifest) put in its place.
    other = tmp_path / "other"
    result = loomctl("run", str(manifest), "--shard", "1/3", "--limit", "4", "--out", str(other))
    assert result.returncode == 0, result.stderr
    shutil.rmtree(out / "shards" / "1")
    shutil.copytree(other / "shards" / "1", out / "shards" / "1")
    result = loomctl("merge", str(out))
    assert result.returncode == 2 and "shards/1: a foreign shard" in result.stderr, result.stderr
    # A missing shard, and a folder that is no shard of the plan.
    shutil.rmtree(out / "shards" / "1")
    (out / "shards" / "7").mkdir()
    result = loomctl("merge", str(out))
    assert result.returncode == 2 and "shards/7: not a shard of this plan" in result.stderr, result.stderr
    shutil.rmtree(out / "shards" / "7")
    result = loomctl("merge", str(out))
    assert result.returncode == 2 and "shards/1: missing" in result.stderr, result.stderr


def test_a_rerun_skips_finished_shards_and_resumes_a_cut_one(sharded, tmp_path):
    manifest, single, split = sharded
    out = tmp_path / "resumed"
    shutil.copytree(split, out)
    for name in ("samples", "scores.json", "timings"):
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    shard = out / "shards" / "1"
    records = sorted((shard / "samples").glob("*.jsonl"))[0]
    lines = records.read_bytes().splitlines(keepends=True)
    records.write_bytes(lines[0] + lines[1][:20])  # one finished record and a torn one, as a kill leaves them
    (shard / "scores.json").unlink()
    result = loomctl("run", str(manifest), "--shards", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "[shard 0] finished earlier — skipped" in result.stderr
    assert "[shard 1] start" in result.stderr and "resuming: 1 already done" in result.stderr
    assert _records(out) == _records(single)


def _with_a_broken_shard(split: Path, out: Path, index: int) -> Path:
    """A copy of the sharded run whose shard ``index`` is unfinished and cannot write its records (a
    folder where its first task's record file belongs): a runtime failure on every attempt."""
    shutil.copytree(split, out)
    shard = out / "shards" / str(index)
    (shard / "scores.json").unlink()
    task = sorted((shard / "samples").glob("*.jsonl"))[0]
    task.unlink()
    task.mkdir()
    return out


def test_a_shard_that_keeps_failing_exits_3_naming_it_and_its_log(sharded, tmp_path):
    manifest, _, split = sharded
    out = _with_a_broken_shard(split, tmp_path / "failing", 2)
    result = loomctl("run", str(manifest), "--shards", "3", "--retries", "1", "--out", str(out))
    assert result.returncode == 3, result.stderr
    assert "shard 2: failed with exit 3 after 2 attempt(s)" in result.stderr
    assert "shards/2/logs/harness.log" in result.stderr


def test_a_shard_refuses_data_other_than_the_plan_was_made_on(sharded, tmp_path):
    manifest, _, split = sharded
    out = tmp_path / "edited"
    shutil.copytree(split, out)
    shard = out / "shards" / "0"
    effective = json.loads((shard / "manifest.json").read_text())
    task = next(iter(effective["shard"]["samples"]))
    effective["shard"]["samples"][task] += 1
    (shard / "manifest.json").write_text(json.dumps(effective))
    shutil.rmtree(shard / "samples")
    (shard / "scores.json").unlink()
    result = loomctl("run", str(manifest), "--shard", "0/3", "--out", str(out))
    assert result.returncode == 2 and "holds a shard of another plan" in result.stderr, result.stderr
    # The harness's own check, which holds where the host's cannot see (shards given other data).
    result = subprocess.run([sys.executable, "-m", "harness", "run", "--run-dir", str(shard), "--model-dir",
                             str(manifest.parent / "models" / "tiny-loom"), "--root", str(manifest.parent)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and f"shard/samples/{task}: the plan was made on" in result.stderr, result.stderr


def test_plan_prints_shares_and_the_balance_against_splitting_by_count():
    result = loomctl("plan", str(ROOT / "manifests" / "loombench-lite.json"), "--shards", "4")
    assert result.returncode == 0, result.stderr
    assert "balance (slowest shard / mean)" in result.stdout and "balance by sample count" in result.stdout
    balance = float(result.stdout.split("balance (slowest shard / mean):")[1].split()[0])
    assert balance <= 1.10


# --- SLURM: a real slurmctld/slurmd (one node, started by .ci/run); the lite suite on it: test_cluster_lite.py

def test_a_slurm_shard_that_keeps_failing_exits_3_naming_it_and_its_log(sharded, tmp_path):
    slurm_or_skip()
    manifest, _, split = sharded
    out = _with_a_broken_shard(split, tmp_path / "slurm-failing", 1)
    shard = out / "shards" / "1"
    result = loomctl("run", str(manifest), "--shards", "3", "--executor", "slurm", "--retries", "1",
                     "--out", str(out), timeout=600)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "shard 1: did not finish on SLURM" in result.stderr and "slurm-" in result.stderr
    log = next((shard / "logs").glob("slurm-*_1.log")).read_text()
    assert "failed (exit 3), attempt 1; retrying" in log


# --- Ray: a real Ray head (`ray start --head --num-cpus 2 --num-gpus 2`, started by .ci/run) -----------

def _ray_headers(shard: Path) -> list[str]:
    log = (shard / "logs" / "ray.log").read_text()
    return [line for line in log.splitlines() if line.startswith("--- loomctl ray task:")]


def test_a_ray_shard_that_keeps_failing_exits_3_naming_it_and_its_log(sharded, tmp_path):
    """The broken shard is retried by Ray (max_retries on ShardFailed) and then named with its log;
    the other shards' records are kept."""
    address = ray_or_skip()
    manifest, _, split = sharded
    out = _with_a_broken_shard(split, tmp_path / "ray-failing", 0)
    result = loomctl("run", str(manifest), "--shards", "3", "--executor", "ray", "--ray-address", address,
                     "--retries", "1", "--out", str(out), timeout=600)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "shard 0: failed with exit 3 after 2 attempt(s)" in result.stderr
    assert "shards/0/logs/ray.log" in result.stderr
    assert len(_ray_headers(out / "shards" / "0")) == 2  # the first attempt and Ray's retry


def test_ray_gives_each_shard_of_a_gpu_manifest_its_gpus(sharded, tmp_path):
    """A GPU manifest (accelerator.count 1) asks Ray for num_gpus=1: each task runs with the one logical
    GPU Ray assigned it in CUDA_VISIBLE_DEVICES (the CI head has 2 logical GPUs; the harness runs on the
    CPU by --allow-accelerator-mismatch). A cluster with fewer GPUs than a shard needs is refused."""
    address = ray_or_skip()
    manifest, single, _ = sharded
    data = json.loads(manifest.read_text())
    data["accelerator"] = {"kind": "gpu", "model": "H100-80GB", "count": 1, "min_memory_gib": 79, "cuda": "12.8"}
    gpu_manifest = manifest.with_name("gpu.json")
    gpu_manifest.write_text(json.dumps(data, indent=2))
    out = tmp_path / "ray-gpu"
    result = loomctl("run", str(gpu_manifest), "--shards", "2", "--executor", "ray", "--ray-address", address,
                     "--allow-accelerator-mismatch", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for k in range(2):
        (header,) = _ray_headers(out / "shards" / str(k))
        assert header.split("CUDA_VISIBLE_DEVICES=")[1] in ("'0'", "'1'"), header
    assert _records(out) == _records(single)
    # Without --ray-address (nor RAY_ADDRESS): a local Ray started for the run, which has this machine's
    # GPUs (none here) — a shard asking for more than the cluster has is refused before anything is submitted.
    data["accelerator"]["count"] = 4
    gpu_manifest.write_text(json.dumps(data, indent=2))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = loomctl("run", str(gpu_manifest), "--shards", "2", "--executor", "ray", "--out",
                     str(tmp_path / "too-many"), timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "accelerator/count: each shard asks Ray for 4 GPU(s) and a local Ray started for this run has" \
        in result.stderr, result.stderr[-2000:]


def test_a_container_of_a_scheduled_shard_gets_the_gpus_its_scheduler_allocated():
    """SLURM's global GPU indices first (CUDA_VISIBLE_DEVICES counts from 0 inside its cgroup, and the docker
    daemon sees every GPU of the node), then CUDA_VISIBLE_DEVICES (Ray's assignment); none: the manifest's count."""
    from loomctl.runtime import allocated_gpus

    assert allocated_gpus({"SLURM_STEP_GPUS": "2,3", "CUDA_VISIBLE_DEVICES": "0,1"}) == ["2", "3"]
    assert allocated_gpus({"SLURM_JOB_GPUS": "5", "CUDA_VISIBLE_DEVICES": "0"}) == ["5"]
    assert allocated_gpus({"CUDA_VISIBLE_DEVICES": "1"}) == ["1"]
    assert allocated_gpus({"CUDA_VISIBLE_DEVICES": ""}) is None and allocated_gpus({}) is None
