"""Pins: compute every hash a manifest pins, write them back, or check them (the CI pre-flight).

Weights are hashed per file, streamed, and cached by (path, size, mtime) so a re-check of an
unchanged 16 GB model costs a stat per file. Dataset pins are the canonical hash of the samples
the harness will evaluate, computed by the same loader the harness uses.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import api as harness_api  # its names resolve on first use
from loomcore.errors import InputError
from loomcore.hashing import HashCache, hash_model, samples_sha256, sha256_text
from loomcore.taskspec import Dataset
from loomctl import manifest as mf


@dataclass(frozen=True)
class Pin:
    """One pinned field: where it lives in the manifest (a key path) and its computed value."""

    keys: tuple[str | int, ...]
    value: Any

    @property
    def pointer(self) -> str:
        return "/".join(map(str, self.keys))


def model_dir_of(manifest: mf.Manifest, override: Path | None) -> Path:
    if override is not None:
        return override
    model = manifest.data.get("model", {})
    if "path" not in model:
        raise InputError("model/path: the manifest names no local model folder — pass --model-dir with the "
                         "downloaded snapshot of the pinned revision")
    return mf.resolve_path(manifest, model["path"], "model/path")


def _task_location(manifest: mf.Manifest, task: mf.ManifestTask, key: str) -> tuple[str | int, ...]:
    """Where a task's setting is written: the task itself if it sets it, else the defaults that do."""
    b_index, t_index = (int(x) for x in task.pointer.split("/")[1::2])
    bench = manifest.data["benchmarks"][b_index]
    if key in bench["tasks"][t_index]:
        return ("benchmarks", b_index, "tasks", t_index, key)
    if key in bench.get("defaults", {}):
        return ("benchmarks", b_index, "defaults", key)
    return ("defaults", key)


def compute(manifest: mf.Manifest, model_dir: Path | None = None, data_dir: Path | None = None,
            cache: HashCache | None = None) -> list[Pin]:
    """Every pin of the manifest, computed from the files it names."""
    from harness.api import chat_template_text
    from loomcore.tokenizer import ModelTokenizer

    cache = cache or HashCache()
    folder = model_dir_of(manifest, model_dir)
    files, weights = hash_model(folder, cache)
    cache.save()
    pins = [Pin(("model", "files"), files), Pin(("model", "weights_sha256"), weights)]
    pins += judge_pins(manifest, cache)
    tokenizer: list[ModelTokenizer] = []

    def get_tokenizer() -> ModelTokenizer:
        if not tokenizer:
            tokenizer.append(ModelTokenizer(folder))
        return tokenizer[0]

    seen_prompts: set[tuple] = set()
    all_tasks = mf.tasks(manifest)
    # Files and hub data first: a fixture that does not load is named before any synthetic data is made.
    loaded = {task.pointer: samples_sha256(harness_api.load_samples(
                  Dataset.from_json(task.dataset, f"{task.pointer}/dataset"), manifest.root, get_tokenizer, data_dir, reuse_generated=False, where=task.pointer))
              for task in all_tasks if task.dataset.get("source") != "generator"}
    inputs = input_pins(manifest, all_tasks)
    pins += inputs
    datasets = {task.pointer: _with_inputs(task.dataset, inputs, task.pointer) for task in all_tasks
                if task.dataset.get("source") == "generator"}
    generated = generated_hashes(list(datasets.values()), folder, get_tokenizer, manifest.root)
    for task in all_tasks:
        if task.dataset.get("source") == "generator":
            digest = generated[_dataset_key(datasets[task.pointer])]
        else:
            digest = loaded[task.pointer]
        pins.append(Pin(_task_location(manifest, task, "dataset") + ("sha256",), digest))
        where = _task_location(manifest, task, "prompt")
        if where in seen_prompts:
            continue
        seen_prompts.add(where)
        pins.append(Pin(where + ("sha256",), sha256_text(mf.template_text(manifest, task.prompt, task.pointer))))
        if task.prompt.get("chat_template") == "tokenizer":
            pins.append(Pin(where + ("chat_template_sha256",), sha256_text(chat_template_text(folder))))
    return pins


