"""The pipeline: effective manifest -> samples -> prompts -> truncation -> engine -> records -> scores.

Runs where the model runs (in this Python or in the image), reading ``manifest.json`` of a run
directory that loomctl prepared. Everything that can change a score was resolved into that file;
this module only executes it, verifying every pin on the way (weights, data, templates).
"""

from __future__ import annotations

import contextlib
import platform
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.accel import configure_engine, record_label, transform_samples
from harness.benchmarks import BENCHMARKS, prepared
from harness.data.loaders import check_pin, load_samples, select
from harness.engines import Engine, Request, load_engine
from harness.prompts import builder_for_task
from harness.scoring import score_sample, suite_scores
from harness.weights import verify as verify_weights
from loomcore.errors import InputError
from loomcore.hashing import sha256_text
from loomcore.records import Record, RecordFile, read_records
from loomcore.rundir import ENVIRONMENT, MANIFEST, SCORES, TIMING, RunDir
from loomcore.shards import ShardSpec
from loomcore.specs import ModelRef, Scores, Suite
from loomcore.taskspec import Sample, TaskSpec, limit_from_json
from loomcore.tokenizer import ModelTokenizer


@dataclass
class Progress:
    """Per-task progress on stderr: samples done, tokens/s and ETA."""

    task: str
    total: int
    done: int = 0
    resumed: int = 0
    tokens: int = 0
    started: float = 0.0

    def start(self, already: int) -> None:
        self.done = self.resumed = already
        self.started = time.perf_counter()
        note = f" (resuming: {already} already done)" if already else ""
        print(f"[{self.task}] {self.done}/{self.total} samples{note}", file=sys.stderr, flush=True)

    def advance(self, samples: int, tokens: int) -> None:
        self.done += samples
        self.tokens += tokens
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        eta = (self.total - self.done) * elapsed / max(self.done - self.resumed, 1)
        print(f"[{self.task}] {self.done}/{self.total} samples  {self.tokens / elapsed:,.0f} tok/s  ETA {eta:.0f}s",
              file=sys.stderr, flush=True)


def environment(engine_versions: dict[str, str] | None = None) -> dict[str, Any]:
    """What a result needs to name about where it was produced."""
    import harness

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name")) or cpu
    except (OSError, StopIteration):
        pass
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                           "cpu": cpu, "harness": harness.__version__}
    for module in ("torch", "transformers", "tokenizers", "numpy"):
        try:
            env[module] = __import__(module).__version__
        except ImportError:
            env[module] = None
    if env["torch"]:
        import torch

        env["cuda"] = torch.version.cuda
        env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        env["torch_threads"] = torch.get_num_threads()
    env["engine"] = engine_versions or {}
    return env


def accelerator_mismatches(pinned: dict[str, Any]) -> list[str]:
    """How this machine differs from the manifest's accelerator (empty when it matches)."""
    if pinned["kind"] == "cpu":
        return []
    try:
        import torch
    except ImportError:
        return ["accelerator: torch is not installed, no GPU can be used"]
    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    problems = []
    if found < pinned["count"]:
        problems.append(f"accelerator/count: the manifest asks for {pinned['count']} GPU(s), {found} visible")
    for i in range(min(found, pinned["count"])):
        props = torch.cuda.get_device_properties(i)
        wanted = pinned["model"].lower().replace("-", " ").split()[0]
        if wanted not in props.name.lower():
            problems.append(f"accelerator/model: GPU {i} is {props.name!r}, the manifest pins {pinned['model']!r}")
        if props.total_memory / 2**30 < pinned.get("min_memory_gib", 0):
            problems.append(f"accelerator/min_memory_gib: GPU {i} has {props.total_memory / 2**30:.0f} GiB, "
                            f"the manifest asks for {pinned['min_memory_gib']}")
    if pinned.get("cuda") and torch.version.cuda and not torch.version.cuda.startswith(pinned["cuda"]):
        problems.append(f"accelerator/cuda: CUDA {torch.version.cuda}, the manifest pins {pinned['cuda']}")
    return problems


@dataclass
class Prepared:
    """A task ready to generate: its selected samples, acceleration notes, prompts by sample id, and
    the seconds spent loading data and building prompts."""

    samples: list[dict[str, Any]]
    accel_notes: dict[str, Any]
    prompts: dict[str, dict[str, Any]]
    data_seconds: float
    prompts_seconds: float


