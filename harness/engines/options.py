"""Engine arguments and the helpers engines share: ``engine.args`` checked against an engine's table of
``Option`` (names, JSON types, bounds, defaults), command-line flags for an engine's server, version
floors, GPU counts and importing an optional engine package at its pinned version.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from dataclasses import dataclass
from typing import Any

from loomcore.errors import InputError, version_mismatch

HOST = "127.0.0.1"  # where an engine's own server listens: this machine only


@dataclass(frozen=True)
class Option:
    """One accepted ``engine.args`` key: its JSON type, and the value used when the manifest leaves it
    out (None: derived from the manifest, or not passed)."""

    kind: type
    default: Any = None
    minimum: int | None = None  # for a number: the smallest value that makes sense


JSON_TYPE = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a string"}

def version_tuple(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: (0, 11, 1) for "0.11.1", "0.11.1rc2" or "0.11.1+cu128"."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")[:3]) if match else ()


def check_version_floor(engine: str, pinned: str, minimum: tuple[int, ...]) -> None:
    if version_tuple(pinned) < minimum:
        raise InputError(f"engine/version: the manifest pins {engine} {pinned}; this harness supports {engine} "
                         f">= {'.'.join(map(str, minimum))} — pin a newer {engine}")


def resolve_options(engine: str, args: dict[str, Any] | None, options: dict[str, Option]) -> dict[str, Any]:
    """``engine.args`` checked against ``options`` (names and JSON types), with the defaults filled in."""
    args = dict(args or {})
    problems = [f"engine/args/{key}: the {engine} engine has no argument {key!r} — use one of {sorted(options)}"
                for key in sorted(set(args) - set(options))]
    for key, value in args.items():
        option = options.get(key)
        if option is not None and not _is_json_type(value, option.kind):
            problems.append(f"engine/args/{key}: {value!r} is not {JSON_TYPE[option.kind]} — write {key} as "
                            f"{JSON_TYPE[option.kind]}")
        elif option is not None and option.minimum is not None and value < option.minimum:
            problems.append(f"engine/args/{key}: {value!r} is below {option.minimum} — use at least {option.minimum}")
    if problems:
        raise InputError(*problems)
    return {key: args.get(key, option.default) for key, option in options.items()}


def _is_json_type(value: Any, kind: type) -> bool:
    if isinstance(value, bool):  # JSON true/false must not pass for a number
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def cli_flags(kwargs: dict[str, Any], negated: tuple[str, ...] = ()) -> list[str]:
    """Command-line flags for keyword arguments whose names are the flags' (``max_model_len`` ->
    ``--max-model-len VALUE``): a true boolean is a bare flag, a false one ``--no-<flag>`` where the engine
    defaults it on (``negated``) and nothing otherwise; None is left out."""
    flags: list[str] = []
    for name, value in kwargs.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            flags += [f"--{flag}"] if value else ([f"--no-{flag}"] if name in negated else [])
        elif value is not None:
            flags += [f"--{flag}", str(value)]
    return flags


def gpu_count(accelerator: dict[str, Any] | None) -> int:
    """GPUs the manifest's accelerator names (1 for a CPU manifest or none)."""
    return int(accelerator.get("count", 1)) if accelerator and accelerator.get("kind") == "gpu" else 1


def import_engine(package: str, pinned: str, env: dict[str, str]):
    """Import an optional engine package after setting its environment; refuse a missing package or one
    that is not the version the manifest pins."""
    if importlib.util.find_spec(package) is None:
        raise InputError(f"engine/name: {package} is not installed here — pip install 'loomctl[{package}]' on a "
                         f"CUDA machine, or run in the {package} image flavour (image.flavour: {package}, "
                         "--runtime docker)")
    os.environ.update(env)
    module = importlib.import_module(package)
    if module.__version__ != pinned:
        raise version_mismatch(package, pinned, module.__version__)
    return module
