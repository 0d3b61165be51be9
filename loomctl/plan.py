"""The planner: a run's tasks split into N shards of nearly equal estimated cost (``loomcore.shards``).

Cost of a sample, in prefill-token units, from the pinned data (what the harness will load, selected by
``--limit``): ``t + t**2 / ATTENTION_TOKENS + DECODE_WEIGHT * g`` for ``t`` input tokens (its length as
the model's tokenizer counts it, a generator's ``context_tokens`` where it recorded them, at most the
task's prompt budget) and ``g`` the task's ``max_new_tokens``. The quadratic term is attention: at
``ATTENTION_TOKENS`` it equals the linear one. A task's samples are sorted and batched as the harness
batches them (longest first, the engine's ``batch_size``) and every shard that runs part of a task also
pays ``PREP_WEIGHT`` per input token of the whole task (it loads and tokenizes all of them, to find its
batches). These constants are estimates, not measurements of a given engine: they set the balance, never
a result (every batch runs exactly as in one process).

The split: a task whose cost exceeds ``1 / PARTS_PER_SHARD`` of a shard's mean share is cut into parts
(every P-th batch, so each part has long and short prompts alike), at most one part per batch; then all
parts go to shards by longest-processing-time-first, ties broken by task order, so the plan is a pure
function of the run's effective manifest (its digest), its data and N. ``balance`` is the slowest
shard's estimated cost over the mean; ``by_count`` splits the same tasks by sample count only
(OpenCompass's ``SizePartitioner``), for comparison.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import api as harness_api
from loomcore.errors import InputError
from loomcore.hashing import sha256_json
from loomcore.shards import SHARD_SCHEMA, Unit
from loomcore.taskspec import TaskSpec, limit_from_json, tasks_from_json

ATTENTION_TOKENS = 32_768
DECODE_WEIGHT = 8.0
PREP_WEIGHT = 0.02
PARTS_PER_SHARD = 8


@dataclass(frozen=True)
class TaskCost:
    """One task as the planner sees it: per-batch estimated costs (harness batch order) and token totals."""

    task: str
    batch_size: int
    batch_costs: tuple[float, ...]
    samples: int
    input_tokens: int
    new_tokens: int

    @property
    def cost(self) -> float:
        return sum(self.batch_costs)

    def part_cost(self, unit: Unit) -> float:
        batches = sum(c for b, c in enumerate(self.batch_costs) if unit.runs_batch(b))
        return batches + PREP_WEIGHT * self.input_tokens


def sample_cost(input_tokens: int, new_tokens: int) -> float:
    return input_tokens + input_tokens * input_tokens / ATTENTION_TOKENS + DECODE_WEIGHT * new_tokens


def _estimated_tokens(sample: dict[str, Any], tokenizer) -> int:
    recorded = sample.get("context_tokens")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    text = "\n".join(v for k, v in sorted(sample.items()) if isinstance(v, str) and k != "id")
    return tokenizer().count(text)


def task_cost(task: TaskSpec, samples: list[dict[str, Any]], batch_size: int, tokenizer) -> TaskCost:
    budget = harness_api.prompt_budget(task.truncation.budget_tokens, task.generation.max_new_tokens)
    lengths = sorted((min(budget, _estimated_tokens(s, tokenizer)) for s in samples), reverse=True)
    new = task.generation.max_new_tokens
    batches = tuple(sum(sample_cost(t, new) for t in lengths[i:i + batch_size])
                    for i in range(0, len(lengths), batch_size))
    return TaskCost(task.id, batch_size, batches, len(lengths), sum(lengths), new * len(lengths))


def task_costs(effective: dict[str, Any], root: Path, model_dir: Path, data_dir: Path | None) -> list[TaskCost]:
    """Every task's cost, from the samples the harness would run (loaded as it loads them)."""
    from loomcore.tokenizer import ModelTokenizer

    held: list[ModelTokenizer] = []

    def tokenizer() -> ModelTokenizer:
        if not held:
            held.append(ModelTokenizer(model_dir))
        return held[0]

    limit = limit_from_json(effective.get("limit"))
    batch_size = int(effective["engine"].get("args", {}).get("batch_size", 1))
    costs = []
    for task in tasks_from_json(effective["tasks"]):
        samples = harness_api.load_samples(task.dataset, root, tokenizer, data_dir, where=task.id)
        samples = harness_api.prepared_samples(harness_api.select(samples, limit), task.benchmark, task.id)
        costs.append(task_cost(task, samples, batch_size, tokenizer))
    return costs


