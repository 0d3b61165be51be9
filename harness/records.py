"""Per-sample records: append-only JSONL, fsync'd per batch, resumable; and the scores schema.

A record is the deterministic outcome of one sample (two runs of one effective manifest on CPU give
byte-identical records); wall-clock timings are provenance of a run, not of a result, so they go to
``timings/<task>.jsonl`` beside it. A run killed at any point loses at most the batch in flight: on
restart, a torn last line is dropped and finished samples are skipped, never written twice. A run
directory may come from someone else: reading it never writes, and no file of it is read or written
through a symlink.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.hashing import canonical_json, strict_json_loads

RECORD_SCHEMA = "loomctl.record/1"
SCORES_SCHEMA = "loomctl.scores/1"


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


def refuse_link(path: Path) -> None:
    """A run directory may come from anyone: a symlink, FIFO or device where a file of it belongs is
    refused (exit 2), so nothing reads or writes outside the folder through it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(f"{path}: a symlink or special file inside a run directory — a run directory holds "
                         "only regular files and folders; refusing to follow it (copy the real files in)")


def _append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())


def read_regular(path: Path) -> bytes:
    """A run directory's file, opened without following a link; a symlink or special file is refused."""
    refuse_link(path.parent)
    refuse_link(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def read_json(path: Path) -> Any:
    """A run directory's JSON file (``read_regular``), strictly: NaN and Infinity literals are refused,
    and so is anything that is not UTF-8 JSON (exit 2 naming the file)."""
    try:
        return strict_json_loads(read_regular(path).decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing — pass a run directory written by `loomctl run`") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({str(exc)[:120]}) — pass a run directory written by "
                         "`loomctl run`, or a golden folder") from None


class RecordFile:
    """``samples/<task>.jsonl`` of a run directory."""

    def __init__(self, run_dir: Path, task: str):
        self.path = run_dir / "samples" / f"{task}.jsonl"
        self.timings = run_dir / "timings" / f"{task}.jsonl"

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


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a fresh temporary file beside ``path`` (created exclusively, so a planted file or link
    of that name is never written through), then rename it over ``path``: a reader sees the old file
    or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def write_jsonl_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    """A whole JSONL file at once (canonical JSON, one row a line), replacing any earlier one."""
    write_text_atomic(path, "".join(canonical_json(row) + "\n" for row in rows))


def read_records(run_dir: Path) -> dict[str, list[Record]]:
    """Every task's finished records (reading only: see ``RecordFile.load``)."""
    refuse_link(run_dir / "samples")
    return {path.stem: RecordFile(run_dir, path.stem).load()
            for path in sorted((run_dir / "samples").glob("*.jsonl"))}
