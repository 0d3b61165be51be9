"""Sharded runs on the host: the parent run directory and its plan, each shard an ordinary run in
``DIR/shards/K/``, the local executor (N harness processes), and the merge (``loomctl.merge``).

Layout of a sharded run directory ``DIR``::

    manifest.json        the parent's effective manifest: what one process would have run
    plan.json            the plan (``loomctl.plan``): units per shard, sample counts, estimates
    shards/<K>/          shard K's run directory: manifest.json (the parent's tasks it runs, plus
                         its ``shard`` block), samples/, timings/, scores.json, environment.json, logs/
    samples/ scores.json environment.json timing.json shards.json   written by the merge

A shard can be run anywhere that sees ``DIR`` (``loomctl run MANIFEST --shard K/N --out DIR``); the
plan is made once, by the first shard or executor that finds none, and read back by the others (it is
a pure function of the parent manifest and its data, so a race writes the same bytes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomcore.errors import EXIT_INVALID_INPUT, InputError, LoomError, RuntimeFailure
from loomcore.hashing import sha256_json
from loomcore.records import RecordFile
from loomcore.rundir import LOGS, MANIFEST, SCORES, RunDir, write_json_atomic
from loomcore.shards import PLAN, SHARD_SCHEMA, SHARDS, ShardSpec
from loomctl import manifest as mf
from loomctl import plan as planner
from loomctl.pins import model_dir_of


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard K/N``: shard K (from 0) of N."""
    found = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not found or not 0 <= int(found[1]) < int(found[2]):
        raise InputError(f"--shard: {text!r} is not K/N with 0 <= K < N (e.g. 0/4 for the first of four)")
    return int(found[1]), int(found[2])


def shard_dir(out: Path, index: int) -> Path:
    return out / SHARDS / str(index)


def plan_json(result: planner.Plan) -> dict[str, Any]:
    """plan.json: the plan itself (hashed as ``plan_sha256``) and the estimates it was made from."""
    return {"plan": result.to_json(), "plan_sha256": result.sha256,
            "estimates": {"costs": [round(c, 3) for c in result.costs], "balance": round(result.balance, 6),
                          "constants": {"attention_tokens": planner.ATTENTION_TOKENS,
                                        "decode_weight": planner.DECODE_WEIGHT, "prep_weight": planner.PREP_WEIGHT,
                                        "parts_per_shard": planner.PARTS_PER_SHARD}}}


def make_plan(manifest: mf.Manifest, effective: dict[str, Any], count: int, model_dir: Path | None,
              data_dir: Path | None) -> planner.Plan:
    costs = planner.task_costs(effective, manifest.root, model_dir_of(manifest, model_dir), data_dir)
    return planner.plan(costs, count, sha256_json(effective))


def read_plan(out: Path, count: int | None = None) -> dict[str, Any]:
    """DIR/plan.json checked: a plan, unedited (its ``plan_sha256``), made for DIR's manifest.json (and
    for ``count`` shards, when given)."""
    digest = sha256_json(RunDir(out).read(MANIFEST))
    existing = RunDir(out).read(PLAN)
    made = existing.get("plan") if isinstance(existing, dict) else None
    if not isinstance(made, dict) or sha256_json(made) != existing.get("plan_sha256"):
        raise InputError(f"{out / PLAN}: not a plan, or edited (its plan_sha256 does not match its plan) — delete it "
                         "if no shard has run yet, or plan and run the shards again in another --out")
    if made.get("parent_digest") != digest or (count is not None and made.get("count") != count):
        raise InputError(f"{out / PLAN}: planned for {made.get('count')} shard(s) of another run (parent "
                         f"{str(made.get('parent_digest'))[:12]}, this run's manifest.json is {digest[:12]}) — use "
                         f"--shard K/{made.get('count')} with the same manifest and options, or another --out")
    return existing