class Background:
    """``work(*args)`` in a daemon thread; ``result()`` waits for it and returns its value or raises
    its error in the caller's thread. A daemon: a run stopped by an error or SIGTERM does not wait."""

    def __init__(self, work: Callable[..., Any], *args: Any):
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(work, args), name="prepare", daemon=True).start()

    def _run(self, work: Callable[..., Any], args: tuple) -> None:
        try:
            self._value = work(*args)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


def run(run_dir: Path, model_dir: Path, root: Path, data_dir: Path | None = None,
        allow_accelerator_mismatch: bool = False, hash_cache: bool = True) -> Scores:
    """Run the effective manifest in ``run_dir``; an engine server or worker processes started for it
    are stopped when it ends, whichever way it ends. ``hash_cache=False`` hashes every weight byte."""
    started = time.perf_counter()
    effective = RunDir(run_dir).read(MANIFEST)
    mismatches = accelerator_mismatches(effective["accelerator"])
    if mismatches and not allow_accelerator_mismatch:
        raise InputError(*[f"{m} — run on the pinned accelerator, or pass --allow-accelerator-mismatch "
                           "(recorded in the result)" for m in mismatches])
    weights = verify_weights(effective["model"], model_dir, use_cache=hash_cache)
    with contextlib.ExitStack() as resources:
        pipeline = Pipeline(effective, RunDir(run_dir), model_dir, root, data_dir, mismatches, weights, resources)
        pipeline.run_tasks()
        scores = score_run(run_dir)
        pipeline.write_timing(time.perf_counter() - started)
        return scores


