"""``loomctl run --shards N --executor ray``: the unfinished shards as Ray tasks, then the merge.

Each shard is one Ray task that runs ``loomctl run MANIFEST --shard K/N …`` (the same command a SLURM
array task runs) as a subprocess on whichever node Ray places it, so nothing but a list of strings is
pickled between machines and a shard is an ordinary run, resumable from its records. The task asks Ray
for ``num_gpus = accelerator.count`` (GPU manifests; Ray sets ``CUDA_VISIBLE_DEVICES`` on the worker to
the GPUs it assigned) or ``num_cpus = accelerator.threads`` (CPU ones). A runtime failure raises
``ShardFailed`` in the task, which Ray retries ``--retries`` times (``max_retries`` with
``retry_exceptions``; a lost worker or node is retried the same way); an invalid input (exit 2) is
returned, not raised, so it is never retried. The driver prints each shard as it finishes and, once all
are done, merges them here — or exits 3 naming each failed shard and its log,
``DIR/shards/K/logs/ray.log`` (every attempt appended, headed with its node and GPUs).

The cluster is ``--ray-address`` (``ray start --head`` on a node; every node must see DIR and have this
loomctl at the same path, as for SLURM), else ``RAY_ADDRESS``, else a local Ray started for this run
and stopped after it. A cluster that cannot give one shard its GPUs or CPUs is refused before anything
is submitted (a Ray task that asks for more than any node has would wait forever).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any

from loomcore.errors import EXIT_INVALID_INPUT, InputError, RuntimeFailure
from loomcore.rundir import LOGS
from loomctl.runtime import die_with_parent
from loomctl.shardrun import RunRequest, ShardOutcome, prepare_shards, shard_dir

LOG_NAME = "ray.log"


class ShardFailed(Exception):
    """Raised in a Ray task when its shard exits with a runtime failure (Ray retries it)."""

    def __init__(self, index: int, code: int):
        super().__init__(f"shard {index} exited {code}")
        self.index, self.code = index, code

    def __reduce__(self):
        return ShardFailed, (self.index, self.code)


def run_shard_process(index: int, command: list[str], log_path: str, env: dict[str, str]) -> int:
    """The body of a shard's Ray task, on a worker: the shard's command, its output appended to
    ``log_path``; its exit code (0 or 2), or ``ShardFailed`` for anything else. The shard's process is
    sent SIGTERM when the worker dies (a cancelled task, a driver gone), as the harness is when loomctl
    dies: no orphaned shard goes on writing while a re-run starts it again."""
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    with open(log_path, "ab") as log:
        log.write(f"--- loomctl ray task: shard {index} on {socket.gethostname()} at "
                  f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, CUDA_VISIBLE_DEVICES={gpus!r}\n".encode())
        log.flush()
        code = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **env}, check=False, preexec_fn=die_with_parent(os.getpid())).returncode
        log.write(f"--- exit {code}\n".encode())
    if code not in (0, EXIT_INVALID_INPUT):
        raise ShardFailed(index, code)
    return code


# What the driver passes on to the shard processes (a worker has the environment of its `ray start`).
PASSED_ENV = ("LOOMCTL_", "HF_", "TRANSFORMERS_", "PYTHONHASHSEED")


def _passed_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV)}


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray: Ray is not installed here — `pip install 'loomctl[ray]'` (the dev lock "
                         "has it), or use --executor local or slurm") from None
    return ray


def resources(accelerator: dict[str, Any]) -> dict[str, float]:
    """A shard task's Ray resources, from the manifest's accelerator."""
    if accelerator.get("kind") == "gpu":
        return {"num_gpus": float(accelerator.get("count", 1)), "num_cpus": 1.0}
    return {"num_gpus": 0.0, "num_cpus": float(accelerator.get("threads") or 1)}


def connect(address: str | None, log=lambda _: None) -> tuple[Any, str]:
    """Ray connected to ``address``, else RAY_ADDRESS, else a local Ray for this run: (ray, where)."""
    ray = _ray()
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    try:
        ray.init(address=target, log_to_driver=False, include_dashboard=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RuntimeFailure(f"--ray-address: could not connect to the Ray cluster at {target!r} ({exc}) — start it "
                             "with `ray start --head` and pass its address, or omit --ray-address for a local Ray"
                             ) from None
    where = "a local Ray started for this run" if target == "local" else f"the Ray cluster at {target}"
    log(f"[ray] connected to {where}: {ray.cluster_resources()}")
    return ray, where


def check_fits(cluster: dict[str, float], need: dict[str, float], where: str) -> None:
    """Refuse a cluster without enough GPUs/CPUs for one shard (its tasks would wait forever)."""
    for key, name in (("num_gpus", "GPU"), ("num_cpus", "CPU")):
        if need[key] > cluster.get(name, 0.0):
            field = "accelerator/count" if name == "GPU" else "accelerator/threads"
            raise InputError(f"{field}: each shard asks Ray for {need[key]:g} {name}(s) and {where} has "
                             f"{cluster.get(name, 0.0):g} — add nodes with them, or use --executor local "
                             "with --allow-accelerator-mismatch for a CPU trial")


def execute(request: RunRequest, plan: dict[str, Any], command: list[str], retries: int, address: str | None,
            log=lambda _: None) -> list[ShardOutcome]:
    """Every unfinished shard as a Ray task, waited for; the outcome of each shard submitted."""
    out = request.out
    count = plan["plan"]["count"]
    pending = prepare_shards(out, plan)
    for k in sorted(set(range(count)) - set(pending)):
        log(f"[ray] shard {k} finished earlier — skipped")
    if not pending:
        return []
    ray, where = connect(address, log)
    try:
        need = resources(request.manifest.data["accelerator"])
        cluster = ray.cluster_resources()
        if request.allow_accelerator_mismatch and need["num_gpus"] > cluster.get("GPU", 0.0):
            log(f"[ray] {where} has {cluster.get('GPU', 0.0):g} GPU(s): the shards ask for none and run on what "
                "their worker has (--allow-accelerator-mismatch, recorded)")
            need["num_gpus"] = 0.0
        check_fits(cluster, need, where)
        task = ray.remote(run_shard_process)
        refs = {task.options(**need, max_retries=retries, retry_exceptions=[ShardFailed],
                             name=f"loomctl-shard-{k}").remote(k, [*command, "--shard", f"{k}/{count}"],
                                                               str(shard_dir(out, k).resolve() / LOGS / LOG_NAME),
                                                               _passed_env()): k for k in pending}
        log(f"[ray] submitted shards {pending} to {where}")
        return _wait(ray, refs, count, retries, log)
    finally:
        ray.shutdown()


def _wait(ray, refs: dict, count: int, retries: int, log) -> list[ShardOutcome]:
    outcomes, waiting, done = [], list(refs), count - len(refs)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        index = refs[ready[0]]
        try:
            code, attempts = ray.get(ready[0]), None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            code, attempts = (cause.code if isinstance(cause, ShardFailed) else 3), retries + 1
        except ray.exceptions.RayError as exc:  # a worker or node lost more often than max_retries
            code, attempts = 3, retries + 1
            log(f"[ray] shard {index}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        done += code == 0
        outcomes.append(ShardOutcome(index, code, attempts or 1))
        log(f"[ray] shard {index} " + (f"finished ({done}/{count})" if code == 0 else f"failed (exit {code})"))
    return sorted(outcomes, key=lambda o: o.index)

