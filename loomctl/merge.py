"""``loomctl merge DIR``: the shards of a sharded run (``loomctl.shardrun``) checked and merged into
the run directory one process would have written.

Checked first, each refusal naming the shard: every shard ``0..N-1`` of DIR/plan.json is there and no
other; each one's effective manifest is the parent's (same digest, pins, limit, runtime) with the plan's
``shard`` block for its own index; it finished (scores.json, and the plan's number of records for each
of its tasks); no record is in two shards; and the environment that can move a score (Python, harness,
torch, transformers, tokenizers, numpy, CUDA, engine versions) is the same in every shard.

Written: ``samples/<task>.jsonl`` with each shard's record lines, byte for byte, in the order one
process writes them (``loomcore.shards.canonical_order``), ``timings/`` beside them, ``scores.json``
re-scored from those records, ``environment.json`` (shard 0's, the others' differences in
``shards.json``), ``timing.json`` and ``shards.json`` (each shard: where and how long it ran).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness import api as harness_api
from loomcore.errors import InputError
from loomcore.hashing import sha256_json, strict_json_loads
from loomcore.records import Record
from loomcore.rundir import (
    ENVIRONMENT,
    MANIFEST,
    SAMPLES,
    SCORES,
    TIMING,
    TIMINGS,
    RunDir,
    read_regular,
    refuse_link,
    write_text_atomic,
)
from loomcore.shards import PLAN, SHARD_RUNS, SHARDS, ShardSpec, canonical_order
from loomctl.shardrun import read_plan, shard_block, shard_dir, shard_manifest

# What must be equal in every shard's environment.json for their records to be one run's.
MATTERS = ("python", "harness", "torch", "transformers", "tokenizers", "numpy", "cuda", "engine")


def _lines(path: Path) -> list[bytes]:
    """A record file's complete lines (a torn last line is not a finished record)."""
    if not os.path.lexists(path):
        return []
    raw = read_regular(path)
    return [line for line in raw[: raw.rfind(b"\n") + 1].split(b"\n") if line]


def _records(path: Path) -> list[tuple[Record, bytes]]:
    out = []
    for number, line in enumerate(_lines(path), 1):
        try:
            out.append((Record.from_dict(strict_json_loads(line.decode("utf-8"))), line))
        except (ValueError, TypeError, RecursionError, InputError) as exc:
            raise InputError(f"{path}: line {number} is not a record ({str(exc)[:120]}) — re-run that shard "
                             "(delete its folder) and merge again") from None
    return out


def _shard_folders(out: Path, count: int) -> list[Path]:
    """DIR/shards/0..N-1, exactly: a missing one or any other entry is refused."""
    folder = out / SHARDS
    refuse_link(folder)
    found = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    extra = [name for name in found if name not in {str(k) for k in range(count)}]
    if extra:
        raise InputError(*[f"{folder / name}: not a shard of this plan (it has shards 0..{count - 1}) — a foreign "
                           "or stale folder; move it out of the run directory" for name in extra])
    missing = [k for k in range(count) if str(k) not in found]
    if missing:
        raise InputError(*[f"{shard_dir(out, k)}: missing — run it (`loomctl run MANIFEST --shard {k}/{count} "
                           f"--out {out}`) or re-run the whole command" for k in missing])
    return [shard_dir(out, k) for k in range(count)]


def _check_shard(out: Path, plan: dict[str, Any], index: int) -> tuple[ShardSpec, dict[str, Any]]:
    folder = shard_dir(out, index)
    refuse_link(folder)
    effective = RunDir(folder).read(MANIFEST)
    spec = ShardSpec.from_json(effective.get("shard") if isinstance(effective, dict) else None,
                               f"{folder / MANIFEST}/shard")
    if spec.parent_digest != plan["plan"]["parent_digest"] or spec.plan_sha256 != plan["plan_sha256"]:
        raise InputError(f"{folder}: a foreign shard (made from run {spec.parent_digest[:12]}, plan "
                         f"{spec.plan_sha256[:12]}; this run is {plan['plan']['parent_digest'][:12]}, plan "
                         f"{plan['plan_sha256'][:12]}) — remove it and run shard {index} of this run")
    if spec.index != index:
        raise InputError(f"{folder}: holds shard {spec.index}, not {index} — a duplicated or moved shard; remove "
                         f"it and run shard {index}")
    expected = shard_manifest(RunDir(out).read(MANIFEST), shard_block(plan, index))
    if sha256_json(effective) != sha256_json(expected):
        raise InputError(f"{folder / MANIFEST}: differs from the parent manifest with shard {index}'s block — the "
                         "shard ran other settings; remove it and run it again")
    if not RunDir(folder).has(SCORES):
        raise InputError(f"{folder}: not finished (no scores.json) — run it again "
                         f"(`loomctl run MANIFEST --shard {index}/{spec.count} --out {out}`), then merge")
    environment = RunDir(folder).read_optional(ENVIRONMENT, {})
    return spec, environment if isinstance(environment, dict) else {}


