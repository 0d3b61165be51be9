"""Per-sample records: append-only JSONL, fsync'd per batch, resumable; and the scores schema.

A record is the deterministic outcome of one sample (two runs of one effective manifest on CPU give
byte-identical records); wall-clock timings are provenance of a run, not of a result, so they go to
``timings/<task>.jsonl`` beside it. A run killed at any point loses at most the batch in flight: on
restart, a torn last line is dropped and finished samples are skipped, never written twice. A run
directory may come from someone else: reading it never writes, and no file of it is read or written
through a symlink.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.hashing import canonical_json
from loomcore.rundir import SAMPLES, TIMINGS, read_regular, refuse_link

RECORD_SCHEMA = "loomctl.record/1"


@dataclass(frozen=True)
class Record:
    """One evaluated sample. ``scores`` maps metric name to a score in [0, 1]; a skipped or failed
    sample has no scores and says why in ``skipped`` / ``error``. ``meta`` keeps the sample fields
    its benchmark declares (scorer context and sub-split labels, e.g. LongBench-v2's difficulty) and
    what an acceleration method did to it (RAG's retrieved chunk ids); ``acceleration`` names the
    method with its digest."""

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

    def to_line(self) -> str:
        data = asdict(self)
        # Written only when used, so records of plain runs keep the bytes they always had.
        for optional in ("meta", "acceleration"):
            if not data[optional]:
                del data[optional]
        return canonical_json(data) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return cls(**data)


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
        try:
            return [Record.from_dict(json.loads(line)) for line in raw.decode("utf-8").splitlines() if line]
        except (ValueError, TypeError) as exc:
            raise InputError(f"{self.path}: not a records file ({type(exc).__name__}: {str(exc)[:120]}) — pass a run "
                             "directory written by `loomctl run`") from None

    def append(self, records: list[Record], seconds_per_sample: float) -> None:
        _append(self.path, [r.to_line() for r in records])
        _append(self.timings, [canonical_json({"id": r.id, "seconds": round(seconds_per_sample, 6)}) + "\n"
                               for r in records])


def read_records(run_dir: Path) -> dict[str, list[Record]]:
    """Every task's finished records (reading only: see ``RecordFile.load``)."""
    refuse_link(run_dir / SAMPLES)
    return {path.stem: RecordFile(run_dir, path.stem).load()
            for path in sorted((run_dir / SAMPLES).glob("*.jsonl"))}
