"""``loomctl run --shards N --executor slurm``: the shards as a SLURM job array, the merge as a job that
depends on it.

The batch script is written here (``DIR/slurm/shards.sbatch``, kept as provenance) rather than through
``submitit``: what runs is one ``loomctl run MANIFEST --shard $SLURM_ARRAY_TASK_ID/N`` command per array
task, which needs no Python objects pickled across machines, and a user can read, edit and resubmit the
script with plain ``sbatch``. Each array task gets ``--gres=gpu:<accelerator.count>`` (GPU manifests) or
``--cpus-per-task=<accelerator.threads>`` (CPU ones), ``--requeue`` (a preempted shard is requeued and
resumes from its records), and retries a runtime failure ``--retries`` times within its allocation (an
invalid input, exit 2, is not retried). The merge job runs ``loomctl merge DIR`` after the array with
``--dependency=afterok`` (``--kill-on-invalid-dep=yes``: cancelled, not left pending, when a shard fails).

``loomctl run`` then waits, printing each shard as it finishes (``--detach``: prints the job ids and
returns; ``loomctl merge DIR`` later). No SLURM accounting is needed: the outcome is read from the run
directory (each shard's records and scores.json, the merge's shards.json), so a failed shard is named
with its log, ``DIR/shards/K/logs/slurm-<job>_<K>.log``.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loomcore.errors import InputError, RuntimeFailure
from loomcore.rundir import LOGS
from loomcore.shards import SHARD_RUNS
from loomctl.shardrun import RunRequest, prepare_shards, shard_dir, shard_finished

POLL_SECONDS = 2.0


def _sbatch() -> str:
    found = shutil.which("sbatch")
    if not found:
        raise InputError("--executor slurm: `sbatch` is not on PATH — run on a SLURM submit host (slurm-client), "
                         "or use --executor local")
    return found


def batch_script(shard_command: list[str], out: Path, indices: list[int], count: int,
                 accelerator: dict[str, Any], sbatch_options: list[str], retries: int, name: str) -> str:
    """The job array's script: one shard per array task (see the module docstring)."""
    resources = ([f"--gres=gpu:{int(accelerator.get('count', 1))}"] if accelerator.get("kind") == "gpu"
                 else [f"--cpus-per-task={int(accelerator.get('threads') or 1)}"])
    directives = [f"--job-name={name}", f"--array={','.join(map(str, indices))}",
                  f"--output={out / 'shards' / '%a' / LOGS / 'slurm-%A_%a.log'}", "--requeue", *resources,
                  *sbatch_options]
    command = " ".join(shlex.quote(part) for part in shard_command)
    return "\n".join([
        "#!/bin/bash",
        *(f"#SBATCH {d}" for d in directives),
        "# Written by `loomctl run --executor slurm`: one shard of the run per array task.",
        "attempt=0",
        "while :; do",
        "  attempt=$((attempt + 1))",
        f"  {command} --shard \"$SLURM_ARRAY_TASK_ID/{count}\"",
        "  code=$?",
        f"  if [ $code -eq 0 ] || [ $code -eq 2 ] || [ $attempt -gt {retries} ]; then exit $code; fi",
        "  echo \"loomctl: shard $SLURM_ARRAY_TASK_ID failed (exit $code), attempt $attempt; retrying\" >&2",
        "done", ""])


def _submit(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    found = re.search(r"(\d+)", done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeFailure(f"sbatch: {' '.join(args[1:3])}… failed (exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[:300]} — check the partition and options")
    return found[1]


def submit(request: RunRequest, plan: dict[str, Any], shard_command: list[str], sbatch_options: list[str],
           retries: int) -> tuple[str | None, str, list[int]]:
    """The array (unfinished shards only) and the dependent merge: (array job id or None, merge job id,
    the shards submitted)."""
    out = request.out.resolve()
    count = plan["plan"]["count"]
    indices = prepare_shards(request.out, plan)
    (out / SHARD_RUNS).unlink(missing_ok=True)  # the merge's mark: written again only by this merge
    name = f"loomctl-{request.manifest.data['suite']['name']}"
    sbatch = _sbatch()
    array = None
    if indices:
        script = batch_script(shard_command, out, indices, count, request.manifest.data["accelerator"],
                              sbatch_options, retries, name)
        path = out / "slurm" / "shards.sbatch"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script)
        array = _submit([sbatch, "--parsable", str(path)])
    merge_command = " ".join(shlex.quote(p) for p in [sys.executable, "-m", "loomctl", "merge", str(out)])
    dependency = [f"--dependency=afterok:{array}", "--kill-on-invalid-dep=yes"] if array else []
    (out / LOGS).mkdir(parents=True, exist_ok=True)
    merge = _submit([sbatch, "--parsable", f"--job-name={name}-merge", *dependency,
                     f"--output={out / LOGS / 'slurm-merge-%j.log'}", "--cpus-per-task=1",
                     *sbatch_options, f"--wrap={merge_command}"])
    return array, merge, indices


ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "SUSPENDED", "RESIZING")


def _queued(job_ids: list[str]) -> bool:
    """Whether any of the jobs is still queued or running. A job held by a dependency that can never be
    satisfied (the merge after a failed shard; ``--kill-on-invalid-dep`` is not honoured everywhere) is
    cancelled here, so the wait ends."""
    squeue = shutil.which("squeue") or "squeue"
    listed = subprocess.run([squeue, "-h", "-j", ",".join(job_ids), "-o", "%i|%T|%r"], capture_output=True,
                            text=True, check=False)
    active = False
    for line in listed.stdout.splitlines():
        job, state, reason = (line.split("|") + ["", "", ""])[:3]
        if state == "PENDING" and reason == "DependencyNeverSatisfied":
            subprocess.run([shutil.which("scancel") or "scancel", job.strip()], capture_output=True, check=False)
        elif state in ACTIVE:
            active = True
    return active


def wait(request: RunRequest, count: int, array: str | None, merge: str, log=lambda _: None) -> None:
    """Until the array and the merge have left the queue, printing shards as they finish; then the
    outcome from the run directory: each unfinished shard named with its log (exit 3), or the merge's."""
    out = request.out
    seen: set[int] = set()
    jobs = [j for j in (array, merge) if j]
    while True:
        queued = _queued(jobs)
        # a finished shard stays finished: only the others' record files are read again
        finished = seen | {k for k in range(count) if k not in seen and shard_finished(shard_dir(out, k))}
        for k in sorted(finished - seen):
            log(f"[slurm] shard {k} finished ({len(finished)}/{count})")
        seen = finished
        if not queued:
            break
        time.sleep(POLL_SECONDS)
    failed = sorted(set(range(count)) - seen)
    if failed:
        raise RuntimeFailure(*[f"shard {k}: did not finish on SLURM (array job {array}) — see "
                               f"{_newest_log(shard_dir(out, k) / LOGS, f'slurm-{array}_{k}.log')}; finished "
                               "samples are kept: run the same command to resume" for k in failed])
    if not (out / SHARD_RUNS).is_file():
        raise RuntimeFailure(f"merge: job {merge} did not merge the shards — see {out / LOGS / f'slurm-merge-{merge}.log'}"
                             f"; run `loomctl merge {out}` to retry")


def _newest_log(folder: Path, expected: str) -> Path:
    return folder / expected if (folder / expected).exists() else folder
