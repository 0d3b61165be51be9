"""Acceleration methods: RAG retrieval, KV-cache compression and sparse prefill attention.

A task names at most one method in its ``acceleration`` setting; it is part of the effective
manifest (so of its digest) and every record carries ``{"kind", "method", "sha256"}``. RAG is a
transform of the samples before prompts are built (``harness.accel.rag``); KV-cache compression and
sparse attention are engine options, set through ``engine.set_acceleration`` — an engine without
that method refuses the task rather than run it at full cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.registry import resolve
from loomcore.errors import InputError
from loomcore.hashing import sha256_json
from loomcore.taskspec import Acceleration, JSONObject, Sample, TaskSpec
from loomcore.tokenizer import ModelTokenizer


@dataclass(frozen=True)
class AccelKind:
    """One kind of method, as ``"module:attr"`` entries (``harness.registry``): its setting check (light
    to import, so `loomctl validate` finds a bad method before any run), and either its sample
    transform (applied before prompts are built) or the engine-side method class the transformers
    engine applies."""

    check: str
    transform: str | None = None
    engine_method: str | None = None


KINDS = {
    "rag": AccelKind("harness.accel.rag:check_spec", transform="harness.accel.rag:transform"),
    "kv_cache": AccelKind("harness.accel.kv_cache:check_spec",
                          engine_method="harness.accel.kv_cache:KVCacheCompression"),
    "sparse_attention": AccelKind("harness.accel.sparse:check_spec",
                                  engine_method="harness.accel.sparse:SparsePrefill"),
}
ENGINE_OPTIONS = tuple(kind for kind, row in KINDS.items() if row.engine_method)


def spec_problems(spec: Acceleration | None, where: str) -> list[str]:
    """Every problem with a task's acceleration setting (method, params, library pins)."""
    spec = active(spec)
    if not spec or spec.kind not in KINDS:
        return []
    try:
        resolve(KINDS[spec.kind].check)(spec.to_json(), where)
    except InputError as exc:
        return list(exc.problems)
    return []


def active(spec: Acceleration | None) -> Acceleration | None:
    return spec if spec is not None and spec.is_active else None


def record_label(spec: Acceleration | None) -> dict[str, Any] | None:
    """What each record says about the method: its kind, name and the digest of its full setting."""
    spec = active(spec)
    return {"kind": spec.kind, "method": spec.method, "sha256": sha256_json(spec.to_json())} if spec else None


def transform_samples(spec: Acceleration | None, samples: list[Sample], tokenizer: ModelTokenizer,
                      task: TaskSpec) -> tuple[list[Sample], dict[str, JSONObject]]:
    """Samples as the prompt will see them, and per-sample notes for the record (``meta``). A method
    reads its own setting as JSON (``to_json``): its parameters are its to check."""
    spec = active(spec)
    if not spec or spec.kind not in KINDS or KINDS[spec.kind].transform is None:
        return samples, {}
    return resolve(KINDS[spec.kind].transform)(samples, spec.to_json(), tokenizer, task)


def configure_engine(engine, spec: Acceleration | None, where: str) -> None:
    """Give the engine this task's KV-cache or attention method (or none); refuse where unsupported."""
    spec = active(spec)
    setter = getattr(engine, "set_acceleration", None)
    if spec and spec.kind in ENGINE_OPTIONS:
        if setter is None:
            raise InputError(f"{where}/acceleration: the {engine.name} engine does not support {spec.kind} "
                             f"methods — run this task with the transformers engine or remove the method")
        setter(spec.to_json(), where)
    elif setter is not None:
        setter(None)
