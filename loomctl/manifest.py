"""Manifests: load, validate (schema v1 + semantic checks), resolve defaults, canonical digest.

A manifest is kept as the parsed JSON (key order preserved, so ``loomctl pin`` can write it back
unchanged but for the pins) plus its location; everything else is derived from it by the pure
functions here. Problems are reported all at once as ``path/in/manifest: what — what to do``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from harness import (
    api as harness_api,  # its names resolve on first use (the tables load only then)
)
from loomcore.errors import InputError
from loomcore.hashing import sha256_json, strict_json_loads
from loomcore.taskspec import Acceleration, Dataset, Generation, Prompt, TaskSpec, Truncation, adds_special_tokens

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "manifests" / "schema" / "manifest.v1.json"
SUPPORTED_MAJOR = "1"
# ``aggregation`` is accepted (schema 1 allows "mean" only) and not carried into the effective manifest:
# a benchmark's score is always its own aggregation (``harness.benchmarks``), never this setting.
SETTINGS_KEYS = ("prompt", "truncation", "generation", "metrics", "acceleration")


@dataclass
class Manifest:
    path: Path
    data: dict[str, Any]

    @property
    def root(self) -> Path:
        """Relative paths in a manifest are relative to the folder that holds it."""
        return self.path.parent

    @property
    def digest(self) -> str:
        return sha256_json(self.data)


@dataclass(frozen=True)
class ManifestTask:
    """One task of a manifest as written, with defaults applied (suite, then benchmark, then the task):
    tolerant of malformed parts, for validation and pinning (validation reports those). A valid
    manifest's tasks become the typed effective ``loomcore.taskspec.TaskSpec`` with ``effective``."""

    benchmark: str
    id: str
    dataset: dict[str, Any]
    prompt: dict[str, Any]
    truncation: dict[str, Any]
    generation: dict[str, Any]
    metrics: tuple[str, ...]
    pointer: str = field(compare=False)
    acceleration: dict[str, Any] | None = None

    def effective(self, template: str) -> TaskSpec:
        """The task as the harness runs it, its template's text inlined (``template_file`` dropped)."""
        prompt = {**{k: v for k, v in self.prompt.items() if k != "template_file"}, "template": template}
        at = self.pointer
        return TaskSpec(benchmark=self.benchmark, id=self.id, dataset=Dataset.from_json(self.dataset, f"{at}/dataset"),
                        prompt=Prompt.from_json(prompt, f"{at}/prompt"),
                        truncation=Truncation.from_json(self.truncation, f"{at}/truncation"),
                        generation=Generation.from_json(self.generation, f"{at}/generation"),
                        metrics=self.metrics,
                        acceleration=Acceleration.from_json(self.active_acceleration, f"{at}/acceleration")
                        if self.active_acceleration else None)

    def as_dict(self) -> dict[str, Any]:
        """The task's settings as written (``loomctl show``): the template is still a file's name."""
        out = {"benchmark": self.benchmark, "id": self.id, "dataset": self.dataset, "prompt": self.prompt,
               "truncation": self.truncation, "generation": self.generation, "metrics": list(self.metrics)}
        if self.active_acceleration:
            out["acceleration"] = self.active_acceleration
        return out

    @property
    def active_acceleration(self) -> dict[str, Any] | None:
        """The task's acceleration setting as written, None for the full cache (absent or kind "none")."""
        spec = self.acceleration
        return spec if spec and spec.get("kind", "none") != "none" else None

    @property
    def adds_special_tokens(self) -> bool:
        return adds_special_tokens(self.prompt.get("special_tokens"), self.prompt.get("chat_template"))

    @property
    def typed_acceleration(self) -> Acceleration | None:
        """The task's acceleration method, typed; None for the full cache (or a malformed setting,
        which validation reports)."""
        spec = self.active_acceleration
        if spec is None:
            return None
        try:
            return Acceleration.from_json(spec, f"{self.pointer}/acceleration")
        except InputError:
            return None


def load(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found — check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}) — pass a UTF-8 JSON manifest") from None
    try:
        data = strict_json_loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: malformed JSON ({exc.msg}) — fix the syntax") from None
    except ValueError as exc:
        raise InputError(f"{path}: {exc} (NaN and Infinity are not JSON) — write a finite number") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a manifest — start from manifests/loombench-lite.json") \
            from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the manifest must be a JSON object — start from manifests/loombench-lite.json")
    return Manifest(path, data)