def ensure_plan(manifest: mf.Manifest, out: Path, count: int, model_dir: Path | None,
                data_dir: Path | None) -> dict[str, Any]:
    """DIR/plan.json for ``count`` shards of DIR's parent manifest: read back when it is there (and
    refused if it was made for another run or another N, or edited), else made and written."""
    if RunDir(out).has(PLAN):
        return read_plan(out, count)
    data = plan_json(make_plan(manifest, RunDir(out).read(MANIFEST), count, model_dir, data_dir))
    write_json_atomic(out / PLAN, data)
    return data


def shard_block(plan: dict[str, Any], index: int) -> dict[str, Any]:
    made = plan["plan"]
    units = made["shards"][index]
    own = {u["task"] for u in units}
    return {"schema": SHARD_SCHEMA, "index": index, "count": made["count"], "parent_digest": made["parent_digest"],
            "plan_sha256": plan["plan_sha256"], "units": units,
            "samples": {task: n for task, n in made["samples"].items() if task in own}}


def shard_manifest(parent: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """A shard's effective manifest: the parent's, with only the tasks the shard runs and its block."""
    own = {u["task"] for u in block["units"]}
    return {**parent, "tasks": [t for t in parent["tasks"] if t["id"] in own], "shard": block}


def prepare_shard(out: Path, plan: dict[str, Any], index: int) -> Path:
    """DIR/shards/K/manifest.json written (or found equal: a resumed shard)."""
    folder = shard_dir(out, index)
    effective = shard_manifest(RunDir(out).read(MANIFEST), shard_block(plan, index))
    if RunDir(folder).has(MANIFEST):
        if sha256_json(RunDir(folder).read(MANIFEST)) != sha256_json(effective):
            raise InputError(f"{folder}: holds a shard of another plan — use another --out, or delete {out / SHARDS} "
                             "if its runs are no longer needed")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / MANIFEST, effective)
    return folder


def prepare_shards(out: Path, plan: dict[str, Any]) -> list[int]:
    """Every shard's folder (its manifest.json and logs/) for an executor that runs them elsewhere; the
    shards not yet finished."""
    count = plan["plan"]["count"]
    for index in range(count):
        (prepare_shard(out, plan, index) / LOGS).mkdir(parents=True, exist_ok=True)
    return [k for k in range(count) if not shard_finished(shard_dir(out, k))]


def shard_finished(folder: Path) -> bool:
    """A shard whose scores.json is written and whose records are all there (the plan's count)."""
    run = RunDir(folder)
    if not run.has(SCORES) or not run.has(MANIFEST):
        return False
    effective = run.read(MANIFEST)
    spec = ShardSpec.from_json(effective.get("shard"), f"{folder / MANIFEST}/shard")
    batch_size = int(effective["engine"].get("args", {}).get("batch_size", 1))
    return all(len(RecordFile(folder, task).load()) == spec.expected_samples(task, batch_size)
               for task in spec.samples)


def visible_gpus() -> list[str]:
    """The GPUs this host may hand out: CUDA_VISIBLE_DEVICES if set, else those nvidia-smi lists."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [g for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False).stdout
    return [str(i) for i, line in enumerate(listed.splitlines()) if line.startswith("GPU ")]


def gpu_slots(accelerator: dict[str, Any], gpus: list[str]) -> list[list[str]] | None:
    """Disjoint GPU groups of the manifest's ``accelerator.count`` (None for a CPU manifest)."""
    if accelerator.get("kind") != "gpu":
        return None
    per = int(accelerator.get("count", 1))
    slots = [gpus[i:i + per] for i in range(0, len(gpus) - per + 1, per)]
    if not slots:
        raise InputError(f"accelerator/count: each shard needs {per} GPU(s), this host shows {len(gpus)} "
                         "(CUDA_VISIBLE_DEVICES / nvidia-smi) — run the shards where the GPUs are, e.g. "
                         "`--executor slurm`, or pass --allow-accelerator-mismatch on a machine without GPUs")
    return slots


@dataclass
class ShardOutcome:
    index: int
    code: int
    attempts: int
    message: str = ""


