"""The `loomctl` command line: parse, call, print, exit with the contract's code. Nothing else here.

Exit codes: 0 ok; 1 a check failed (pin drift, score regression); 2 invalid input (schema, missing
file, hash mismatch); 3 runtime failure (engine crash, out of memory, image build).
"""

from __future__ import annotations

import json
import os
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, Optional

import typer

from loomcore.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_RUNTIME_FAILURE,
    InputError,
    LoomError,
)
from loomcore.rundir import MANIFEST, SCORES, RunDir
from loomcore.specs import JudgeScores, Scores

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Reproducible evaluation of long-context models from pinned manifests.\n\n"
         "Exit codes: 0 ok; 1 check failed (pin drift, score regression); 2 invalid input "
         "(schema, missing file, hash mismatch); 3 runtime failure (engine crash, out of memory, image build).")


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def contract(fn):
    """Turn the project's errors into their exit codes, and anything unexpected into exit 3,
    without a traceback (set LOOMCTL_DEBUG=1 to see one)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LoomError as exc:
            for problem in exc.problems:
                _err(problem)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("LOOMCTL_DEBUG"):
                raise
            _err(f"internal error: {type(exc).__name__}: {exc} — rerun with LOOMCTL_DEBUG=1 and report it")
            raise typer.Exit(EXIT_RUNTIME_FAILURE) from None

    return wrapper


# What a run directory that was not written by loomctl (or was edited) raises in the code that reads
# it: a missing key, a value of the wrong type or shape, an empty list where one is divided by.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError, ArithmeticError)


def reads_received(fn):
    """For the commands that read run directories others send (verify, diff, report, score, audit):
    a run directory whose files have the wrong shape is invalid input (exit 2, naming what broke),
    not an internal error. LOOMCTL_DEBUG=1 shows the traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MALFORMED as exc:
            if os.environ.get("LOOMCTL_DEBUG"):
                raise
            raise InputError(f"run directory: malformed ({type(exc).__name__}: {str(exc)[:160]}) — it was not "
                             "written by this loomctl or was edited; ask its author for the original files") from None

    return wrapper


ManifestArg = Annotated[Path, typer.Argument(help="manifest JSON file", show_default=False)]


@app.command()
@contract
def validate(manifests: Annotated[list[Path], typer.Argument(help="manifest files", show_default=False)]) -> None:
    """Check manifests against schema v1 and the semantic rules; print every problem, one a line."""
    from loomctl import manifest as mf

    failed = False
    for path in manifests:
        try:
            manifest = mf.load(path)
            problems = mf.validate(manifest)
        except LoomError as exc:
            problems, manifest = exc.problems, None
        if problems:
            failed = True
            for problem in problems:
                _err(f"{path}: {problem}" if not problem.startswith(str(path)) else problem)
            continue
        open_pins = mf.open_pins(manifest)
        print(f"{path}: valid ({len(mf.tasks(manifest))} tasks, digest {manifest.digest[:16]})"
              + (f"; {len(open_pins)} open pin(s):" if open_pins else ""))
        for pointer in open_pins:
            print(f"  open pin: {pointer} — " + (
                "only judge metrics need it (`loomctl pin` fills a judge's weights from its local `path`); "
                "`loomctl judge` refuses it while null"
                if pointer.startswith("judges/") else "`loomctl pin` fills it; `loomctl run` refuses it while null"))
    if failed:
        raise typer.Exit(EXIT_INVALID_INPUT)