def dump(data: dict[str, Any]) -> str:
    """The one on-disk form of manifests: two-space indent, key order kept, trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@cache
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _pointer(parts) -> str:
    return "/".join(str(p) for p in parts) or "(top level)"


_DISCRIMINATORS = ("source", "kind")


def _leaf_errors(error) -> list:
    """For a failed ``oneOf``, the errors of the branch the instance meant (by its ``source`` or
    ``kind`` field), instead of jsonschema's 'not valid under any of the given schemas'."""
    if error.validator != "oneOf" or not error.context:
        return [error]
    branches: dict[int, list] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def misses_discriminator(errs) -> bool:
        return any(e.validator == "const" and e.path and e.path[-1] in _DISCRIMINATORS for e in errs)

    def is_type_mismatch(errs) -> bool:
        return any(e.validator == "type" and not e.relative_path for e in errs)

    chosen = [errs for errs in branches.values() if not misses_discriminator(errs) and not is_type_mismatch(errs)]
    if not chosen:
        return [error]
    best = min(chosen, key=len)
    return [leaf for sub in best for leaf in _leaf_errors(sub)]


def _pattern_hint(error) -> str:
    pattern, key = error.validator_value, (error.path[-1] if error.path else "")
    if "{40}" in pattern:
        return f"{error.instance!r} is not a commit — pin the 40-hex commit sha (not a branch or tag name); " \
               "`loomctl pin --resolve` finds it where the hub is reachable"
    if "{64}" in pattern and "@sha256" in pattern:
        return f"{error.instance!r} is not pinned by digest — write the base image as name@sha256:<64 hex>"
    if "{64}" in pattern:
        return f"{error.instance!r} is not a sha256 — use 64 lower-case hex digits; `loomctl pin` computes it"
    if key == "schema_version":
        return f"schema version {error.instance!r} is not readable by this loomctl (schema major " \
               f"{SUPPORTED_MAJOR}) — convert the manifest or use the loomctl release for that schema"
    if "\\.\\." in pattern:
        return f"{error.instance!r} is not a safe relative path — use a path inside the manifest's folder, " \
               "without '..', a leading '/' or backslashes"
    return f"{error.instance!r} does not match {pattern} — fix the value"


def _required_hint(error) -> str:
    missing = error.message.split("'")[1] if "'" in error.message else error.message
    pin_like = missing in {"sha256", "revision", "weights_sha256", "files", "generator_version"}
    todo = "run `loomctl pin MANIFEST` to fill it (null marks an open pin)" if pin_like else "add it"
    return f"missing required field '{missing}' — {todo}"


def _unknown_hint(error) -> str:
    return f"{error.message} — remove it or fix its spelling (see manifests/schema/manifest.v1.json)"


def _bounds_hint(error) -> str:
    return f"{error.message} — use a value within the schema's bounds"


# What to say for each JSON Schema validator that failed: the field, the value and what to do.
_HINTS = {
    "pattern": _pattern_hint,
    "required": _required_hint,
    "additionalProperties": _unknown_hint,
    "unevaluatedProperties": _unknown_hint,
    "enum": lambda e: f"{e.instance!r} is not allowed — use one of {e.validator_value}",
    "const": lambda e: f"{e.instance!r} is not allowed — it must be {e.validator_value!r}",
    "type": lambda e: f"expected {e.validator_value}, got {type(e.instance).__name__} "
                      f"{json.dumps(e.instance)[:40]} — fix the type",
    **dict.fromkeys(("minimum", "exclusiveMinimum", "maximum", "minItems", "minLength"), _bounds_hint),
    "oneOf": lambda e: f"{json.dumps(e.instance)[:60]} matches none of the allowed forms — see "
                       "manifests/schema/manifest.v1.json",
}


def _hint(error) -> str:
    hint = _HINTS.get(error.validator)
    return hint(error) if hint else f"{error.message} — see manifests/schema/manifest.v1.json"