def _attempt(run_one, index: int, gpus: list[str] | None) -> tuple[int, str]:
    try:
        return run_one(index, gpus), ""
    except LoomError as exc:
        return exc.exit_code, "; ".join(exc.problems)


def run_local(out: Path, count: int, run_one, slots: list[list[str]] | None, parallel: int,
              retries: int, log=lambda _: None) -> list[ShardOutcome]:
    """Shards of ``out`` not yet finished, ``parallel`` at a time (each on its own GPU group where the
    manifest asks for GPUs), each retried ``retries`` times after a runtime failure (an invalid input is
    not retried). ``run_one(index, gpus)`` runs one shard and returns its exit code."""
    pending = [k for k in range(count) if not shard_finished(shard_dir(out, k))]
    for k in sorted(set(range(count)) - set(pending)):
        log(f"[shard {k}] finished earlier — skipped")
    width = min(parallel, len(slots) if slots is not None else parallel, max(len(pending), 1))
    outcomes: dict[int, ShardOutcome] = {}
    lock = threading.Lock()

    def worker(slot: int) -> None:
        while True:
            with lock:
                if not pending:
                    return
                index = pending.pop(0)
            gpus = slots[slot] if slots is not None else None
            for attempt in range(1, retries + 2):
                where = f" on GPU(s) {','.join(gpus)}" if gpus else ""
                log(f"[shard {index}] start{where} (attempt {attempt})")
                code, message = _attempt(run_one, index, gpus)
                outcomes[index] = ShardOutcome(index, code, attempt, message)
                if code in (0, EXIT_INVALID_INPUT):
                    break
            log(f"[shard {index}] " + ("done" if code == 0 else f"failed (exit {code})"))

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True, name=f"shard-slot-{slot}")
               for slot in range(width)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[k] for k in sorted(outcomes)]


def failures(out: Path, outcomes: list[ShardOutcome], log_name: str = "harness.log") -> LoomError | None:
    """The error a run with failed shards exits with: 2 if any shard had invalid input, else 3; each
    failed shard named with its log (DIR/shards/K/logs/``log_name``)."""
    failed = [o for o in outcomes if o.code != 0]
    if not failed:
        return None
    lines = [f"shard {o.index}: failed with exit {o.code} after {o.attempts} attempt(s)"
             + (f" ({o.message})" if o.message else "") + f" — see {shard_dir(out, o.index) / 'logs' / log_name}; "
             "finished samples are kept: run the same command to resume" for o in failed]
    error = InputError if any(o.code == EXIT_INVALID_INPUT for o in failed) else RuntimeFailure
    return error(*lines)


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class RunRequest:
    """What `loomctl run` was asked, as the shard executors need it."""

    manifest: mf.Manifest
    out: Path
    limit: int | None
    substitutions: dict[str, Any] | None
    allow_accelerator_mismatch: bool
    model_dir: Path | None
    data_dir: Path | None
    hash_cache: bool = True


@dataclass
class ExecutorOptions:
    """How `loomctl run --shards N` runs its shards: the executor and its options, and ``argv``, the
    options a shard's own command repeats."""

    executor: str = "local"
    parallel: int | None = None
    retries: int = 1
    sbatch: list[str] = field(default_factory=list)
    detach: bool = False
    ray_address: str | None = None
    argv: list[str] = field(default_factory=list)


def execute(where, request: RunRequest, count: int, options: ExecutorOptions):
    """All ``count`` shards by ``options.executor``, then the merge: its scores (None when detached)."""
    if options.executor == "slurm":
        return execute_slurm(where, request, count, options.argv, options.sbatch, options.retries, options.detach)
    if options.executor == "ray":
        return execute_ray(where, request, count, options.argv, options.retries, options.ray_address)
    return execute_local(where, request, count, options.parallel, options.retries)


def _parent_and_plan(where, request: RunRequest, count: int) -> dict[str, Any]:
    where.prepare(request.manifest, request.out, request.limit, request.substitutions,
                  request.allow_accelerator_mismatch)
    return ensure_plan(request.manifest, request.out, count, request.model_dir, request.data_dir)