def input_pins(manifest: mf.Manifest, tasks: list[mf.ManifestTask]) -> list[Pin]:
    """The hash of each file a generated task reads (``niah_essays``' ``params.haystack_sha256`` of its
    ``haystack_dir``), computed from the files as they are, so the dataset is pinned on them."""
    pins, problems = [], []
    for task in tasks:
        if task.dataset.get("source") != "generator":
            continue
        try:
            found = harness_api.generator_input_pins(task.dataset.get("generator"), task.dataset.get("params"),
                                                     manifest.root)
        except InputError as exc:  # every missing or unreadable input named at once, with its task
            problems += [f"{task.pointer} ({task.id}): {problem}" for problem in exc.problems]
            continue
        where = _task_location(manifest, task, "dataset") + ("params",)
        pins += [Pin(where + (key,), value) for key, value in sorted(found.items())]
    if problems:
        raise InputError(*problems)
    return pins


def _with_inputs(dataset: dict[str, Any], inputs: list[Pin], pointer: str) -> dict[str, Any]:
    """A task's dataset with the input pins of ``inputs`` that belong to it written into its params."""
    own = {pin.keys[-1]: pin.value for pin in inputs if pin.pointer.startswith(f"{pointer}/dataset/params/")}
    return {**dataset, "params": {**dataset["params"], **own}} if own else dataset


def _dataset_key(dataset: dict[str, Any]) -> str:
    return json.dumps(dataset, sort_keys=True)


def _generated_sha256(dataset: dict[str, Any], tokenizer=lambda: _WORKER_TOKENIZER[0], root: Path = Path(".")) -> str:
    """One generated dataset's content hash (regenerated, never from the cache); in a worker, with the
    worker's tokenizer. A file the generator reads (``niah_essays``' haystack) is relative to ``root``."""
    return samples_sha256(harness_api.load_samples(Dataset.from_json(dataset, "dataset"), root, tokenizer,
                                                   reuse_generated=False))


_WORKER_TOKENIZER: list[Any] = []
PARALLEL_FROM_TOKENS = 2_000_000  # generated tokens (lengths x samples) below which one process pins


def _start_worker(model_dir: str) -> None:
    from loomcore.tokenizer import ModelTokenizer

    _WORKER_TOKENIZER.append(ModelTokenizer(Path(model_dir)))


def pin_workers() -> int:
    """Processes that generate datasets side by side: LOOMCTL_PIN_WORKERS, else one per CPU."""
    value = os.environ.get("LOOMCTL_PIN_WORKERS")
    if value is None:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"LOOMCTL_PIN_WORKERS: {value!r} is not a positive whole number — set it to how many "
                         "processes may generate data at once, or unset it")
    return int(value)


def generated_hashes(datasets: list[dict[str, Any]], model_dir: Path, tokenizer,
                     root: Path = Path(".")) -> dict[str, str]:
    """The content hash of each distinct generated dataset, keyed by ``_dataset_key``. Each is a
    deterministic function of its own spec, so large ones are generated in parallel worker processes
    (started fresh, not forked, each with its own tokenizer); the hashes do not depend on the order
    or the number of workers. Small ones are generated here with ``tokenizer`` (a loader)."""
    unique = {_dataset_key(d): d for d in datasets}
    workers = min(pin_workers(), len(unique))
    if sum(_size(d) for d in unique.values()) < PARALLEL_FROM_TOKENS:
        workers = 1  # starting the workers would cost more than it saves
    if workers <= 1:
        return {key: _generated_sha256(d, tokenizer, root) for key, d in unique.items()}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(str(model_dir),)) as pool:
        # the largest first, so the pool is not left waiting on one long job at the end
        order = sorted(unique, key=lambda key: -_size(unique[key]))
        job = functools.partial(_generated_sha256, root=root)
        return dict(zip(order, pool.map(job, [unique[key] for key in order])))


def _size(dataset: dict[str, Any]) -> int:
    params = dataset.get("params") or {}
    lengths = params.get("lengths") or [0]
    return int(sum(lengths)) * int(params.get("samples_per_length") or params.get("samples_per_cell") or 1)