def schema_problems(data: dict[str, Any]) -> list[str]:
    version = data.get("schema_version")
    if isinstance(version, str) and version.split(".")[0] != SUPPORTED_MAJOR:
        return [f"schema_version: major version {version.split('.')[0]!r} is not supported (this loomctl reads "
                f"{SUPPORTED_MAJOR}.x) — convert the manifest or use the loomctl release that reads it"]
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaf_errors(error):
            problems.append(f"{_pointer(leaf.absolute_path)}: {_hint(leaf)}")
    return list(dict.fromkeys(problems))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        # An acceleration method is replaced whole: one method's parameters never leak into another's.
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "acceleration":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def tasks(manifest: Manifest) -> list[ManifestTask]:
    """Effective per-task settings; tolerant of malformed parts (validation reports those)."""
    data = manifest.data
    suite_defaults = {k: v for k, v in _as_dict(data.get("defaults")).items() if k in SETTINGS_KEYS}
    out = []
    for b_index, bench in enumerate(_as_list(data.get("benchmarks"))):
        bench = _as_dict(bench)
        bench_defaults = _merge(suite_defaults, {k: v for k, v in _as_dict(bench.get("defaults")).items()
                                                 if k in SETTINGS_KEYS})
        for t_index, task in enumerate(_as_list(bench.get("tasks"))):
            task = _as_dict(task)
            settings = _merge(bench_defaults, {k: v for k, v in task.items() if k in SETTINGS_KEYS})
            out.append(ManifestTask(
                benchmark=str(bench.get("name")), id=str(task.get("id")), dataset=_as_dict(task.get("dataset")),
                prompt=_as_dict(settings.get("prompt")), truncation=_as_dict(settings.get("truncation")),
                generation=_as_dict(settings.get("generation")),
                metrics=tuple(m for m in _as_list(settings.get("metrics")) if isinstance(m, str)),
                acceleration=_as_dict(settings.get("acceleration")) or None,
                pointer=f"benchmarks/{b_index}/tasks/{t_index}"))
    return out


def resolve_path(manifest: Manifest, relative: str, where: str) -> Path:
    """A manifest-relative path, refused if it leaves the manifest's folder (even via symlinks)."""
    if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
        raise InputError(f"{where}: {relative!r} leaves the manifest's folder — use a path inside it")
    root = manifest.root.resolve()
    path = (root / relative).resolve()
    if root not in path.parents and path != root:
        raise InputError(f"{where}: {relative!r} resolves outside the manifest's folder — use a path inside it")
    return path


MAX_TEMPLATE_BYTES = 2**20


def template_text(manifest: Manifest, prompt: dict[str, Any], where: str) -> str:
    if "template" in prompt:
        return prompt["template"]
    path = resolve_path(manifest, prompt["template_file"], f"{where}/template_file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except OSError as exc:
        raise InputError(f"{where}/template_file: {prompt['template_file']!r} cannot be read ({exc.strerror}) — "
                         "point it at a template file under the manifest's folder") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{where}/template_file: {prompt['template_file']!r} is not a regular file — point it "
                             "at a template file")
        if info.st_size > MAX_TEMPLATE_BYTES:
            raise InputError(f"{where}/template_file: {prompt['template_file']!r} is {info.st_size} bytes, more than "
                             f"a prompt template's {MAX_TEMPLATE_BYTES} — point it at a template")
        try:
            return handle.read().decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}/template_file: {prompt['template_file']!r} is not UTF-8") from None