def _run_shard(where, request: RunRequest, plan: dict[str, Any], index: int, gpus: list[str] | None) -> int:
    folder = prepare_shard(request.out, plan, index)
    return where.run(request.manifest, folder, request.model_dir, request.data_dir,
                     request.allow_accelerator_mismatch, request.hash_cache, gpus)


def execute_shard(where, request: RunRequest, index: int, count: int) -> int:
    """``--shard K/N``: shard K alone, in DIR/shards/K (its own writer lock: the other shards of DIR may
    run at the same time, elsewhere); the harness's exit code."""
    from loomctl.runtime import writer_lock

    request.out.mkdir(parents=True, exist_ok=True)
    plan = _parent_and_plan(where, request, count)
    with writer_lock(shard_dir(request.out, index)):
        return _run_shard(where, request, plan, index, None)


def execute_slurm(where, request: RunRequest, count: int, argv: list[str], sbatch_options: list[str],
                  retries: int, detach: bool):
    """``--shards N --executor slurm`` (``loomctl.slurm``): the plan made here, the unfinished shards
    submitted as an array and the merge as its dependent job; then waits for them (unless ``detach``)
    and returns the merged scores (None when detached)."""
    from loomctl import slurm
    from loomctl.runtime import writer_lock

    with writer_lock(request.out):  # released before the merge job needs it
        plan = _parent_and_plan(where, request, count)
    array, merge_job, indices = slurm.submit(request, plan, shard_command(argv), sbatch_options, retries)
    err(f"[slurm] submitted shards {indices or 'none (all finished)'} as job array {array}, merge as job {merge_job}")
    if detach:
        print(f"array job: {array}\nmerge job: {merge_job}\nthen: loomctl merge {request.out} (the merge job runs it)")
        return None
    slurm.wait(request, count, array, merge_job, log=err)
    return RunDir(request.out).scores()


def shard_command(argv: list[str]) -> list[str]:
    """The command a SLURM array task or a Ray task runs (before its ``--shard K/N``): this loomctl, on
    this Python, with the options ``loomctl run`` was given."""
    return [sys.executable, "-m", "loomctl", "run", *argv]


def execute_ray(where, request: RunRequest, count: int, argv: list[str], retries: int, address: str | None):
    """``--shards N --executor ray`` (``loomctl.rayexec``): the plan made here, the unfinished shards as
    Ray tasks; when all have finished, the merge here (its scores); a shard failing after its retries
    raises, naming it and its log."""
    from loomctl import rayexec
    from loomctl.runtime import writer_lock

    with writer_lock(request.out):
        plan = _parent_and_plan(where, request, count)
        outcomes = rayexec.execute(request, plan, shard_command(argv), retries, address, log=err)
        problem = failures(request.out, outcomes, rayexec.LOG_NAME)
        if problem is not None:
            raise problem
        from loomctl.merge import merge

        return merge(request.out)


def execute_local(where, request: RunRequest, count: int, parallel: int | None, retries: int):
    """``--shards N --executor local``: every unfinished shard of DIR on this host, ``parallel`` at a
    time (default: one per GPU group, or all N on a CPU manifest), then the merge; a shard failing after
    its retries raises, naming it and its log."""
    from loomctl.runtime import writer_lock

    with writer_lock(request.out):
        plan = _parent_and_plan(where, request, count)
        accelerator = request.manifest.data["accelerator"]
        slots = None if request.allow_accelerator_mismatch else gpu_slots(accelerator, visible_gpus())
        width = parallel or (len(slots) if slots is not None else count)
        outcomes = run_local(request.out, count, lambda k, gpus: _run_shard(where, request, plan, k, gpus),
                             slots, width, retries, log=err)
        problem = failures(request.out, outcomes)
        if problem is not None:
            raise problem
        from loomctl.merge import merge

        return merge(request.out)
