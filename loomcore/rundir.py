"""The run-directory layout: every file name of a run directory, and the only code that reads or
writes its JSON files.

A run directory may come from anyone (``verify``, ``audit``, ``report``, ``diff`` read directories
others send), so reading never writes and never follows a link: a symlink, FIFO or device where a
file of it belongs is refused (exit 2). Writes go through a fresh temporary file in the same folder
(``mkstemp``: a planted file or link of that name is never written through) renamed over the target.
One writer at a time holds ``.lock`` (``loomctl.runtime.writer_lock``).

Layout::

    manifest.json          the effective manifest: everything that can move a score, resolved
    environment.json       where the harness ran: Python, platform, torch, GPUs, engine versions
    timing.json            wall time per phase and per task (provenance of the run, not of a result)
    scores.json            per-task and per-benchmark scores (``loomctl.scores/1``)
    judge_scores.json      the judge pass's scores (``loomctl.judge_scores/1``), apart from scores.json
    samples/<task>.jsonl   one record a line (``loomcore.records.Record``), append-only, resumable
    timings/<task>.jsonl   seconds per sample, beside the records
    judge/<task>.jsonl     per-sample judge rows
    logs/                  harness.log, judge.log, server.log
    .lock                  the writer's lock
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.hashing import canonical_json, strict_json_loads
from loomcore.specs import JudgeScores, Scores
from loomcore.taskspec import TaskSpec, tasks_from_json

MANIFEST = "manifest.json"
ENVIRONMENT = "environment.json"
TIMING = "timing.json"
SCORES = "scores.json"
JUDGE_SCORES = "judge_scores.json"
SAMPLES = "samples"
TIMINGS = "timings"
JUDGE = "judge"
LOGS = "logs"
LOCK = ".lock"
TOLERANCE = "tolerance.json"  # a golden folder's margins, beside its scores.json


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


class RunDir:
    """A run directory at ``path``: its files by name, read strictly (``read_json``) and written
    atomically (``write_json_atomic``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        """Whether the file ``name`` (one of this module's names) is there."""
        return (self.path / name).is_file()

    def read(self, name: str) -> Any:
        """The JSON file ``name`` (``MANIFEST``, ``SCORES``, ...), strictly; missing or malformed is exit 2."""
        return read_json(self.path / name)

    def read_optional(self, name: str, default: Any = None) -> Any:
        """As ``read``, or ``default`` when the file is absent (an older run has no environment.json)."""
        return self.read(name) if os.path.lexists(self.path / name) else default

    def scores(self) -> Scores:
        """scores.json as a typed ``loomcore.specs.Scores``, every field checked (exit 2 naming a bad one)."""
        return Scores.from_json(self.read(SCORES), str(self.path / SCORES))

    def tasks(self, effective: Any = None) -> list[TaskSpec]:
        """The effective manifest's tasks as typed ``loomcore.taskspec.TaskSpec`` (from ``effective``,
        its manifest.json already read, or read here), every field checked (exit 2 naming a bad one)."""
        effective = self.read(MANIFEST) if effective is None else effective
        if not isinstance(effective, dict):
            raise InputError(f"{self.path / MANIFEST}: not an object — the run directory is damaged")
        return tasks_from_json(effective.get("tasks"), f"{self.path / MANIFEST}/tasks")

    def judge_scores(self) -> JudgeScores:
        """judge_scores.json as a typed ``loomcore.specs.JudgeScores``, every field checked."""
        return JudgeScores.from_json(self.read(JUDGE_SCORES), str(self.path / JUDGE_SCORES))

    def write(self, name: str, data: Any) -> None:
        write_json_atomic(self.path / name, data)

    def log(self, name: str) -> Path:
        return self.path / LOGS / name

    def judge_rows(self, task: str) -> Path:
        return self.path / JUDGE / f"{task}.jsonl"
