"""Shards: one run split over processes, nodes or GPUs, each shard an ordinary run of part of the suite.

A shard's work is a list of *units*: whole tasks, or part ``p`` of ``P`` of a large task. A task's
batches are fixed by the whole task (``harness.run.Pipeline.run_task``: every sample, longest prompt
first, cut into batches of the engine's ``batch_size``), and part ``p`` of ``P`` runs the batches whose
index is ``p`` modulo ``P``. So every batch is the batch a single-process run would have run — the same
samples, padded together — and the merged records are that run's, byte for byte; and taking every P-th
batch of a length-sorted list gives each part nearly the same share of long and short prompts, whatever
the task's lengths.

The plan (``loomctl.plan``) is written into each shard's effective manifest under ``shard``::

    {"index": K, "count": N, "parent_digest": <sha256 of the parent's effective manifest>,
     "plan_sha256": <sha256 of the whole plan>, "units": [{"task": ..., "part": p, "parts": P}, ...],
     "samples": {task: n, ...}}

``samples`` is the number of samples the planner loaded for each of the shard's tasks: the harness
refuses to run a shard whose data gives another number (its batches would not be the plan's), and
``loomctl merge`` checks each task's records against it. This module is the one definition of which
batches and how many samples a unit has, shared by the harness (what to run) and the host (what to
expect when merging).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loomcore.errors import InputError

SHARD_SCHEMA = "loomctl.shard/1"
SHARDS = "shards"  # DIR/shards/<K>/: shard K's run directory
PLAN = "plan.json"  # DIR/plan.json: the plan the shards were cut by
SHARD_RUNS = "shards.json"  # DIR/shards.json: the merge's provenance (each shard, where and when it ran)


@dataclass(frozen=True)
class Unit:
    """Part ``part`` of ``parts`` of task ``task`` (``parts == 1``: the whole task)."""

    task: str
    part: int
    parts: int

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "part": self.part, "parts": self.parts}

    def runs_batch(self, batch_index: int) -> bool:
        return batch_index % self.parts == self.part

    def sample_count(self, samples: int, batch_size: int) -> int:
        """How many of a task's ``samples`` this unit's batches hold."""
        batches = -(-samples // batch_size)
        return sum(min(batch_size, samples - b * batch_size) for b in range(batches) if self.runs_batch(b))


def _bad(where: str, value: Any, what: str) -> InputError:
    return InputError(f"{where}: {str(value)[:60]!r} is not {what} — the shard's manifest is damaged or was "
                      "edited; plan the run again with the same command")


def _int(value: Any, where: str, low: int = 0) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise _bad(where, value, f"an integer >= {low}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(where, value, "a string")
    return value


def unit_from_json(data: Any, where: str) -> Unit:
    if not isinstance(data, dict) or set(data) != {"task", "part", "parts"}:
        raise _bad(where, data, "a unit (task, part, parts)")
    parts = _int(data["parts"], f"{where}/parts", 1)
    part = _int(data["part"], f"{where}/part")
    if part >= parts:
        raise _bad(f"{where}/part", part, f"a part below parts ({parts})")
    return Unit(_str(data["task"], f"{where}/task"), part, parts)


@dataclass(frozen=True)
class ShardSpec:
    """The ``shard`` block of a shard's effective manifest (see the module docstring)."""

    index: int
    count: int
    parent_digest: str
    plan_sha256: str
    units: tuple[Unit, ...]
    samples: dict[str, int]

    @classmethod
    def from_json(cls, data: Any, where: str = "manifest.json/shard") -> ShardSpec:
        keys = {"schema", "index", "count", "parent_digest", "plan_sha256", "units", "samples"}
        if not isinstance(data, dict) or set(data) != keys:
            raise _bad(where, data, f"a shard block (keys {', '.join(sorted(keys))})")
        if data["schema"] != SHARD_SCHEMA:
            raise _bad(f"{where}/schema", data["schema"], repr(SHARD_SCHEMA))
        count = _int(data["count"], f"{where}/count", 1)
        index = _int(data["index"], f"{where}/index")
        if index >= count:
            raise _bad(f"{where}/index", index, f"a shard index below count ({count})")
        if not isinstance(data["units"], list):
            raise _bad(f"{where}/units", data["units"], "a list of units")
        units = tuple(unit_from_json(u, f"{where}/units/{i}") for i, u in enumerate(data["units"]))
        samples = data["samples"]
        if not isinstance(samples, dict):
            raise _bad(f"{where}/samples", samples, "an object of sample counts")
        counts = {task: _int(n, f"{where}/samples/{task}") for task, n in samples.items()}
        missing = sorted({u.task for u in units} - set(counts))
        if missing:
            raise _bad(f"{where}/samples", missing, "complete (a unit's task has no sample count)")
        return cls(index, count, _str(data["parent_digest"], f"{where}/parent_digest"),
                   _str(data["plan_sha256"], f"{where}/plan_sha256"), units, counts)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SHARD_SCHEMA, "index": self.index, "count": self.count, "parent_digest": self.parent_digest,
                "plan_sha256": self.plan_sha256, "units": [u.to_json() for u in self.units],
                "samples": dict(self.samples)}

    def units_of(self, task: str) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.task == task)

    def runs_batch(self, task: str, batch_index: int) -> bool:
        return any(u.runs_batch(batch_index) for u in self.units_of(task))

    def expected_samples(self, task: str, batch_size: int) -> int:
        return sum(u.sample_count(self.samples[task], batch_size) for u in self.units_of(task))


def canonical_order(record) -> tuple[int, str]:
    """The order a single-process run writes a task's records in (its batch order: longest prompt first,
    then id), which a merge restores."""
    return (-record.input_tokens, record.id)