@dataclass(frozen=True)
class Plan:
    """Shards of units, their estimated costs, and the tasks' sample counts."""

    count: int
    shards: tuple[tuple[Unit, ...], ...]
    costs: tuple[float, ...]
    tasks: tuple[TaskCost, ...]
    parent_digest: str

    @property
    def balance(self) -> float:
        mean = sum(self.costs) / self.count
        return max(self.costs) / mean if mean else 1.0

    def to_json(self) -> dict[str, Any]:
        return {"schema": SHARD_SCHEMA, "count": self.count, "parent_digest": self.parent_digest,
                "samples": {t.task: t.samples for t in self.tasks},
                "shards": [[u.to_json() for u in units] for units in self.shards]}

    @property
    def sha256(self) -> str:
        return sha256_json(self.to_json())


def _parts(task: TaskCost, target: float) -> int:
    """How many parts a task is cut into: none above ``target`` where batches allow."""
    if task.cost <= target or len(task.batch_costs) < 2:
        return 1
    return min(len(task.batch_costs), -(-int(task.cost) // max(int(target), 1)))


def _assign(units: list[tuple[float, int, Unit]], count: int) -> tuple[list[list[Unit]], list[float]]:
    """Longest processing time first: each unit (cost, order, unit) to the least loaded shard."""
    heap = [(0.0, index) for index in range(count)]
    shards: list[list[Unit]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for cost, _, unit in sorted(units, key=lambda item: (-item[0], item[1])):
        load, index = heapq.heappop(heap)
        shards[index].append(unit)
        loads[index] = load + cost
        heapq.heappush(heap, (loads[index], index))
    return shards, loads


def plan(costs: list[TaskCost], count: int, parent_digest: str) -> Plan:
    """``count`` shards over the tasks of ``costs`` (see the module docstring). A shard may be empty when
    there are fewer batches than shards."""
    if count < 1:
        raise InputError(f"--shards: {count} — a run is cut into 1 or more shards")
    total = sum(t.cost for t in costs)
    target = total / count / PARTS_PER_SHARD
    units = []
    for order, task in enumerate(costs):
        parts = _parts(task, target)
        for part in range(parts):
            unit = Unit(task.task, part, parts)
            units.append((task.part_cost(unit), order, unit))
    shards, loads = _assign(units, count)
    order = {t.task: i for i, t in enumerate(costs)}
    shards = [sorted(s, key=lambda u: (order[u.task], u.part)) for s in shards]
    return Plan(count, tuple(tuple(s) for s in shards), tuple(loads), tuple(costs), parent_digest)


def by_count(costs: list[TaskCost], count: int) -> float:
    """The balance of splitting the same samples into ``count`` shards of equal sample counts, in task
    order (a task cut at shard boundaries), each sample costed as the planner costs it."""
    flat: list[float] = []
    for task in costs:
        for index, cost in enumerate(task.batch_costs):
            size = min(task.batch_size, task.samples - index * task.batch_size)
            flat += [cost / size] * size
    size = -(-len(flat) // count)
    loads = [sum(flat[k * size:(k + 1) * size]) for k in range(count)]
    mean = sum(loads) / count
    return max(loads) / mean if mean else 1.0


def table(result: Plan) -> str:
    """The plan as a table: per shard its tasks, samples, estimated tokens and share of the total."""
    by_task = {t.task: t for t in result.tasks}
    total = sum(result.costs) or 1.0
    header = f"{'shard':>5}  {'samples':>7}  {'input tokens':>12}  {'share':>6}  tasks"
    lines = [header, "-" * len(header)]
    for index, (units, cost) in enumerate(zip(result.shards, result.costs)):
        samples = sum(u.sample_count(by_task[u.task].samples, by_task[u.task].batch_size) for u in units)
        tokens = sum(by_task[u.task].input_tokens * u.sample_count(by_task[u.task].samples, by_task[u.task].batch_size)
                     // max(by_task[u.task].samples, 1) for u in units)
        names = ", ".join(u.task if u.parts == 1 else f"{u.task}[{u.part + 1}/{u.parts}]" for u in units)
        lines.append(f"{index:>5}  {samples:>7}  {tokens:>12,}  {cost / total:>6.1%}  {names or '(empty)'}")
    lines.append(f"balance (slowest shard / mean): {result.balance:.3f}")
    return "\n".join(lines)
