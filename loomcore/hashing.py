"""Content hashing shared by host and harness: canonical JSON, sample sets, streamed file digests.

One definition of each digest, so a pin computed by ``loomctl pin`` on the host and the check the
harness runs before inference can never disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from loomcore.errors import InputError

_CHUNK = 1 << 20


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept as is: the one serialisation every hash is taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any) -> str:
    return sha256_text(canonical_json(obj))


def samples_sha256(samples: Iterable[dict[str, Any]]) -> str:
    """sha256 of the samples' canonical JSON lines, each ending in a newline, in dataset order."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(canonical_json(sample).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Stream a file through sha256 in 1 MiB reads into one reused buffer (no per-chunk copies)."""
    with open(path, "rb", buffering=0) as handle:
        return _stream_sha256(handle)


def _stream_sha256(handle) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while n := handle.readinto(buffer):
        digest.update(view[:n])
    return digest.hexdigest()


def file_identity(stat: os.stat_result) -> dict[str, int]:
    """What says a file is still the one it was: device, inode, size, mtime and ctime (ns). The kernel
    sets ctime on every write, rename and link change, and no call sets it back."""
    return {"dev": stat.st_dev, "ino": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "ctime_ns": stat.st_ctime_ns}


def combined_sha256(file_digests: dict[str, str]) -> str:
    """One digest over many files: sha256 of 'name  digest' lines sorted by name (sha256sum style)."""
    return sha256_text("".join(f"{digest}  {name}\n" for name, digest in sorted(file_digests.items())))


class HashCache:
    """sha256 of files keyed by absolute path, device, inode, size, mtime and ctime (ns), kept in one
    JSON file. mtime alone can be set back by anyone who rewrites a file (``touch -d``, ``os.utime``);
    the inode change time cannot — the kernel sets it on every write — so a file rewritten in place
    and given back its size and mtime is hashed again. The trade-off: a chmod, chown or link also
    changes ctime and costs one re-hash. ``LOOMCTL_HASH_CACHE=off`` hashes every byte every time
    (audits)."""

    def __init__(self, path: Path | None = None, enabled: bool | None = None):
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        configured = os.environ.get("LOOMCTL_HASH_CACHE")
        self.enabled = enabled if enabled is not None else (path is not None or configured != "off")
        self.path = path or Path(configured if configured and configured != "off"
                                 else base / "loomctl" / "file-hashes.json")
        try:
            self._entries: dict[str, Any] = json.loads(self.path.read_text()) if self.enabled else {}
        except (OSError, ValueError):
            self._entries = {}
        self._dirty = False
        # The identity of every file hashed through this cache, taken from the handle its bytes were
        # read from (see ``hash_model`` and ``changed_since``).
        self.identities: dict[str, dict[str, int]] = {}

    def sha256(self, path: Path) -> str:
        """The file's sha256: from the cache when the open file's identity equals the cached one, else
        read from that same open handle (so the identity recorded is that of the bytes hashed)."""
        key = str(path.resolve())
        with open(path, "rb", buffering=0) as handle:
            identity = file_identity(os.fstat(handle.fileno()))
            self.identities[key] = identity
            entry = self._entries.get(key)
            if self.enabled and entry and all(entry.get(k) == v for k, v in identity.items()):
                return entry["sha256"]
            digest = _stream_sha256(handle)
        if self.enabled:
            self._entries[key] = {**identity, "sha256": digest}
            self._dirty = True
        return digest

    def save(self) -> None:
        if not self._dirty or not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(self._entries, handle)
        os.replace(handle.name, self.path)
        self._dirty = False


# Weight, tokenizer and config files: everything that changes what the model computes.
MODEL_FILE_PATTERNS = (
    "*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf", "*.index.json", "config.json",
    "generation_config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json",
    "added_tokens.json", "*.model", "*.tiktoken", "chat_template.*", "preprocessor_config.json", "*.py",
)


def model_files(model_dir: Path) -> list[Path]:
    """The files that make the model, sorted; a link among them that leads out of ``model_dir`` is refused
    (what is hashed must be what the folder holds)."""
    files = [p for p in model_dir.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                         p.relative_to(model_dir).parts)]
    inside = model_dir.resolve()
    for p in files:
        if p.is_symlink() and not p.resolve().is_relative_to(inside):
            raise InputError(f"model/files: {p.relative_to(model_dir)} is a link to {p.resolve()}, outside the model "
                             "folder — copy the file into the folder (what is pinned is what the folder holds)")
    chosen = sorted(p for p in files if any(fnmatch(p.name, pat) for pat in MODEL_FILE_PATTERNS))
    if not chosen:
        raise InputError(f"model/path: no weight, tokenizer or config files in {model_dir} — "
                         "point --model-dir at a folder written by save_pretrained")
    return chosen


def hash_model(model_dir: Path, cache: HashCache) -> tuple[dict[str, str], str]:
    """Each model file's sha256 by its path in the folder, and their combined digest; ``cache.identities``
    keeps what each file was when hashed, for ``changed_since``."""
    digests = {p.relative_to(model_dir).as_posix(): cache.sha256(p) for p in model_files(model_dir)}
    return digests, combined_sha256(digests)


def changed_since(model_dir: Path, cache: HashCache) -> list[str]:
    """The model files that are not, now, the very files ``cache`` hashed (written, replaced, added or
    removed since): after the engine has loaded, an empty list means it loaded the hashed bytes (a
    swap and swap-back in between changes ctime, which cannot be set back)."""
    now = {p.relative_to(model_dir).as_posix(): p for p in model_files(model_dir)}
    changed = []
    for name, path in now.items():
        try:
            identity = file_identity(path.stat())
        except OSError:
            identity = None
        if identity is None or cache.identities.get(str(path.resolve())) != identity:
            changed.append(name)
    hashed = {Path(key) for key in cache.identities}
    inside = model_dir.resolve()
    gone = [key.relative_to(inside).as_posix() for key in hashed
            if key.is_relative_to(inside) and not key.exists()]
    return sorted(set(changed) | set(gone))


def _refuse_constant(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def strict_json_loads(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity literals (Python accepts them; they are not JSON).
    Raises ValueError (JSONDecodeError included) or RecursionError, for the caller to name its input."""
    return json.loads(text, parse_constant=_refuse_constant)