def semantic_problems(manifest: Manifest) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for task in tasks(manifest):
        at = task.pointer
        bench = harness_api.BENCHMARKS.get(task.benchmark)
        if bench is None:
            problems.append(f"{at.rsplit('/tasks', 1)[0]}/name: unknown benchmark {task.benchmark!r} — "
                            f"use one of {sorted(harness_api.BENCHMARKS)}")
        if task.id in seen:
            problems.append(f"{at}/id: duplicate task id {task.id!r} (also at {seen[task.id]}) — "
                            "give every task a unique id; records and scores are keyed by it")
        seen.setdefault(task.id, at)
        if not task.metrics:
            problems.append(f"{at}/metrics: no metric set for this task or in defaults — name at least one of "
                            f"{harness_api.ALL_METRICS}")
        for metric in task.metrics:
            if metric not in harness_api.ALL_METRICS:
                problems.append(f"{at}/metrics: unknown metric {metric!r} — use one of {harness_api.ALL_METRICS}")
            elif bench is not None and metric not in bench.metrics:
                problems.append(f"{at}/metrics: {metric!r} is not an official metric of {bench.name} — "
                                f"use one of {list(bench.metrics)}")
        problems += _prompt_problems(manifest, task)
        problems += _truncation_problems(task)
        if "max_new_tokens" not in task.generation:
            problems.append(f"{at}/generation/max_new_tokens: missing — set it in the task or in defaults")
        problems += _dataset_problems(manifest, task)
        problems += harness_api.acceleration_problems(task.typed_acceleration, task.id)
    problems += _template_budget_problems(manifest)
    model = _as_dict(manifest.data.get("model"))
    if "path" in model:
        try:
            if not resolve_path(manifest, model["path"], "model/path").is_dir():
                problems.append(f"model/path: {model['path']!r} is not a folder — save the model there or fix the path")
        except InputError as exc:
            problems += exc.problems
    problems += _image_cuda_problems(manifest.data)
    from harness.api import engine_args_problems as args_problems

    problems += args_problems(_as_dict(manifest.data.get("engine")))
    return problems


_CUDA_TAG = re.compile(r"cuda:(\d+)\.(\d+)")


def _image_cuda_problems(data: dict[str, Any]) -> list[str]:
    """A CUDA base image whose tag names a CUDA version must match the accelerator's pinned CUDA
    (major.minor): the image is built from the one and checked against the other at run time."""
    base = _as_dict(data.get("image")).get("base") or ""
    cuda = _as_dict(data.get("accelerator")).get("cuda")
    match = _CUDA_TAG.search(base)
    if not (match and cuda):
        return []
    tagged = f"{match[1]}.{match[2]}"
    if tagged != ".".join(str(cuda).split(".")[:2]):
        return [f"image/base: the base image is CUDA {tagged} but accelerator/cuda pins {cuda} — pin a base of "
                "the accelerator's CUDA, or change accelerator.cuda"]
    return []


def _prompt_problems(manifest: Manifest, task: ManifestTask) -> list[str]:
    at = f"{task.pointer}/prompt"
    has_text, has_file = "template" in task.prompt, "template_file" in task.prompt
    if has_text == has_file:
        return [f"{at}: set exactly one of 'template' and 'template_file' — in the task or in defaults"]
    if "sha256" not in task.prompt:
        return [f"{at}/sha256: missing pin — run `loomctl pin MANIFEST` (null marks an open pin)"]
    if has_file:
        try:
            if not resolve_path(manifest, task.prompt["template_file"], f"{at}/template_file").is_file():
                return [f"{at}/template_file: {task.prompt['template_file']!r} not found — create it or fix the path"]
        except InputError as exc:
            return exc.problems
    if task.prompt.get("chat_template") == "tokenizer" and "chat_template_sha256" not in task.prompt:
        return [f"{at}/chat_template_sha256: missing pin for the tokenizer's chat template — run `loomctl pin`"]
    if "special_tokens" not in task.prompt:
        return [f"{at}/special_tokens: missing — set it in the task or in defaults.prompt: \"tokenizer\" adds the "
                "tokenizer's own special tokens (a BOS such as Gemma's <bos>) to a plain prompt, as AutoTokenizer, "
                "vLLM and lm-evaluation-harness do (a chat template writes its own); \"none\" sends the text alone. "
                "It changes what the model sees and the score, so the manifest pins it"]
    if task.prompt.get("system") is not None and task.prompt.get("system_field") is not None:
        return [f"{at}: both system and system_field are set — keep system_field to send each sample's own system "
                "message, or system to send one to every sample"]
    return []


def _truncation_problems(task: ManifestTask) -> list[str]:
    at = f"{task.pointer}/truncation"
    problems = [f"{at}/{key}: missing — set it in the task or in defaults"
                for key in ("policy", "budget_tokens") if key not in task.truncation]
    budget, new = task.truncation.get("budget_tokens"), task.generation.get("max_new_tokens")
    if isinstance(budget, int) and isinstance(new, int) and budget <= new:
        problems.append(f"{at}/budget_tokens: {budget} leaves no room for the prompt after reserving "
                        f"max_new_tokens={new} — raise the budget or lower max_new_tokens")
    return problems