@app.command()
@contract
def pin(
    manifest_path: ManifestArg,
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="model folder (default: model.path)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="local data / hub cache folder")] = None,
    check: Annotated[bool, typer.Option("--check", help="verify without writing; exit 1 on drift")] = False,
    resolve: Annotated[bool, typer.Option(
        "--resolve", help="first fill open hub revisions with the hub's current commit (needs the hub)")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="hash every weight byte, trusting no cached digest (audits)")] = False,
) -> None:
    """Compute weights, dataset and template hashes and write them into the manifest (or --check them)."""
    from loomctl import manifest as mf
    from loomctl import pins

    manifest = mf.load_valid(manifest_path)
    if resolve:
        resolved = pins.resolve_revisions(manifest)
        if resolved and not check:
            pins.write(manifest, resolved)
            print(f"{manifest_path}: {len(resolved)} revision(s) resolved")
    from loomcore.hashing import HashCache

    computed = pins.compute(manifest, model_dir, data_dir, HashCache(enabled=False) if no_cache else None)
    if check:
        problems = pins.drift(manifest, computed)
        for problem in problems:
            _err(problem)
        if problems:
            _err(f"{manifest_path}: {len(problems)} pin(s) drifted")
            raise typer.Exit(EXIT_CHECK_FAILED)
        print(f"{manifest_path}: all {len(computed)} pins match")
        return
    changed = pins.write(manifest, computed)
    print(f"{manifest_path}: {'pins written' if changed else 'pins already current'} "
          f"(digest {manifest.digest[:16]})")


