"""Per-sample records: append-only JSONL, fsync'd per batch, resumable; and the scores schema.

A record is the deterministic outcome of one sample (two runs of one effective manifest on CPU give
byte-identical records); wall-clock timings are provenance of a run, not of a result, so they go to
``timings/<task>.jsonl`` beside it. A run killed at any point loses at most the batch in flight: on
restart, a torn last line is dropped and finished samples are skipped, never written twice. A run
directory may come from someone else: reading it never writes, and no file of it is read or written
through a symlink.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.hashing import canonical_json, strict_json_loads
from loomcore.rundir import SAMPLES, TIMINGS, read_regular, refuse_link

RECORD_SCHEMA = "loomctl.record/1"


@dataclass(frozen=True)
class Record:
    """One evaluated sample. ``scores`` maps metric name to a score in [0, 1]; a skipped or failed
    sample has no scores and says why in ``skipped`` / ``error``. ``meta`` keeps the sample fields
    its benchmark declares (scorer context and sub-split labels, e.g. LongBench-v2's difficulty) and
    what an acceleration method did to it (RAG's retrieved chunk ids); ``acceleration`` names the
    method with its digest. ``special_tokens`` lists the tokens the tokenizer added to the prompt's
    text (``["<bos>"]``; the manifest's ``prompt.special_tokens``), counted in ``input_tokens``;
    ``prompt_sha256`` is of the text alone."""

    id: str
    task: str
    benchmark: str
    length: int | None
    depth: float | None
    prompt_sha256: str | None
    prompt_head: str | None
    prompt_tail: str | None
    input_tokens_before: int
    input_tokens: int
    truncated: bool
    skipped: bool
    prediction: str | None
    references: list[str]
    output_tokens: int
    finish_reason: str | None
    scores: dict[str, float]
    error: str | None = None
    schema: str = field(default=RECORD_SCHEMA)
    meta: dict[str, Any] = field(default_factory=dict)
    acceleration: dict[str, Any] | None = None
    special_tokens: list[str] | None = None

    def to_line(self) -> str:
        data = asdict(self)
        # Written only when used, so records of plain runs keep the bytes they always had.
        for optional in ("meta", "acceleration", "special_tokens"):
            if not data[optional]:
                del data[optional]
        return canonical_json(data) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Record:
        """A record read back, every field of its type (a received run directory is hostile input:
        what passes here is what scoring, the gate and the report compute with); else exit 2 naming
        the field."""
        if not isinstance(data, dict):
            raise InputError(f"record: {str(data)[:60]!r} is not an object")
        unknown = sorted(set(data) - _FIELDS.keys())
        missing = sorted(k for k in _REQUIRED if k not in data)
        if unknown or missing:
            raise InputError(f"record {str(data.get('id'))[:40]!r}: unknown field(s) {unknown}, missing {missing}")
        for name, value in data.items():
            check, wanted = _FIELDS[name]
            if not check(value):
                raise InputError(f"record {str(data.get('id'))[:40]!r}: {name} is {str(value)[:60]!r}, not {wanted}")
        return cls(**data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _optional(check):
    return lambda value: value is None or check(value)


def _is_score(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Each field's check, and what it is (for the message).
_FIELDS: dict[str, tuple[Any, str]] = {
    "id": (_is_str, "a string"), "task": (_is_str, "a string"), "benchmark": (_is_str, "a string"),
    "length": (_optional(_is_int), "an integer or null"), "depth": (_optional(_is_number), "a finite number or null"),
    "prompt_sha256": (_optional(_is_str), "a string or null"), "prompt_head": (_optional(_is_str), "a string or null"),
    "prompt_tail": (_optional(_is_str), "a string or null"), "input_tokens_before": (_is_count, "a count"),
    "input_tokens": (_is_count, "a count"), "truncated": (_is_bool, "true or false"),
    "skipped": (_is_bool, "true or false"), "prediction": (_optional(_is_str), "a string or null"),
    "references": (lambda v: isinstance(v, list) and all(map(_is_str, v)), "a list of strings"),
    "output_tokens": (_is_count, "a count"), "finish_reason": (_optional(_is_str), "a string or null"),
    "scores": (lambda v: isinstance(v, dict) and all(_is_str(k) and _is_score(x) for k, x in v.items()),
               "an object of scores from 0 to 1"),
    "error": (_optional(_is_str), "a string or null"), "schema": (lambda v: v == RECORD_SCHEMA, repr(RECORD_SCHEMA)),
    "meta": (lambda v: isinstance(v, dict), "an object"), "acceleration": (_optional(lambda v: isinstance(v, dict)),
                                                                          "an object or null"),
    "special_tokens": (_optional(lambda v: isinstance(v, list) and all(map(_is_str, v))), "a list of strings or null"),
}
# The fields every record has: those of Record without a default.
_REQUIRED = tuple(f.name for f in fields(Record) if f.default is MISSING and f.default_factory is MISSING)


def _append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())


class RecordFile:
    """``samples/<task>.jsonl`` of a run directory."""

    def __init__(self, run_dir: Path, task: str):
        self.path = run_dir / SAMPLES / f"{task}.jsonl"
        self.timings = run_dir / TIMINGS / f"{task}.jsonl"

    def load(self, repair: bool = False) -> list[Record]:
        """Finished records. A torn last line (a kill mid-write) is left out; only the run's own writer,
        resuming (``repair=True``), cuts it off the file — reading never writes."""
        if not os.path.lexists(self.path):
            return []
        raw = read_regular(self.path)
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            if repair:
                fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW)
                try:
                    os.truncate(fd, keep)
                finally:
                    os.close(fd)
            raw = raw[:keep]
        records = []
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line:
                continue
            try:
                records.append(Record.from_dict(strict_json_loads(line.decode("utf-8"))))
            except (ValueError, TypeError, RecursionError, InputError) as exc:
                detail = "; ".join(exc.problems) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
                raise InputError(f"{self.path}: line {number} is not a record ({detail[:160]}) — pass a run "
                                 "directory written by `loomctl run`, or ask its author for the original") from None
        return records

    def append(self, records: list[Record], seconds_per_sample: float) -> None:
        _append(self.path, [r.to_line() for r in records])
        _append(self.timings, [canonical_json({"id": r.id, "seconds": round(seconds_per_sample, 6)}) + "\n"
                               for r in records])


def read_records(run_dir: Path) -> dict[str, list[Record]]:
    """Every task's finished records (reading only: see ``RecordFile.load``)."""
    refuse_link(run_dir / SAMPLES)
    return {path.stem: RecordFile(run_dir, path.stem).load()
            for path in sorted((run_dir / SAMPLES).glob("*.jsonl"))}
