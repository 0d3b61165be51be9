"""Checks shared by the engine-side acceleration methods (KV-cache compression, sparse prefill attention).

A setting names its method, every parameter of that method and the versions of the libraries it runs
through; these functions list what is wrong with one (torch-free, so a host-side validator can call
them too). RAG (``harness.accel.rag``) checks its settings with them as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """One parameter: its check (None when valid, else what is wrong) and what to write."""

    check: Callable[[Any], str | None]
    advice: str


def int_at_least(low: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"must be an integer >= {low}, got {value!r}"
        return None
    return check


def installed_version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def fraction_below_one(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        return f"must be a number in [0, 1), got {value!r}"
    return None


def param_problems(spec: dict[str, Any], wanted: dict[str, Param], where: str, label: str,
                   optional: Iterable[str] = ()) -> list[str]:
    """Unknown, missing (unless ``optional``) and invalid parameters, one line each."""
    params = spec.get("params") or {}
    optional = set(optional)
    problems = [f"{where}/acceleration/params/{name}: not a parameter of {label} — its parameters are "
                f"{', '.join(wanted)}" for name in sorted(params.keys() - wanted.keys())]
    for name, param in wanted.items():
        if name not in params:
            if name not in optional:
                problems.append(f"{where}/acceleration/params/{name}: required (no value is filled in, so the "
                                f"manifest pins them all) — set {param.advice}")
        elif (problem := param.check(params[name])) is not None:
            problems.append(f"{where}/acceleration/params/{name}: {problem} — set {param.advice}")
    return problems


def library_problems(spec: dict[str, Any], required: Iterable[str], where: str, label: str) -> list[str]:
    """Required libraries the setting does not pin, and pins that differ from what is installed."""
    library = spec.get("library") or {}
    problems = []
    for package in required:
        if package not in library:
            found = installed_version(package)
            problems.append(f"{where}/acceleration/library/{package}: required for {label} — pin the version it "
                            "runs with" + (f' ("{found}" is installed)' if found else
                                            f" (install it: pip install {package})"))
    for package, pinned in library.items():
        found = installed_version(package)
        if found != pinned:
            problems.append(f"{where}/acceleration/library/{package}: the manifest pins {pinned}, "
                            + (f"{found} is installed" if found else "it is not installed")
                            + f" — install {package}=={pinned}, or re-pin the setting to what is installed")
    return problems