@app.command()
@contract
def show(manifest_path: ManifestArg,
         as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the effective per-task settings (defaults applied) and the manifest's canonical digest."""
    from loomctl import manifest as mf

    manifest = mf.load_valid(manifest_path)
    tasks = [t.as_dict() for t in mf.tasks(manifest)]
    if as_json:
        print(json.dumps({"digest": manifest.digest, "tasks": tasks}, indent=2))
        return
    print(f"manifest {manifest_path}\ndigest   sha256:{manifest.digest}")
    for task in tasks:
        ds = task["dataset"]
        source = {"generator": lambda: f"generator {ds['generator']} v{ds['generator_version']} seed {ds['seed']}",
                  "hub": lambda: f"hub {ds['repo']}@{(ds.get('revision') or 'OPEN')[:12]}",
                  "local": lambda: f"local {ds['path']}"}[ds["source"]]()
        trunc, gen = task["truncation"], task["generation"]
        print(f"- {task['benchmark']}/{task['id']}: {source}; truncation {trunc.get('policy')} "
              f"budget {trunc.get('budget_tokens')}; max_new_tokens {gen.get('max_new_tokens')} "
              f"temperature {gen.get('temperature', 0.0)}; metrics {', '.join(task['metrics'])}")


def _score_table(scores: Scores) -> str:
    lengths = sorted({int(k) for t in scores.tasks.values() for k in t.by_length})
    header = f"{'task':<32}{'metric':<28}{'score':>8}{'± se':>7}{'n':>5}" + "".join(f"{n:>7}" for n in lengths)
    lines = [header, "-" * len(header)]
    for task_id, task in scores.tasks.items():
        cells = "".join(f"{task.by_length[str(n)].score or 0:>7.1f}" if str(n) in task.by_length else f"{'':>7}"
                        for n in lengths)
        score = "-" if task.score is None else f"{task.score:.2f}"
        se = "" if task.stderr is None else f"{task.stderr:.1f}"
        lines.append(f"{task.benchmark + '/' + task_id:<31} {task.metric:<28}{score:>8}{se:>7}{task.n:>5}{cells}")
    lines.append("-" * len(header))
    for name, bench in scores.benchmarks.items():
        lines.append(f"{name:<60}{bench.score:>8.2f}")
    from harness.api import capability_scores

    for capability, value in capability_scores({k: b.score for k, b in scores.benchmarks.items()}).items():
        lines.append(f"{'capability: ' + capability:<60}{value:>8.2f}")
    if scores.average is not None:
        lines.append(f"{'average (mean of benchmarks)':<60}{scores.average:>8.2f}")
    return "\n".join(lines)


@app.command()
@contract
def build(
    manifest_path: ManifestArg,
    base: Annotated[Optional[str], typer.Option("--base", help="substitute base image (recorded in results)")] = None,
    wheelhouse: Annotated[Optional[Path], typer.Option("--wheelhouse", help="wheels of the lock file; no index")] = None,
    push: Annotated[Optional[str], typer.Option("--push", help="registry to push the image to")] = None,
) -> None:
    """Build (or reuse) the image of the manifest's engine flavour; the tag is a hash of its inputs."""
    from loomctl import images
    from loomctl import manifest as mf

    manifest = mf.load_valid(manifest_path)
    image = images.build(manifest.data, base, wheelhouse, push, log=_err)
    print(json.dumps(image.provenance(), indent=2))


@app.command()
@contract
def run(
    manifest_path: ManifestArg,
    runtime: Annotated[str, typer.Option("--runtime", help=(
        "local: this Python as it is, with whatever is installed in it; venv: a virtual environment built "
        "by uv from the image flavour's hashed lock (reused by the lock's hash; offline with --wheelhouse); "
        "docker: the flavour's image"))] = "local",
    out: Annotated[Optional[Path], typer.Option("--out", help="run directory (default runs/<suite>-<digest>)")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1,
                                                 help="samples per task, spread evenly (recorded)")] = None,
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="model folder (default: model.path)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="local data / hub cache folder")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="docker: substitute base image")] = None,
    wheelhouse: Annotated[Optional[Path], typer.Option("--wheelhouse", help="docker, venv: wheels to build from")] = None,
    allow_accelerator_mismatch: Annotated[bool, typer.Option(
        "--allow-accelerator-mismatch", help="run on another accelerator than pinned (recorded)")] = False,
    model: Annotated[Optional[Path], typer.Option(
        "--model", help="substitute this model folder (re-pinned, recorded; budgets fitted to its window)")] = None,
    engine: Annotated[Optional[str], typer.Option(
        "--engine", help="substitute this engine at its installed version (recorded)")] = None,
    fixtures: Annotated[Optional[Path], typer.Option(
        "--fixtures", help="substitute hub data with FOLDER/<benchmark>/<task>.jsonl (re-pinned, recorded)")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="hash every weight byte, trusting no cached digest (audits)")] = False,
    shard: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="only shard K of N")] = None,
    shards: Annotated[Optional[int], typer.Option("--shards", min=1, help="N shards, run by --executor")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (processes here), slurm or ray")] = "local",
    parallel: Annotated[Optional[int], typer.Option("--parallel", min=1, help="local: shards at a time")] = None,
    retries: Annotated[int, typer.Option("--retries", min=0, help="re-runs of a failed shard")] = 1,
    sbatch: Annotated[Optional[list[str]], typer.Option("--sbatch", help="slurm: an sbatch option")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="slurm: submit and return")] = False,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="ray: the cluster (default: "
                                                       "RAY_ADDRESS, else a local Ray)")] = None,
) -> None:
    """Run a pinned manifest; write records, scores and provenance to the run directory (resumable)."""
    from loomctl import runtime as rt

    argv = _shard_argv(manifest_path, locals())  # the options as given, for a shard job to repeat
    _check_run_options(runtime, fixtures, data_dir, model, model_dir)
    manifest, substitutions, fixture_dir = _substituted(manifest_path, model, engine, fixtures)
    data_dir = fixture_dir or data_dir
    out = out or rt.default_run_dir(manifest)
    where = rt.runtime_for(runtime, manifest.data, base, wheelhouse, log=_err)
    if shard is not None or shards is not None:
        from loomctl.shardrun import ExecutorOptions, RunRequest

        _run_sharded(where, RunRequest(manifest, out, limit, substitutions, allow_accelerator_mismatch, model_dir,
                                       data_dir, not no_cache), shard, shards,
                     ExecutorOptions(executor, parallel, retries, sbatch or [], detach, ray_address,
                                     argv + ["--out", str(out.resolve())]))
        return
    with rt.writer_lock(out):
        where.prepare(manifest, out, limit, substitutions, allow_accelerator_mismatch)
        code = where.run(manifest, out, model_dir, data_dir, allow_accelerator_mismatch, hash_cache=not no_cache)
    if code:
        _err(f"run failed (exit {code}); finished samples are kept in {out} — rerun the same command to resume")
        raise typer.Exit(code)
    print(_score_table(RunDir(out).scores()))
    print(f"\nrun directory: {out}")


