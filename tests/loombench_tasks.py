"""Test helpers for benchmark tables: a task's fixture loaded and prompted by the real components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.benchmarks.base import TaskDef
from harness.prompts import PromptBuilder, render
from loomcore.tokenizer import ModelTokenizer
from tests.conftest import ROOT
from tests.helpers import load_samples, loomctl

CONTEXT_ROOM = 24  # tokens of context the small budget leaves: enough for both ends, far less than a fixture
_MARK = "\x00CONTEXT\x00"


def fixture_path(family: str, task: TaskDef) -> str:
    """Where a task's fixture lives, relative to the repository (as `loomctl run --fixtures` finds it)."""
    return f"tests/data/loombench/{family}/{task.id}.jsonl"


def fixture_samples(family: str, task: TaskDef) -> list[dict[str, Any]]:
    """The task's fixture rows (upstream field names) through the real loader and the task's mapping."""
    spec = {"source": "local", "path": fixture_path(family, task), "format": "jsonl",
            "fields": dict(task.fields), "sha256": None}
    return load_samples(spec, ROOT, lambda: None)


def template_text(task: TaskDef) -> str:
    return (ROOT / "manifests" / "templates" / task.template).read_text(encoding="utf-8")


def check_cut_prompt(task: TaskDef, sample: dict[str, Any], tok: ModelTokenizer) -> str:
    """Build the sample's prompt at a budget that forces a middle cut; assert everything but the
    context survived whole and the context kept its two ends. Returns the prompt."""
    template = template_text(task)
    prefix, suffix = render(template, {**sample, "context": _MARK}).split(_MARK)
    wide = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**7,
                         max_new_tokens=task.max_new_tokens)
    budget = wide.overhead(sample) + task.max_new_tokens + CONTEXT_ROOM
    out = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=budget,
                        max_new_tokens=task.max_new_tokens).build(sample)
    assert out["truncated"], f"{task.id}/{sample['id']}: the fixture should not fit {budget} tokens"
    assert out["tokens_before"] > budget - task.max_new_tokens
    assert out["tokens_after"] <= budget - task.max_new_tokens
    text = out["text"]
    assert text.startswith(prefix) and text.endswith(suffix), task.id
    kept = text[len(prefix):len(text) - len(suffix)]
    context = str(sample["context"])
    assert 0 < len(kept) < len(context)
    assert kept[0] == context[0] and kept[-1] == context[-1], "middle truncation keeps both ends"
    return text


def run_on_fixtures(manifest, project, out, *extra: str, fixtures: Path | None = None):
    """`loomctl run` of a suite manifest on the tiny model in ``project/models/tiny-loom`` and the committed
    fixtures (or ``fixtures``), --limit 2 (the README's smoke run); the completed process."""
    return loomctl("run", str(manifest), "--model", str(project / "models" / "tiny-loom"), "--engine", "transformers",
                   "--fixtures", str(fixtures or ROOT / "tests" / "data" / "loombench"), "--limit", "2",
                   "--allow-accelerator-mismatch", "--out", str(out), *extra)