class Pipeline:
    """One run's steps over its effective manifest: prepare a task (data, pins, prompts), generate
    its batches, write their records; the engine loaded on first need and the environment recorded
    as it becomes known."""

    def __init__(self, effective: dict[str, Any], run: RunDir, model_dir: Path, root: Path, data_dir: Path | None,
                 mismatches: list[str], weights, resources: contextlib.ExitStack):
        self.effective, self.run, self.model_dir, self.root, self.data_dir = effective, run, model_dir, root, data_dir
        self.mismatches, self.weights, self.resources = mismatches, weights, resources
        self.tasks = run.tasks(effective)
        self.limit = limit_from_json(effective.get("limit"))
        self.shard = ShardSpec.from_json(effective["shard"]) if "shard" in effective else None
        self.tokenizer = ModelTokenizer(model_dir)
        self.phases = {"engine_load": 0.0, "data": 0.0, "prompts": 0.0, "prepare_wait": 0.0}
        self.generate_seconds = 0.0
        self.loaded: Engine | None = None
        self.configured: str | None = None  # the task the engine's acceleration is set for
        self.by_task: dict[str, dict[str, str]] = {}  # an accelerated task's engine versions
        self.upcoming: list[Background] = []

    def engine(self) -> Engine:
        """The engine, loaded on first need (a run whose samples are all done never loads it)."""
        if self.loaded is None:
            t0 = time.perf_counter()
            effective = self.effective
            if effective["engine"].get("mode") == "server":
                # The engine's own OpenAI-compatible server, started here and stopped when the run ends.
                from harness.engines.server import served

                self.loaded = self.resources.enter_context(served(
                    effective["engine"], effective["model"], str(self.model_dir), effective["accelerator"],
                    log_path=self.run.log("server.log")))
            else:
                self.loaded = load_engine(effective["engine"], effective["model"], str(self.model_dir),
                                          effective["accelerator"])
                if hasattr(self.loaded, "close"):
                    self.resources.callback(self.loaded.close)
            self.phases["engine_load"] = time.perf_counter() - t0
            self.weights.recheck()  # the loaded weights are the hashed ones, or the run stops here
            self.write_environment()
        return self.loaded

    def write_environment(self) -> None:
        """environment.json, with each accelerated task's engine versions (method, library) once known."""
        repeat = getattr(self.loaded, "repeatability", lambda: None)()
        self.run.write(ENVIRONMENT, {**environment(self.loaded.versions() if self.loaded else None),
                                     "accelerator_mismatch": self.mismatches,
                                     **({"acceleration_engines": self.by_task} if self.by_task else {}),
                                     **({"repeatability": repeat} if repeat is not None else {})})

    def prepare(self, task: TaskSpec) -> Prepared:
        """A task's samples (loaded, pin-checked, selected, transformed) and their prompts."""
        t0 = time.perf_counter()
        samples = load_samples(task.dataset, self.root, lambda: self.tokenizer, self.data_dir, where=task.id)
        check_pin(samples, task.dataset, task.id)
        samples = select(samples, self.limit)
        samples = prepared(samples, task.benchmark, task.id)
        samples, accel_notes = transform_samples(task.active_acceleration, samples, self.tokenizer, task)
        builder = builder_for_task(task, self.tokenizer, self.model_dir)
        t1 = time.perf_counter()
        try:
            prompts = dict(zip((s["id"] for s in samples), builder.build_many(samples)))
        except InputError as exc:
            raise InputError(*[f"{task.id}/{problem}" for problem in exc.problems]) from None
        return Prepared(samples, accel_notes, prompts, t1 - t0, time.perf_counter() - t1)

    def run_tasks(self) -> None:
        """Every task in order. Each task's data and prompts are prepared in the background while the
        one before it generates (tokenizing long contexts would otherwise leave the accelerator idle),
        from the end of that task's first batch on: the engine, its acceleration method and their
        imports are loaded by then, so no two threads import the same libraries at once (a task that
        generated nothing leaves the next one to be prepared when it starts). A task's own preparation
        errors are raised when that task starts, as if it had been prepared then."""
        tasks = self.tasks
        for index, task in enumerate(tasks):
            t0 = time.perf_counter()
            prepared = self.upcoming.pop().result() if self.upcoming else self.prepare(task)
            self.phases["prepare_wait"] += time.perf_counter() - t0
            self.phases["data"] += prepared.data_seconds
            self.phases["prompts"] += prepared.prompts_seconds
            following = tasks[index + 1] if index + 1 < len(tasks) else None
            self.run_task(task, prepared, following)
        if self.loaded is None:  # everything was already done: still record where this (empty) run happened
            self.write_environment()
        elif hasattr(self.loaded, "finish"):  # the openai engine's last repeatability probe
            self.loaded.finish()
            self.write_environment()

    def run_task(self, task: TaskSpec, prepared: Prepared, following: TaskSpec | None) -> None:
        """A task's batches, fixed by the whole task (longest prompts first), so a resumed run replays
        exactly the batches an uninterrupted run would have run; finished samples are skipped."""
        records_file = RecordFile(self.run.path, task.id)
        done = {r.id for r in records_file.load(repair=True)}
        prompts = prepared.prompts
        batch_size = int(self.effective["engine"].get("args", {}).get("batch_size", 1))
        order = sorted(prepared.samples, key=lambda s: (-prompts[s["id"]]["tokens_after"], s["id"]))
        batches = self.own_batches(task, [order[i:i + batch_size] for i in range(0, len(order), batch_size)])
        progress = Progress(task.id, sum(map(len, batches)))
        progress.start(len(done))
        for batch in batches:
            if all(s["id"] in done for s in batch):
                continue
            new, elapsed = self.run_batch(task, prepared, batch, done)
            records_file.append(new, elapsed / max(len(batch), 1))
            progress.advance(len(new), sum(r.input_tokens + r.output_tokens for r in new))
            if self.loaded is not None and not self.upcoming and following is not None:
                self.upcoming.append(Background(self.prepare, following))

    def own_batches(self, task: TaskSpec, batches: list[list[Sample]]) -> list[list[Sample]]:
        """The batches this run executes: all of them, or in a shard (``loomcore.shards``) those of its
        units — after checking that the task has the number of samples the shards were planned on."""
        if self.shard is None:
            return batches
        planned, loaded = self.shard.samples.get(task.id), sum(map(len, batches))
        if planned is None:
            raise InputError(f"shard/samples: no count for task {task.id} — the shard's manifest was edited; "
                             "plan and run the shards again")
        if planned != loaded:
            raise InputError(f"shard/samples/{task.id}: the plan was made on {planned} samples, this shard loaded "
                             f"{loaded} — the shards must see the same data (same --fixtures/--data-dir, --limit); "
                             "plan again with the command that runs them")
        return [b for index, b in enumerate(batches) if self.shard.runs_batch(task.id, index)]

    def run_batch(self, task: TaskSpec, prepared: Prepared, batch: list[Sample],
                  done: set[str]) -> tuple[list[Record], float]:
        """One batch generated (its skipped prompts are not sent); its records and the seconds it took."""
        prompts, gen = prepared.prompts, task.generation
        runnable = [s for s in batch if not prompts[s["id"]]["skipped"]]
        outputs = {}
        active = self.engine() if runnable else None
        if active is not None and self.configured != task.id:
            configure_engine(active, task.active_acceleration, task.id)
            self.configured = task.id
            if task.active_acceleration:
                self.by_task[task.id] = active.versions()
                self.write_environment()
        t0 = time.perf_counter()
        if runnable:
            requests = [Request(s["id"], prompts[s["id"]]["text"], gen.max_new_tokens, gen.stops,
                                0.0 if gen.temperature is None else gen.temperature,
                                1.0 if gen.top_p is None else gen.top_p, gen.seed or 0,
                                task.prompt.adds_special_tokens) for s in runnable]
            outputs = {o.id: o for o in active.generate(requests)}
        elapsed = time.perf_counter() - t0
        self.generate_seconds += elapsed
        added = task.prompt.sent_special_tokens(self.tokenizer.added_special_tokens)
        new = [_record(task, s, prompts[s["id"]], outputs.get(s["id"]), prepared.accel_notes.get(s["id"]), added)
               for s in batch if s["id"] not in done]
        return new, elapsed

    def write_timing(self, total: float) -> None:
        self.run.write(TIMING, {"wall_seconds": round(total, 3), "generate_seconds": round(self.generate_seconds, 3),
                                **peak_memory(), **{f"{k}_seconds": round(v, 3) for k, v in self.phases.items()},
                                "overhead_share": round(1 - self.generate_seconds / total, 4) if total else None})


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process and, on CUDA, peak GPU memory allocated by torch (MiB)."""
    import resource

    out = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


PROMPT_EDGE_CHARS = 300  # prompt head and tail kept in each record, for reading a sample without its data


def record_meta(benchmark: str, sample: dict[str, Any], notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sample fields its benchmark keeps for scoring and sub-splits, plus an acceleration
    method's notes (RAG's retrieved chunk ids)."""
    bench = BENCHMARKS.get(benchmark)
    meta = {k: sample[k] for k in (bench.meta_fields if bench else ()) if k in sample}
    return {**meta, **(notes or {})}