def _substituted(manifest_path: Path, model, engine, fixtures):
    """The valid manifest with --model/--engine/--fixtures substituted: (manifest, the substitutions block
    recorded in the effective manifest or None, the fixtures' data folder or None)."""
    from loomctl import manifest as mf
    from loomctl.substitute import substitute

    manifest = mf.load_valid(manifest_path)
    source_digest = manifest.digest
    manifest, changes, fixture_dir = substitute(manifest, model, engine, fixtures)
    return manifest, ({"source_manifest_digest": source_digest, "changes": changes} if changes else None), fixture_dir


def _check_run_options(runtime: str, fixtures, data_dir, model, model_dir) -> None:
    from loomctl.runtime import RUNTIMES

    if runtime not in RUNTIMES:
        raise _input_error(f"--runtime: {runtime!r} is not a runtime — use local, venv or docker")
    if fixtures is not None and data_dir is not None:
        raise _input_error("--fixtures: replaces the data folder — pass either --fixtures or --data-dir")
    if model is not None and model_dir is not None:
        raise _input_error("--model: substitutes the pinned model — pass either --model or --model-dir")


EXECUTORS = ("local", "slurm", "ray")


# `loomctl run`'s options a shard job repeats (parameter name -> option), and its on/off flags.
_SHARD_OPTIONS = {"runtime": "--runtime", "limit": "--limit", "model_dir": "--model-dir", "data_dir": "--data-dir",
                  "base": "--base", "wheelhouse": "--wheelhouse", "model": "--model", "engine": "--engine",
                  "fixtures": "--fixtures"}
_SHARD_FLAGS = {"allow_accelerator_mismatch": "--allow-accelerator-mismatch", "no_cache": "--no-cache"}


def _shard_argv(manifest_path: Path, given: dict) -> list[str]:
    """`loomctl run`'s arguments (``given``: its parameters) as a shard job repeats them, paths absolute."""
    argv = [str(manifest_path.resolve())]
    for name, option in _SHARD_OPTIONS.items():
        value = given[name]
        if value is not None:
            argv += [option, str(value.resolve()) if isinstance(value, Path) else str(value)]
    return argv + [option for name, option in _SHARD_FLAGS.items() if given[name]]


def _run_sharded(where, request, shard: str | None, shards: int | None, options) -> None:
    """`run --shard K/N` (one shard) or `run --shards N` (all of them, by the executor, then the merge)."""
    from loomctl import shardrun

    out = request.out
    if shard is not None and shards is not None:
        raise _input_error("--shard: runs one shard of a split; --shards runs them all — pass one of the two")
    if options.executor not in EXECUTORS:
        raise _input_error(f"--executor: {options.executor!r} is not an executor — use {', '.join(EXECUTORS)}")
    if shard is not None:
        index, count = shardrun.parse_shard(shard)
        code = shardrun.execute_shard(where, request, index, count)
        if code:
            _err(f"shard {index} failed (exit {code}); finished samples are kept in {shardrun.shard_dir(out, index)} "
                 "— rerun the same command to resume")
            raise typer.Exit(code)
        print(f"shard {index}/{count} done: {shardrun.shard_dir(out, index)}\n"
              f"when all {count} are done: loomctl merge {out}")
        return
    scores = shardrun.execute(where, request, shards, options)
    if scores is None:
        return
    print(_score_table(scores))
    print(f"\nrun directory: {out} (merged from {shards} shards)")


