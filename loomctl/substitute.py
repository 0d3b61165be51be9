"""Substitutions: run a pinned suite on another model, engine or data, with every change recorded.

``loomctl run MANIFEST --model DIR --engine NAME --fixtures DIR`` is how a suite pinned for an 8B
model on an H100 with vLLM and hub data is smoke-tested here on the tiny model, the transformers
engine and made-up samples in the upstream format. Nothing is silently replaced: the derived
manifest is re-pinned from the substituted inputs (weights, data and chat-template hashes), and the
effective manifest lists each substitution (field, from, to, why), so a result can never pass for a
run of the original suite.

What follows from a smaller model is applied and recorded too: truncation budgets above the
model's window are lowered to it, generation budgets above a quarter of it are lowered to that
quarter (a prompt must fit), generator lengths beyond the window are dropped, and a model without a
chat template gets raw prompts. Lengths its tokenizer cannot fill (RULER's searches giving up; probed
with one sample each) are dropped, each named with the generator's reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomctl import manifest as mf


def _installed_version(engine: str) -> str:
    from harness.api import ENGINES

    if engine not in ENGINES:
        raise InputError(f"--engine: no engine {engine!r} — use one of {', '.join(sorted(ENGINES))}")
    package = ENGINES[engine].package
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise InputError(f"--engine: {engine} is not installed here (no {package} package) — "
                         f"pip install 'loomctl[{engine}]' or choose another engine") from None


def _walk_settings(data: dict[str, Any]):
    """Every settings block of a manifest: suite defaults, benchmark defaults, tasks."""
    if isinstance(data.get("defaults"), dict):
        yield data["defaults"]
    for bench in data.get("benchmarks", []):
        if isinstance(bench.get("defaults"), dict):
            yield bench["defaults"]
        yield from bench.get("tasks", [])


def _model_window(model_dir: Path) -> int | None:
    config = model_dir / "config.json"
    if not config.is_file():
        raise InputError(f"--model: {model_dir} has no config.json — pass a saved transformers model folder")
    return json.loads(config.read_text()).get("max_position_embeddings")


def substitute(manifest: mf.Manifest, model_dir: Path | None = None, engine: str | None = None,
               fixtures: Path | None = None) -> tuple[mf.Manifest, list[dict[str, Any]], Path | None]:
    """The derived manifest (re-pinned), the substitutions made, and the data folder to run with."""
    from loomctl import pins

    data = copy.deepcopy(manifest.data)
    done: list[dict[str, Any]] = []
    if engine is not None:
        done += _substitute_engine(data, engine)
    if model_dir is not None:
        done += _substitute_model(manifest, data, model_dir.resolve())
    data_dir = None
    if fixtures is not None:
        data_dir = fixtures.resolve()
        done += _substitute_fixtures(manifest, data, data_dir)
    if model_dir is not None:
        done += _drop_unfillable_lengths(manifest, data, model_dir.resolve())
    if not done:
        return manifest, [], None
    derived = mf.Manifest(manifest.path, data)
    computed = pins.compute(derived, None, data_dir)
    for pin in computed:
        parent = data
        for key in pin.keys[:-1]:
            parent = parent[key]
        parent[pin.keys[-1]] = pin.value
    remaining = mf.open_pins(derived, for_run=True)
    if remaining:
        raise InputError(*[f"{p}: still open after the substitutions — pin it, or substitute it (--fixtures for "
                           "hub data)" for p in remaining])
    return derived, done, data_dir


def _substitute_engine(data: dict[str, Any], engine: str) -> list[dict[str, Any]]:
    """``--engine``: this engine at its installed version; its args kept only if it was the same engine."""
    old = data["engine"]
    new = {"name": engine, "version": _installed_version(engine),
           "args": old.get("args", {}) if old.get("name") == engine else {}}
    data["engine"] = new
    return [{"field": "engine", "from": old, "to": new, "why": "--engine"}]


def _substitute_model(manifest: mf.Manifest, data: dict[str, Any], model_dir: Path) -> list[dict[str, Any]]:
    """``--model``: a model folder under the manifest's, its budgets fitted to its window, its chat
    template (or none) used, the tasks that cannot fit dropped."""
    root = manifest.root.resolve()
    if not model_dir.is_relative_to(root):
        raise InputError(f"--model: {model_dir} is outside the manifest's folder {root} — manifests name their "
                         "inputs by relative paths; copy the model under it (e.g. models/<name>)")
    window = _model_window(model_dir)
    old = data["model"]
    data["model"] = {"id": f"local/{model_dir.name}", "path": model_dir.relative_to(root).as_posix(),
                     "revision": None, "dtype": "float32", "trust_remote_code": False,
                     **({"max_context_tokens": window} if window else {}),
                     "weights_sha256": None, "files": {}}
    done = [{"field": "model", "from": {k: old.get(k) for k in ("id", "revision", "weights_sha256")},
             "to": {"id": data["model"]["id"], "path": data["model"]["path"]}, "why": "--model"}]
    if window:
        done += _fit_to_window(data, window)
    if not _has_chat_template(model_dir):
        done += _without_chat_template(data)
    if window:
        done += _drop_tasks_that_cannot_fit(manifest, data, model_dir, window)
    return done


def _substitute_fixtures(manifest: mf.Manifest, data: dict[str, Any], fixtures: Path) -> list[dict[str, Any]]:
    """``--fixtures``: every hub dataset replaced by FIXTURES/<benchmark>/<task>.jsonl (all must exist), and
    every file or folder a generator reads that the fixtures hold at the path the manifest names it by
    (FIXTURES/haystacks/...: made-up stand-ins for inputs nobody may commit) read from there."""
    if not fixtures.is_dir():
        raise InputError(f"--fixtures: {fixtures} is not a folder — pass the folder with <benchmark>/<task>.jsonl")
    missing, done = [], []
    for task in mf.tasks(mf.Manifest(manifest.path, data)):
        if task.dataset.get("source") == "generator":
            done += _substitute_inputs(data, task, fixtures, manifest.root.resolve())
        if task.dataset.get("source") != "hub":
            continue
        relative = f"{task.benchmark}/{task.id}.jsonl"
        if not (fixtures / relative).is_file():
            missing.append(f"--fixtures: {fixtures / relative} not found — add a fixture for {task.pointer} "
                           "in the upstream row format")
            continue
        b_index, t_index = (int(x) for x in task.pointer.split("/")[1::2])
        target = data["benchmarks"][b_index]["tasks"][t_index]
        old = target["dataset"]
        target["dataset"] = {"source": "local", "path": relative, "format": "jsonl",
                             **({"fields": old["fields"]} if old.get("fields") else {}), "sha256": None}
        done.append({"field": f"{task.pointer}/dataset", "from": {k: old.get(k) for k in ("repo", "revision")},
                     "to": {"fixture": relative}, "why": "--fixtures"})
    if missing:
        raise InputError(*missing)
    return done


def _substitute_inputs(data: dict[str, Any], task: mf.ManifestTask, fixtures: Path, root: Path) -> list[dict[str, Any]]:
    """A generated task's inputs that FIXTURES holds at the manifest's relative path: the parameter points
    at the fixture (relative to the manifest's folder ``root`` when under it, else absolute) and its pin is
    re-computed from it. A fixture that leaves the fixtures folder (a link out, ``..``) is refused."""
    from harness.api import generator_input_params

    params = task.dataset.get("params")
    if not isinstance(params, dict):
        return []
    b_index, t_index = (int(x) for x in task.pointer.split("/")[1::2])
    target = data["benchmarks"][b_index]["tasks"][t_index]["dataset"]["params"]
    base = fixtures.resolve()
    done = []
    for key, pin in sorted(generator_input_params(task.dataset.get("generator")).items()):
        value = params.get(key)
        if not isinstance(value, str) or Path(value).is_absolute() or not (fixtures / value).exists():
            continue
        found = (fixtures / value).resolve()
        if ".." in Path(value).parts or not found.is_relative_to(base):
            raise InputError(f"--fixtures: {fixtures / value} (for {task.pointer}/dataset/params/{key}) leads "
                             f"outside {fixtures} — put the stand-in itself there, not a link")
        done.append({"field": f"{task.pointer}/dataset/params/{key}", "from": {key: value, pin: params.get(pin)},
                     "to": {"fixture": value}, "why": "--fixtures"})
        # relative to the manifest's folder when the fixtures lie under it, so the effective manifest (and its
        # digest) does not name the place the run happened in; else absolute
        target[key] = found.relative_to(root).as_posix() if found.is_relative_to(root) else str(found)
        target[pin] = None
    return done


def _has_chat_template(model_dir: Path) -> bool:
    from harness.api import chat_template_text

    try:
        return bool(chat_template_text(model_dir))
    except InputError:
        return False


def _without_chat_template(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A model with no chat template gets the raw prompt (recorded per settings block)."""
    done = []
    for block in _walk_settings(data):
        prompt = block.get("prompt")
        if isinstance(prompt, dict) and prompt.get("chat_template") == "tokenizer":
            prompt["chat_template"] = "none"
            prompt.pop("chat_template_sha256", None)
            done.append({"field": f"prompt/chat_template ({block.get('id', 'defaults')})", "from": "tokenizer",
                         "to": "none", "why": "the substituted model has no chat template"})
    return done


def _drop_tasks_that_cannot_fit(manifest: mf.Manifest, data: dict[str, Any], model_dir: Path,
                                window: int) -> list[dict[str, Any]]:
    """Tasks whose template alone (every field empty) and answer budget exceed the substituted
    window cannot run on that model at all: they are dropped, each named in the substitutions, so
    the benchmark's score says how many tasks it stands on. A benchmark left with no task fails."""
    from harness.api import prompt_budget, template_floor_tokens
    from loomcore.tokenizer import ModelTokenizer

    tokenizer = ModelTokenizer(model_dir)
    done = []
    derived = mf.Manifest(manifest.path, data)
    for task in reversed(mf.tasks(derived)):
        text = mf.template_text(derived, task.prompt, task.pointer)
        floor = template_floor_tokens(text, tokenizer, strict=False, special=task.adds_special_tokens)
        new = int(task.generation.get("max_new_tokens", 0))
        need = floor + new
        if floor > prompt_budget(min(window, int(task.truncation.get("budget_tokens", window))), new):
            b_index, t_index = (int(x) for x in task.pointer.split("/")[1::2])
            del data["benchmarks"][b_index]["tasks"][t_index]
            done.append({"field": task.pointer, "from": task.id, "to": None,
                         "why": f"its template alone needs {floor} tokens + {need - floor} to answer, more than the "
                                f"substituted window {window}: the task cannot run on this model"})
    emptied = [b["name"] for b in data["benchmarks"] if not b["tasks"]]
    if emptied:
        raise InputError(*[f"--model: no task of {name} fits the substituted model's window {window} — use a model "
                           "with a longer window" for name in emptied])
    return done[::-1]


def _drop_unfillable_lengths(manifest: mf.Manifest, data: dict[str, Any], model_dir: Path) -> list[dict[str, Any]]:
    """Generated lengths the substituted tokenizer cannot fill (RULER's cwe at 4,096 tokens with a tokenizer
    that spends many tokens per word: its example alone takes the room), probed with one sample each after
    the inputs are substituted: dropped, each named with the generator's reason; a task with none left is
    dropped as a task that cannot fit is. The suite's own lengths are never dropped without ``--model``."""
    from loomcore.tokenizer import ModelTokenizer

    done: list[dict[str, Any]] = []
    derived = mf.Manifest(manifest.path, data)
    tokenizer = cache(lambda: ModelTokenizer(model_dir))
    for task in reversed(mf.tasks(derived)):
        b_index, t_index = (int(x) for x in task.pointer.split("/")[1::2])
        own = data["benchmarks"][b_index]["tasks"][t_index].get("dataset")
        found = _unfillable(task.dataset, own, tokenizer, derived.root)
        if not found:
            continue
        kept = [n for n in own["params"]["lengths"] if n not in found]
        reasons = "; ".join(f"{n}: {why}" for n, why in sorted(found.items()))
        if kept:
            done.append({"field": f"{task.pointer}/dataset/params/lengths", "from": own["params"]["lengths"],
                         "to": kept, "why": f"the substituted model's tokenizer cannot fill these lengths ({reasons})"})
            own["params"]["lengths"] = kept
        else:
            del data["benchmarks"][b_index]["tasks"][t_index]
            done.append({"field": task.pointer, "from": task.id, "to": None,
                         "why": f"the substituted model's tokenizer cannot fill any of its lengths ({reasons})"})
    emptied = [b["name"] for b in data["benchmarks"] if not b["tasks"]]
    if emptied:
        raise InputError(*[f"--model: no task of {name} can be generated with the substituted model's tokenizer — "
                           "use another model" for name in emptied])
    return done[::-1]


def _unfillable(dataset: dict[str, Any], own: Any, tokenizer: Callable[[], Any], root: Path) -> dict[int, str]:
    """The lengths a generated task's own dataset block (``own``) asks for that its generator cannot fill;
    none where the probe meets another refusal (a missing or mispinned input), which pinning then reports
    with every other one, each with its task."""
    from harness.api import generator_unfillable_lengths

    if dataset.get("source") != "generator" or not isinstance(own, dict) or "lengths" not in own.get("params", {}):
        return {}
    try:
        return generator_unfillable_lengths(dataset["generator"], dataset.get("generator_version"),
                                            dataset.get("seed", 0), own["params"], tokenizer(), root)
    except InputError:
        return {}


def _fit_to_window(data: dict[str, Any], window: int) -> list[dict[str, Any]]:
    """Budgets and generated lengths a model with this window can take, each change recorded."""
    done = []
    for block in _walk_settings(data):
        truncation = block.get("truncation")
        if isinstance(truncation, dict) and truncation.get("budget_tokens", 0) > window:
            done.append({"field": "truncation/budget_tokens", "from": truncation["budget_tokens"], "to": window,
                         "why": "the substituted model's window"})
            truncation["budget_tokens"] = window
        generation = block.get("generation")
        if isinstance(generation, dict) and generation.get("max_new_tokens", 0) > window // 4:
            done.append({"field": "generation/max_new_tokens", "from": generation["max_new_tokens"],
                         "to": window // 4, "why": "a prompt must fit beside the answer in the substituted window"})
            generation["max_new_tokens"] = window // 4
        dataset = block.get("dataset")
        done += _grid_to_window(dataset, window, block.get("id", "defaults"))
        done += _sizes_to_window(dataset, window, block.get("id", "defaults"))
        lengths = (dataset or {}).get("params", {}).get("lengths") if isinstance(dataset, dict) else None
        if isinstance(lengths, list) and any(n > window for n in lengths):
            kept = [n for n in lengths if n <= window] or [min(lengths)]
            done.append({"field": f"dataset/params/lengths ({block.get('id', 'defaults')})", "from": lengths,
                         "to": kept, "why": "lengths beyond the substituted model's window"})
            dataset["params"]["lengths"] = kept
    return done


def _grid_to_window(dataset: Any, window: int, where: str) -> list[dict[str, Any]]:
    """A named NIAH grid (``params.grid``) with lengths beyond the window becomes its own lengths and depths,
    so that those lengths are dropped as any other generator's are (the cells kept are the grid's)."""
    from harness.api import GRIDS

    params = dataset.get("params") if isinstance(dataset, dict) else None
    if not isinstance(params, dict) or params.get("grid") not in GRIDS:
        return []
    lengths, depths = GRIDS[params["grid"]]
    if max(lengths) <= window:
        return []
    grid = params.pop("grid")
    params.update(lengths=list(lengths), depths=list(depths))
    # the lengths beyond the window are dropped next (and recorded) as any generator's are
    return [{"field": f"dataset/params/grid ({where})", "from": grid, "to": "its lengths and depths",
             "why": "lengths beyond the substituted model's window"}]


def _sizes_to_window(dataset: Any, window: int, where: str) -> list[dict[str, Any]]:
    """Sizes spaced evenly up to ``params.max_context_length`` (``num_sizes`` of them: Counting-Stars'
    ``counting_stars_text``) beyond the window: the sizes up to the window are kept (the same spacing), as
    lengths beyond it are dropped, recorded."""
    params = dataset.get("params") if isinstance(dataset, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("max_context_length"), int) \
            or not isinstance(params.get("num_sizes"), int) or params["max_context_length"] <= window:
        return []
    interval = max(params["max_context_length"] // max(params["num_sizes"], 1), 1)
    keep = max(window // interval, 1)
    old = {"max_context_length": params["max_context_length"], "num_sizes": params["num_sizes"]}
    params.update(max_context_length=interval * keep, num_sizes=keep)
    return [{"field": f"dataset/params/max_context_length ({where})", "from": old,
             "to": {"max_context_length": interval * keep, "num_sizes": keep},
             "why": "sizes beyond the substituted model's window"}]
