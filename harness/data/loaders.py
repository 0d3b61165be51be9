"""Dataset loaders: hub datasets at a pinned commit, local JSONL/Parquet files, offline generators.

All three return the same thing: a list of plain-dict samples, each with a string ``id``, in a
stable order, after the manifest's field mapping and ``limit``. Their canonical content hash
(``loomcore.hashing.samples_sha256``) is what the manifest pins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.data import synthetic
from loomcore.errors import InputError
from loomcore.hashing import (
    canonical_json,
    samples_sha256,
    sha256_json,
    strict_json_loads,
)
from loomcore.taskspec import Dataset, Sample
from loomcore.tokenizer import ModelTokenizer

# Sample fields a prompt reads as text: a list there would reach the prompt as Python's list repr.
TEXT_FIELDS = ("context", "input", "question", "query", "instruction")


def _expand(rows: list[dict[str, Any]], mapping: dict[str, str]) -> list[tuple[int, str | None, dict[str, Any]]]:
    """Rows in an upstream layout of one document with parallel lists of questions and answers
    (LEval's ``instructions`` / ``outputs``) become one row per question, the k-th question with the
    k-th answer as it stands in the list (a string, as LOOMBench's one-question rows give it, so a template
    that reads the answer — LEval's "around N words" — renders alike), id suffix ``-kk`` (stable); other
    rows stay as they are. Entries are (the source row's
    position, the id suffix or None, the row)."""
    answers = mapping.get("answers")
    out: list[tuple[int, str | None, dict[str, Any]]] = []
    for position, row in enumerate(rows):
        lists = [theirs for ours, theirs in mapping.items()
                 if ours in TEXT_FIELDS and isinstance(row.get(theirs), list)]
        if len(lists) == 1 and answers and isinstance(row.get(answers), list) \
                and len(row[answers]) == len(row[lists[0]]) and all(isinstance(q, str) for q in row[lists[0]]):
            out += [(position, f"{k:02d}", {**row, lists[0]: question, answers: row[answers][k]})
                    for k, question in enumerate(row[lists[0]])]
        else:
            out.append((position, None, row))
    return out


def _finish(rows: list[dict[str, Any]], dataset: Dataset) -> list[Sample]:
    """Rename fields (``fields``: our name -> source name), give every sample an id, apply ``limit``.
    A row without the field mapped to ``id`` (an official generator's output has none) takes its
    position in the file as its id, as a row with no id mapping does."""
    mapping = dataset.fields or {}
    out = []
    rows = rows[: dataset.limit]
    for index, suffix, row in _expand(rows, mapping):
        sample = dict(row)
        for ours, theirs in mapping.items():
            if theirs not in row and ours == "id":
                continue
            if theirs not in row:
                raise InputError(f"dataset.fields.{ours}: the data has no field {theirs!r} (it has "
                                 f"{sorted(row)}) — give the rows in the benchmark's upstream format (with "
                                 "--fixtures), or fix dataset.fields in the manifest")
            if ours in TEXT_FIELDS and isinstance(row[theirs], (list, dict)):
                raise InputError(f"dataset.fields.{ours}: the data's {theirs!r} is a {type(row[theirs]).__name__}, "
                                 "not text — the prompt would show its Python form; give one question per row, or "
                                 "the upstream layout with as many answers as questions")
            sample[ours] = row[theirs]
        sample["id"] = str(sample.get("id", sample.get("_id", f"{index:06d}")))
        if suffix is not None:
            sample["id"] = f"{sample['id']}-{suffix}"
        out.append(sample)
    ids = [s["id"] for s in out]
    if len(set(ids)) != len(ids):
        raise InputError("dataset: sample ids are not unique — map a unique field to 'id' with dataset.fields")
    return out


def _read_local(path: Path, fmt: str | None) -> list[dict[str, Any]]:
    fmt = fmt or ("parquet" if path.suffix == ".parquet" else "jsonl")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    try:
        with path.open(encoding="utf-8") as handle:  # lines as text mode splits them, as always
            lines = list(handle)
    except UnicodeDecodeError as exc:
        raise InputError(f"dataset.path: {path}: not UTF-8 (byte {exc.start}) — save the file as UTF-8 JSON lines") \
            from None
    for line_no, line in enumerate(lines, 1):
        if line.strip():
            try:
                row = strict_json_loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"dataset.path: {path}:{line_no}: not JSON ({exc.msg}) — fix the file") from None
            except (ValueError, RecursionError) as exc:
                raise InputError(f"dataset.path: {path}:{line_no}: not plain JSON ({str(exc)[:80]}) — fix the file") \
                    from None
            if not isinstance(row, dict):
                raise InputError(f"dataset.path: {path}:{line_no}: a {type(row).__name__}, not an object — one JSON "
                                 "object per line")
            rows.append(row)
    return rows


def _read_hub(dataset: Dataset, cache_dir: Path | None) -> list[dict[str, Any]]:
    revision = dataset.revision
    if not revision:
        raise InputError(f"dataset.revision: {dataset.repo} has no pinned commit — run `loomctl pin --resolve` "
                         "where the hub is reachable, then commit the manifest")
    try:
        import datasets
    except ImportError:
        raise InputError("dataset.source: hub datasets need the `datasets` package — "
                         "pip install 'loomctl[hub]'") from None
    try:
        loaded = datasets.load_dataset(
            dataset.repo, dataset.config, split=dataset.split, revision=revision,
            data_files=dataset.data_files, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # datasets raises many types; all mean "not available here"
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        raise InputError(
            f"dataset: cannot load {dataset.repo}@{revision[:12]} ({type(exc).__name__}: {str(exc)[:200]}) — "
            + ("it is not in the local cache; fetch it where the hub is reachable and pass the cache with --data-dir"
               if offline else "check the repo, config, split and revision")) from None
    return loaded.to_list()


def _generated_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(os.environ.get("LOOMCTL_DATA_CACHE", base / "loomctl" / "generated"))


def _generated(dataset: Dataset, tokenizer, reuse: bool, root: Path) -> list[dict[str, Any]]:
    """Generated samples, kept in a cache keyed by generator, version, seed, params and the
    tokenizer's file hash (a file a generator reads is pinned by a hash in its params); a path in the
    params is relative to ``root``, the manifest's folder. ``reuse=False`` (``loomctl pin``) always
    regenerates, so a pin is never taken from a cache; a run reuses it, and the content hash check still
    guards what it reads."""
    key = sha256_json({k: getattr(dataset, k) for k in ("generator", "generator_version", "seed", "params")}
                      | {"tokenizer": tokenizer.sha256})
    path = _generated_cache() / f"{key}.jsonl"
    if reuse and path.is_file():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows = synthetic.generate(dataset.generator, dataset.generator_version, dataset.seed,
                              dataset.params or {}, tokenizer, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("".join(canonical_json(r) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache (as in the image) only costs the regeneration next time
    return rows


def load_samples(dataset: Dataset, root: Path, tokenizer: Callable[[], ModelTokenizer],
                 data_dir: Path | None = None, reuse_generated: bool = True,
                 where: str | None = None) -> list[Sample]:
    """Samples of one task's dataset; ``tokenizer`` is called only when a generator needs it. A
    problem is named under ``where`` (the task), and a local file's under its path too."""
    try:
        return _load(dataset, root, tokenizer, data_dir, reuse_generated)
    except InputError as exc:
        if where is None:
            raise
        raise InputError(*[f"{where}/{problem}" for problem in exc.problems]) from None


def _load(dataset: Dataset, root: Path, tokenizer: Callable[[], ModelTokenizer], data_dir: Path | None,
          reuse_generated: bool) -> list[Sample]:
    source = dataset.source
    if source == "generator":
        return _finish(_generated(dataset, tokenizer(), reuse_generated, root), dataset)
    if source == "local":
        folder = data_dir or root
        if dataset.path is None:
            raise InputError("dataset.path: missing — a local dataset names its file")
        path = folder / dataset.path
        # The effective manifest may come from a run directory someone sent: its path stays in the folder.
        if not path.resolve().is_relative_to(folder.resolve()):
            raise InputError(f"dataset.path: {dataset.path!r} leads out of {folder} — a local dataset's path is "
                             "relative to the manifest's folder (or --data-dir) and stays inside it")
        if not path.is_file():
            raise InputError(f"dataset.path: {path} not found — create it, or pass its folder with --data-dir")
        try:
            return _finish(_read_local(path, dataset.format), dataset)
        except InputError as exc:
            raise InputError(*[p if str(path) in p else f"{p} (file {path})" for p in exc.problems]) from None
    if source == "hub":
        return _finish(_read_hub(dataset, data_dir), dataset)
    raise InputError(f"dataset.source: unknown source {source!r} — use hub, local or generator")


def check_pin(samples: list[Sample], dataset: Dataset, where: str) -> str:
    """Stop before inference when the samples are not the pinned ones."""
    actual = samples_sha256(samples)
    expected = dataset.sha256
    if expected is None:
        raise InputError(f"{where}/dataset/sha256: open pin — run `loomctl pin MANIFEST` and commit the result")
    if actual != expected:
        raise InputError(f"{where}/dataset/sha256: the samples hash to {actual}, the manifest pins {expected} — "
                         "the data changed; if that is intended, re-pin with `loomctl pin`, otherwise restore the data")
    return actual


def select(samples: list[Sample], limit: int | None) -> list[Sample]:
    """``limit`` samples spread evenly over the task (so every length bucket stays represented)."""
    if not limit or limit >= len(samples):
        return samples
    return [samples[(i * len(samples)) // limit] for i in range(limit)]