@app.command()
@contract
def plan(
    manifest_path: ManifestArg,
    shards: Annotated[Optional[int], typer.Option("--shards", min=1, help="number of shards")] = None,
    gpus: Annotated[Optional[int], typer.Option(
        "--gpus", min=1, help="GPUs to fill: shards = GPUs / the manifest's accelerator count")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="as `loomctl run --limit`")] = None,
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="model folder (default: model.path)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="local data / hub cache folder")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="as `loomctl run --model`")] = None,
    engine: Annotated[Optional[str], typer.Option("--engine", help="as `loomctl run --engine`")] = None,
    fixtures: Annotated[Optional[Path], typer.Option("--fixtures", help="as `loomctl run --fixtures`")] = None,
    allow_accelerator_mismatch: Annotated[bool, typer.Option(
        "--allow-accelerator-mismatch", help="as `loomctl run`")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    emit: Annotated[Optional[str], typer.Option("--emit", help=(
        "k8s-indexed-job: prepare the sharded run directory --out and write --out/k8s/job.json, a Kubernetes "
        "Indexed Job (one completion index per shard) checked offline against the API schema"))] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="--emit: run directory (default runs/<suite>-<digest>)")] = None,
    image: Annotated[Optional[str], typer.Option("--image", help="--emit: the image by digest, REPO@sha256:…")] = None,
    model_claim: Annotated[Optional[str], typer.Option("--model-claim", help="--emit: PVC of the model")] = None,
    data_claim: Annotated[Optional[str], typer.Option("--data-claim", help="--emit: PVC of the data")] = None,
    runs_claim: Annotated[Optional[str], typer.Option("--runs-claim", help="--emit: PVC the shards write to")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="--emit: Job name (default from the suite)")] = None,
    parallelism: Annotated[Optional[int], typer.Option("--parallelism", min=1, help="--emit: pods at a time")] = None,
    retries: Annotated[int, typer.Option("--retries", min=0, help="--emit: re-runs of a failed shard")] = 1,
) -> None:
    """Split a run into shards of nearly equal estimated cost; print them and the balance (writes nothing,
    unless --emit k8s-indexed-job: then the run directory and its Kubernetes Job)."""

    if (shards is None) == (gpus is None):
        raise _input_error("--shards: pass the number of shards, or --gpus to fill that many GPUs (one of the two)")
    manifest, substitutions, fixture_dir = _substituted(manifest_path, model, engine, fixtures)
    accelerator = manifest.data["accelerator"]
    count = shards or max(1, gpus // (accelerator.get("count", 1) if accelerator.get("kind") == "gpu" else 1))
    emit_only = {"--out": out, "--image": image, "--model-claim": model_claim, "--data-claim": data_claim,
                 "--runs-claim": runs_claim, "--name": name, "--parallelism": parallelism}
    if emit is None and any(v is not None for v in emit_only.values()):
        raise _input_error(*[f"{flag}: only with --emit (plan writes nothing without it) — add --emit "
                             "k8s-indexed-job, or drop the option" for flag, v in emit_only.items() if v is not None])
    if emit is not None:
        from loomctl import k8s

        options = k8s.JobOptions(image, model_claim, data_claim, runs_claim, name, parallelism, retries)
        _emit(emit, manifest, out, options, count, limit, substitutions, allow_accelerator_mismatch, model_dir,
              fixture_dir or data_dir)
        return
    _print_plan(manifest, count, limit, substitutions, allow_accelerator_mismatch, model_dir, fixture_dir or data_dir,
                as_json)


def _print_plan(manifest, count: int, limit, substitutions, allow_accelerator_mismatch: bool, model_dir, data_dir,
                as_json: bool) -> None:
    from loomctl import plan as planner
    from loomctl import runtime as rt
    from loomctl import shardrun

    effective = rt.effective_manifest(manifest, {"kind": "local", "accelerator_mismatch_allowed":
                                                 allow_accelerator_mismatch}, limit, substitutions)
    result = shardrun.make_plan(manifest, effective, count, model_dir, data_dir)
    if as_json:
        print(json.dumps(shardrun.plan_json(result), indent=2))
        return
    print(planner.table(result))
    costs = list(result.tasks)
    print(f"balance by sample count (the same samples in {count} equal runs of tasks): "
          f"{planner.by_count(costs, count):.3f}")


def _emit(emit: str, manifest, out, options, count: int, limit, substitutions, allow_accelerator_mismatch: bool,
          model_dir, data_dir) -> None:
    """`plan --emit`: the sharded run directory prepared and its Kubernetes Job written (loomctl.k8s)."""
    from loomctl import k8s
    from loomctl import runtime as rt

    if emit not in k8s.EMITS:
        raise _input_error(f"--emit: {emit!r} is not something plan writes — use {', '.join(k8s.EMITS)}")
    out = out or rt.default_run_dir(manifest)
    path, job = k8s.emit(manifest, out, options, count, limit, substitutions, allow_accelerator_mismatch,
                         model_dir, data_dir)
    print(k8s.next_steps(out, job))


@app.command()
@contract
@reads_received
def merge(run_dir: Annotated[Path, typer.Argument(help="run directory of the shards", show_default=False)]) -> None:
    """Check the shards of a sharded run (all there, one plan, one environment) and merge them into it."""
    from loomctl.merge import merge as merge_shards
    from loomctl.merge import refuse_unsharded
    from loomctl.runtime import writer_lock

    refuse_unsharded(run_dir)
    with writer_lock(run_dir):
        scores = merge_shards(run_dir)
    print(_score_table(scores))
    print(f"\nmerged run directory: {run_dir}")


@app.command()
@contract
@reads_received
def score(run_dir: Annotated[Path, typer.Argument(help="run directory", show_default=False)]) -> None:
    """Re-score a run from its records alone (no model needed) and rewrite its scores.json."""
    from harness.api import score_run
    from loomctl.runtime import writer_lock

    if not RunDir(run_dir).has(MANIFEST):
        raise _input_error(f"{run_dir}: not a run directory (no manifest.json) — pass the directory `loomctl run` wrote")
    with writer_lock(run_dir):
        print(_score_table(score_run(run_dir)))


def _judge_table(scores: JudgeScores) -> str:
    header = f"{'task':<40}{'metric':<32}{'judge':<10}{'score':>8}{'± se':>7}{'judged':>9}"
    lines = [header, "-" * len(header)]
    for task_id, task in scores.tasks.items():
        for metric, entry in task.metrics.items():
            score = "-" if entry.summary.score is None else f"{entry.summary.score:.2f}"
            se = "" if entry.summary.stderr is None else f"{entry.summary.stderr:.1f}"
            lines.append(f"{task.benchmark + '/' + task_id:<39} {metric:<32}{entry.judge:<10}{score:>8}{se:>7}"
                         f"{str(entry.n_judged) + '/' + str(entry.n):>9}")
    lines.append("-" * len(header))
    for name, metrics in scores.benchmarks.items():
        for metric, entry in metrics.items():
            score = "-" if entry.score is None else f"{entry.score:.2f}"
            lines.append(f"{name:<40}{metric:<42}{score:>8}")
    return "\n".join(lines)


@app.command()
@contract
def judge(
    run_dir: Annotated[Path, typer.Argument(help="run directory", show_default=False)],
    judges: Annotated[Optional[list[str]], typer.Option(
        "--judge", metavar="NAME=DIR", help="local folder of judge NAME (instead of its pinned path)")] = None,
    root: Annotated[Path, typer.Option(
        "--root", help="the manifest's folder, for judges' relative paths")] = Path("."),
    runtime: Annotated[str, typer.Option("--runtime", help=(
        "local: this Python as it is; venv: the environment of the run manifest's flavour lock; docker: its "
        "image"))] = "local",
    base: Annotated[Optional[str], typer.Option("--base", help="docker: substitute base image")] = None,
    wheelhouse: Annotated[Optional[Path], typer.Option("--wheelhouse", help="docker, venv: wheels to build from")] = None,
) -> None:
    """Compute a finished run's judge metrics with its pinned judges; write judge/ and judge_scores.json.
    With --runtime docker the judge pass runs in the image of the run's manifest (built or reused as
    `loomctl run` does), the judges' folders read-only, no network; with --runtime venv in the
    environment built from that image's lock."""
    from harness.api import parse_judge_dirs
    from loomctl import runtime as rt

    if runtime not in rt.RUNTIMES:
        raise _input_error(f"--runtime: {runtime!r} is not a runtime — use local, venv or docker")
    if not RunDir(run_dir).has(MANIFEST) or not RunDir(run_dir).has(SCORES):
        raise _input_error(f"{run_dir}: not a finished run (no manifest.json or scores.json) — pass the directory "
                           "`loomctl run` wrote")
    judge_dirs = parse_judge_dirs(judges or [])
    effective = RunDir(run_dir).read(MANIFEST)
    where = rt.runtime_for(runtime, effective, base, wheelhouse, log=_err)
    with rt.writer_lock(run_dir):
        code = where.judge(run_dir, effective, root, judge_dirs)
    if code:
        raise typer.Exit(code)
    scores = RunDir(run_dir).judge_scores()
    if not scores.tasks:
        print(f"{run_dir}: no task of this run has judge metrics; wrote an empty judge_scores.json")
        return
    print(_judge_table(scores))
    print(f"\njudge scores: {run_dir / 'judge_scores.json'} (scores.json is unchanged)")


@app.command()
@contract
@reads_received
def diff(
    new: Annotated[Path, typer.Argument(help="new run directory (or scores.json)", show_default=False)],
    golden: Annotated[Path, typer.Argument(help="golden run directory (or scores.json)", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="table, markdown, json or junit")] = "table",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="write here instead of stdout")] = None,
) -> None:
    """Gate NEW against GOLDEN: paired tests per task, Holm-corrected, non-inferiority margin; exit 1 on FAIL."""
    from loomctl.compare import compare
    from loomctl.diff_formats import FORMATS

    if fmt not in FORMATS:
        raise _input_error(f"--format: {fmt!r} is not a format — use one of {sorted(FORMATS)}")
    result = compare(new, golden)
    text = FORMATS[fmt](result)
    if output:
        output.write_text(text if text.endswith("\n") else text + "\n")
    else:
        print(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(FORMATS["markdown"](result))
    if result["verdict"] == "FAIL":
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
@contract
@reads_received
def verify(
    run_dir: Annotated[Path, typer.Argument(help="run directory to check", show_default=False)],
    model_dir: Annotated[Optional[Path], typer.Option("--model-dir", help="also check against the model's tokenizer")] = None,
    root: Annotated[Optional[Path], typer.Option("--root", help="the manifest's folder (data, templates)")] = None,
) -> None:
    """Check a published run without a model: digests, records, re-scored aggregates; exit 1 on any mismatch."""
    from loomctl.verify import verify as check

    problems = check(run_dir, model_dir, root)
    for problem in problems:
        _err(problem)
    if problems:
        _err(f"{run_dir}: {len(problems)} problem(s)")
        raise typer.Exit(EXIT_CHECK_FAILED)
    print(f"{run_dir}: consistent" + (" with its inputs" if model_dir and root else " (records and scores)"))


@app.command()
@contract
@reads_received
def audit(
    claims: Annotated[Path, typer.Argument(help="claims file (golden/claims/*.json)", show_default=False)],
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Compare reported numbers with reproduced runs; exit 1 if any claim is not reproduced."""
    from loomctl.audit import audit as run_audit
    from loomctl.audit import render

    results = run_audit(claims, run_dirs)
    print(json.dumps(results, indent=2) if as_json else render(results))
    if any(r["verdict"] == "not reproduced" for r in results):
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
@contract
@reads_received
def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write")] = Path("report.html"),
    golden: Annotated[Optional[Path], typer.Option("--golden", help="golden run to diff against")] = None,
) -> None:
    """Write one self-contained HTML report: scores, length curve, NIAH heatmap, diff, provenance, samples."""
    from loomctl.htmlreport import render

    if not RunDir(run_dir).has(SCORES):
        raise _input_error(f"{run_dir}: not a finished run (no scores.json) — pass a run directory")
    output.write_text(render(run_dir, golden), encoding="utf-8")
    print(f"wrote {output}")


def _input_error(*messages: str):
    from loomcore.errors import InputError

    return InputError(*messages)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
