"""Content hashing shared by host and harness: canonical JSON, sample sets, streamed file digests.

One definition of each digest, so a pin computed by ``loomctl pin`` on the host and the check the
harness runs before inference can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def combined_sha256(file_digests: dict[str, str]) -> str:
    """One digest over many files: sha256 of 'name  digest' lines sorted by name (sha256sum style)."""
    return sha256_text("".join(f"{digest}  {name}\n" for name, digest in sorted(file_digests.items())))