def judge_pins(manifest: mf.Manifest, cache: HashCache) -> list[Pin]:
    """The weights pins of each judge with a local ``path`` (a judge without one, e.g. a hosted model,
    keeps its pins as written: `loomctl judge` refuses it while they are open)."""
    pins = []
    for name, spec in sorted((manifest.data.get("judges") or {}).items()):
        if not spec.get("path"):
            continue
        folder = mf.resolve_path(manifest, spec["path"], f"judges/{name}/path")
        if not folder.is_dir():
            raise InputError(f"judges/{name}/path: {spec['path']!r} is not a folder — download judge "
                             f"{spec.get('id')!r} there, or remove its path")
        files, weights = hash_model(folder, cache)
        pins += [Pin(("judges", name, "files"), files), Pin(("judges", name, "weights_sha256"), weights)]
    cache.save()
    return pins


def _get(data: Any, keys: tuple) -> Any:
    for key in keys:
        data = data[key]
    return data


def drift(manifest: mf.Manifest, pins: list[Pin]) -> list[str]:
    """One line per pin whose manifest value differs from the computed one."""
    problems = []
    for pin in pins:
        try:
            current = _get(manifest.data, pin.keys)
        except (KeyError, IndexError, TypeError):
            current = None
        if current == pin.value:
            continue
        if pin.keys[-1] == "files" and isinstance(current, dict):
            for name in sorted(set(current) | set(pin.value)):
                if current.get(name) != pin.value.get(name):
                    problems.append(f"{pin.pointer}/{name}: pinned {current.get(name)} but the file hashes to "
                                    f"{pin.value.get(name)} — the model folder changed; restore it or re-pin")
            continue
        if current is None:
            problems.append(f"{pin.pointer}: open pin, computed {pin.value} — run `loomctl pin` and commit the manifest")
        else:
            problems.append(f"{pin.pointer}: pinned {current} but computed {pin.value} — the input changed; "
                            "restore it, or re-pin with `loomctl pin` if the change is intended")
    return problems


def write(manifest: mf.Manifest, pins: list[Pin]) -> bool:
    """Write the pins into the manifest file (atomically); returns whether anything changed."""
    data = json.loads(json.dumps(manifest.data))
    for pin in pins:
        parent = _get(data, pin.keys[:-1])
        parent[pin.keys[-1]] = pin.value
    text = mf.dump(data)
    if text == manifest.path.read_text(encoding="utf-8"):
        return False
    with tempfile.NamedTemporaryFile("w", dir=manifest.path.parent, delete=False, encoding="utf-8") as handle:
        handle.write(text)
    os.replace(handle.name, manifest.path)
    manifest.data = data
    return True


def resolve_revisions(manifest: mf.Manifest) -> list[Pin]:
    """Open hub revisions (datasets, and a model without a local folder) resolved to the commit the hub
    serves now. Needs the hub: where it cannot be reached, each open revision is one error line and
    nothing is written (a guessed sha would be worse than an open pin)."""
    wanted: list[tuple[tuple[str | int, ...], str, str]] = []
    for task in mf.tasks(manifest):
        if task.dataset.get("source") == "hub" and task.dataset.get("revision") is None:
            wanted.append((_task_location(manifest, task, "dataset") + ("revision",), "dataset", task.dataset["repo"]))
    model = manifest.data.get("model", {})
    if model.get("revision") is None and "path" not in model:
        wanted.append((("model", "revision"), "model", model.get("id", "")))
    if not wanted:
        return []
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise InputError("pin --resolve: needs huggingface_hub — pip install 'loomctl[hub]'") from None
    api, pins, problems = HfApi(), [], []
    # A hub that accepts the connection and never answers must not hold the command: every request has
    # a connect and read timeout (LOOMCTL_HUB_TIMEOUT seconds, default 30).
    timeout = float(os.environ.get("LOOMCTL_HUB_TIMEOUT") or 30)
    for keys, kind, repo in wanted:
        try:
            info = api.dataset_info(repo, timeout=timeout) if kind == "dataset" else api.model_info(repo, timeout=timeout)
            pins.append(Pin(keys, info.sha))
        except Exception as exc:  # offline mode, no network, unknown repo, timeout: "not resolvable here"
            problems.append(f"{'/'.join(map(str, keys))}: cannot resolve {repo} on the hub at {api.endpoint} "
                            f"({type(exc).__name__}: {str(exc)[:120]}) — run `loomctl pin --resolve` where the hub "
                            "is reachable, or fill the 40-hex commit by hand from the repo's history")
    if problems:
        raise InputError(*problems)
    return pins
