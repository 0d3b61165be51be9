"""The seams, by import graph: the kernel (``loomcore``) imports neither side and no torch; the host
(``loomctl``) imports the kernel and ``harness.api`` only, never a harness module of its own choice;
``harness.api`` names only what exists."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in the package's files, relative ones resolved."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.split(".")[: -node.level]
                    base = ".".join(parts + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] if base in ("harness", "loomcore", "loomctl") \
                    else [base]
                found += [(str(path.relative_to(ROOT)), name) for name in names]
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_kernel_imports_neither_side_nor_torch():
    bad = [(f, m) for f, m in _imports("loomcore") if _top(m) in ("harness", "loomctl", "torch", "transformers")]
    assert bad == []


def test_the_host_imports_only_the_kernel_and_the_harness_api():
    bad = [(f, m) for f, m in _imports("loomctl") if _top(m) == "harness" and m != "harness.api"
           and not m.startswith("harness.api.")]
    assert bad == []
    assert not [(f, m) for f, m in _imports("loomctl") if _top(m) in ("torch", "transformers")]


def test_the_harness_never_imports_the_host():
    assert [(f, m) for f, m in _imports("harness") if _top(m) == "loomctl"] == []


@pytest.mark.parametrize("module", ["loomcore.errors", "loomcore.hashing", "loomcore.records", "loomcore.rundir",
                                    "loomcore.tokenizer", "harness.api", "loomctl.runtime", "loomctl.cli"])
def test_importing_loads_no_torch_and_the_kernel_loads_neither_side(module):
    code = (f"import sys, {module}; mods = set(sys.modules); "
            "assert 'torch' not in mods and 'transformers' not in mods, 'torch'; "
            f"print(sorted(m for m in mods if m.split('.')[0] in ('harness', 'loomctl')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = ast.literal_eval(result.stdout.strip())
    if module.startswith("loomcore"):
        assert loaded == []
    if module in ("harness.api", "loomctl.runtime", "loomctl.cli"):  # the tables load on first use only
        assert {m for m in loaded if m.startswith("harness")} <= {"harness", "harness.api", "harness.registry"}


def test_every_entry_point_of_the_harness_api_resolves():
    import harness.api as api

    for name in api.ENTRY_POINTS:
        assert getattr(api, name) is not None, name
    with pytest.raises(AttributeError, match="no entry point"):
        api.run_pipeline  # noqa: B018 — not an entry point: the host never drives the pipeline in-process


def test_the_schema_names_exactly_the_registered_engines_and_flavours():
    """The manifest schema's enums are the registries' keys: a new engine row without its schema entry
    (or the reverse) fails here, not in a user's manifest."""
    import json

    from harness.engines import ENGINES
    from loomctl.images import FLAVOURS

    schema = json.loads((ROOT / "manifests" / "schema" / "manifest.v1.json").read_text())
    enums = []

    def walk(node):
        if isinstance(node, dict):
            enums.append(node.get("enum"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert sorted(ENGINES) in [sorted(e) for e in enums if e]
    assert sorted(FLAVOURS) in [sorted(e) for e in enums if e]
    assert all(row.package for row in ENGINES.values())


def test_no_entry_point_of_the_harness_api_takes_or_returns_an_untyped_dict():
    """What crosses from the harness to the host is typed: the effective manifest's tasks are
    ``loomcore.taskspec`` specs, scores ``loomcore.specs``; raw JSON (dataset rows, a generator's
    params, an engine section being validated) is named as JSON. No ``Any`` in a signature."""
    import inspect

    from harness import api

    untyped = []
    for name in api.__all__:
        value = getattr(api, name)
        if not callable(value) or isinstance(value, (dict, list, type)):
            continue
        signature = inspect.signature(value)
        annotations = [str(p.annotation) for p in signature.parameters.values()] + [str(signature.return_annotation)]
        untyped += [f"{name}: {a}" for a in annotations if "Any" in a or a == str(inspect.Parameter.empty)]
    assert untyped == []