def _environments(folders: list[Path], environments: list[dict[str, Any]]) -> None:
    if not environments:
        return
    first = environments[0]
    for folder, env in zip(folders[1:], environments[1:]):
        differ = [k for k in MATTERS if env.get(k) != first.get(k)]
        if differ:
            raise InputError(*[f"{folder / ENVIRONMENT}: {k} is {env.get(k)!r}, shard 0 ran with {first.get(k)!r} — "
                               "the shards of one run need one environment (same image or lock); re-run this "
                               "shard there" for k in differ])


def _shard_records(folder: Path, task: str, expected: int) -> list[tuple[Record, bytes]]:
    own = _records(folder / SAMPLES / f"{task}.jsonl")
    if len(own) != expected:
        raise InputError(f"{folder}: {len(own)} records of {task}, the plan gives it {expected} — the shard is "
                         "unfinished; run it again")
    return own


def _merged_task(out: Path, task: str, specs: list[ShardSpec], batch_size: int, total: int) -> None:
    rows: list[tuple[Record, bytes]] = []
    timings: dict[str, bytes] = {}
    owner: dict[str, int] = {}
    for spec in specs:
        if task not in spec.samples:
            continue
        folder = shard_dir(out, spec.index)
        own = _shard_records(folder, task, spec.expected_samples(task, batch_size))
        for record, _ in own:
            if record.id in owner:
                raise InputError(f"{folder}: record {task}/{record.id} is also in shard {owner[record.id]} — the "
                                 "shards overlap; remove both and run them again")
            owner[record.id] = spec.index
        rows += own
        for line in _lines(folder / TIMINGS / f"{task}.jsonl"):
            timings[strict_json_loads(line.decode("utf-8")).get("id")] = line
    if len(rows) != total:
        raise InputError(f"{out / PLAN}: {task} has {total} samples, the shards hold {len(rows)} — a shard is "
                         "missing records; run it again")
    rows.sort(key=lambda row: canonical_order(row[0]))
    write_text_atomic(out / SAMPLES / f"{task}.jsonl", "".join(line.decode("utf-8") + "\n" for _, line in rows))
    write_text_atomic(out / TIMINGS / f"{task}.jsonl",
                      "".join(timings[r.id].decode("utf-8") + "\n" for r, _ in rows if r.id in timings))


def _provenance(out: Path, plan: dict[str, Any], folders: list[Path], specs: list[ShardSpec],
                environments: list[dict[str, Any]], ran: list[int]) -> None:
    """environment.json (the first shard that ran), timing.json and shards.json of the merged run."""
    run = RunDir(out)
    run.write(ENVIRONMENT, environments[ran[0]] if ran else {})
    timings = [RunDir(f).read_optional(TIMING, {}) for f in folders]
    run.write(TIMING, {"wall_seconds": max((t.get("wall_seconds") or 0 for t in timings), default=0),
                       "generate_seconds": round(sum(t.get("generate_seconds") or 0 for t in timings), 3),
                       "shards": len(folders)})
    run.write(SHARD_RUNS, {"plan_sha256": plan["plan_sha256"], "count": plan["plan"]["count"], "shards": [
        {"index": spec.index, "folder": f"{SHARDS}/{spec.index}", "units": [u.to_json() for u in spec.units],
         "environment": env, "timing": timing} for spec, env, timing in zip(specs, environments, timings)]})


def merge(out: Path) -> Any:
    """Check the shards of ``out`` and write the merged run (see the module docstring); its Scores."""
    plan = read_plan(out)
    folders = _shard_folders(out, plan["plan"]["count"])
    checked = [_check_shard(out, plan, k) for k in range(len(folders))]
    specs, environments = [spec for spec, _ in checked], [env for _, env in checked]
    ran = [k for k, spec in enumerate(specs) if spec.units]
    _environments([folders[k] for k in ran], [environments[k] for k in ran])
    parent = RunDir(out).read(MANIFEST)
    batch_size = int(parent["engine"].get("args", {}).get("batch_size", 1))
    for task, total in plan["plan"]["samples"].items():
        _merged_task(out, task, specs, batch_size, total)
    _provenance(out, plan, folders, specs, environments, ran)
    return harness_api.score_run(out)


def refuse_unsharded(out: Path) -> None:
    if not RunDir(out).has(PLAN):
        raise InputError(f"{out}: not a sharded run (no {PLAN}) — pass the --out of `loomctl run --shard K/N` or "
                         "`loomctl run --shards N`")