def _template_budget_problems(manifest: Manifest) -> list[str]:
    """A template that cannot fit its budget even with an empty context; needs the model's tokenizer,
    so it is checked only when model.path holds one (``loomctl run`` checks every sample anyway)."""
    model = _as_dict(manifest.data.get("model"))
    try:
        folder = resolve_path(manifest, model["path"], "model/path") if isinstance(model.get("path"), str) else None
    except InputError:
        return []
    if folder is None or not (folder / "tokenizer.json").is_file():
        return []
    from harness.api import prompt_budget, template_floor_tokens
    from loomcore.tokenizer import ModelTokenizer

    tokenizer = ModelTokenizer(folder)
    problems = []
    for task in tasks(manifest):
        budget, new = task.truncation.get("budget_tokens"), task.generation.get("max_new_tokens")
        if not (isinstance(budget, int) and isinstance(new, int)):
            continue
        try:
            text = template_text(manifest, task.prompt, task.pointer)
            floor = template_floor_tokens(text, tokenizer, special=task.adds_special_tokens)
        except (InputError, KeyError, OSError, ValueError):
            continue
        except Exception as exc:  # a Jinja syntax error
            problems.append(f"{task.pointer}/prompt: the template does not compile ({exc}) — fix its syntax")
            continue
        if floor > prompt_budget(budget, new):
            problems.append(f"{task.pointer}/truncation/budget_tokens: the template alone is {floor} tokens, more "
                            f"than budget {budget} minus max_new_tokens {new} — raise the budget or shorten the template")
    return problems


def _dataset_problems(manifest: Manifest, task: ManifestTask) -> list[str]:
    at = f"{task.pointer}/dataset"
    ds = task.dataset
    if ds.get("source") == "generator":
        from harness.api import GENERATORS
        from harness.api import generator_param_problems as param_problems

        if ds.get("generator") not in GENERATORS:
            return [f"{at}/generator: unknown generator {ds.get('generator')!r} — use one of {sorted(GENERATORS)}"]
        problems = param_problems(ds["generator"], ds.get("params", {}))
        if problems:
            return [f"{at}/{problem.replace('params.', 'params/', 1)}" for problem in problems]
    if ds.get("source") == "local" and isinstance(ds.get("path"), str):
        try:
            if not resolve_path(manifest, ds["path"], f"{at}/path").is_file():
                return [f"{at}/path: {ds['path']!r} not found — create it or fix the path"]
        except InputError as exc:
            return exc.problems
    return []


def open_pins(manifest: Manifest, for_run: bool = False) -> list[str]:
    """Pins still null: allowed by validate (listed), refused by run. Judge models are used only by
    judge metrics, scored apart from the run, so a run (``for_run``) does not need their pins. A
    model or judge with a local ``path`` needs no hub revision (its weights hash pins it)."""
    found = []
    pin_keys = {"sha256", "revision", "weights_sha256", "chat_template_sha256", *harness_api.INPUT_PIN_KEYS}

    def walk(node: Any, parts: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None and key in pin_keys:
                    local = "path" in node and (parts == ["model"] or len(parts) == 2 and parts[0] == "judges")
                    if key == "revision" and local:
                        continue
                    found.append("/".join(parts + [key]))
                walk(value, parts + [key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, parts + [str(i)])

    walk(manifest.data, [])
    return [p for p in found if not (for_run and p.startswith("judges/"))]


def validate(manifest: Manifest) -> list[str]:
    """All problems with a manifest (empty when valid)."""
    problems = schema_problems(manifest.data)
    if problems and problems[0].startswith("schema_version: major"):
        return problems
    flagged = {p.split(": ", 1)[0] for p in problems}
    semantic = [p for p in semantic_problems(manifest) if p.split(": ", 1)[0] not in flagged]
    return list(dict.fromkeys(problems + semantic))


def load_valid(path: str | Path) -> Manifest:
    manifest = load(path)
    problems = validate(manifest)
    if problems:
        raise InputError(*problems)
    return manifest