def _sent_special_tokens(added: tuple[str, ...], text: str | None) -> list[str] | None:
    """What a record lists as the special tokens added to its prompt: None when none were (or no prompt
    was sent: a skipped sample), so that records of such prompts keep their bytes."""
    return list(added) if added and text is not None else None


def _record(task: TaskSpec, sample: Sample, prompt: dict[str, Any], output,
            notes: dict[str, Any] | None = None, added_tokens: tuple[str, ...] = ()) -> Record:
    answers = sample.get("answers", [])
    references = [str(a) for a in (answers if isinstance(answers, list) else [answers])]
    meta = record_meta(task.benchmark, sample, notes)
    text = prompt["text"]
    prediction = output.text if output else None
    bench = BENCHMARKS.get(task.benchmark)
    length = sample.get(bench.length_field) if bench and bench.length_field else None
    return Record(
        id=sample["id"], task=task.id, benchmark=task.benchmark,
        length=length if isinstance(length, int) and not isinstance(length, bool) else None,
        depth=sample.get("depth"), prompt_sha256=sha256_text(text) if text is not None else None,
        prompt_head=text[:PROMPT_EDGE_CHARS] if text is not None else None,
        prompt_tail=text[-PROMPT_EDGE_CHARS:] if text is not None else None,
        input_tokens_before=prompt["tokens_before"], input_tokens=prompt["tokens_after"],
        truncated=prompt["truncated"], skipped=prompt["skipped"], prediction=prediction, references=references,
        output_tokens=output.output_tokens if output else 0, finish_reason=output.finish_reason if output else None,
        scores=score_sample(list(task.metrics), prediction, references, meta) if output else {},
        meta=meta, acceleration=record_label(task.active_acceleration),
        special_tokens=_sent_special_tokens(added_tokens, text))


def run_header(effective: dict[str, Any]) -> dict[str, Any]:
    """What a scores file says about the run it scores: manifest digest, suite and model."""
    return {"manifest_digest": effective["manifest_digest"], "suite": effective["suite"],
            "model": {"id": effective["model"]["id"], "weights_sha256": effective["model"]["weights_sha256"]}}


def score_run(run_dir: Path) -> Scores:
    """Re-score a run from its records alone (no model): recompute every metric, then aggregate."""
    effective = RunDir(run_dir).read(MANIFEST)
    tasks = RunDir(run_dir).tasks(effective)
    metrics = {t.id: list(t.metrics) for t in tasks}
    records = {}
    for task_id, task_records in read_records(run_dir).items():
        records[task_id] = [
            Record(**{**r.__dict__, "scores": score_sample(metrics[task_id], r.prediction, r.references, r.meta)})
            if r.prediction is not None else r for r in task_records]
    scores = suite_scores(records, tasks, effective["manifest_digest"],
                          Suite.from_json(effective["suite"], "manifest.json/suite"),
                          ModelRef(effective["model"]["id"], effective["model"]["weights_sha256"]))
    RunDir(run_dir).write(SCORES, scores.to_json())
    return scores
