"""The pinned weights, checked before the engine loads them and again after.

``verify`` hashes the model folder (from the same open handles whose identity it keeps) and refuses
a folder that does not hash to the pin; ``PinnedWeights.recheck``, called once the engine has loaded,
refuses a folder whose files are no longer those very files — so a swap between hashing and loading
(or during loading) is caught, and the records can only name weights that were loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.hashing import HashCache, changed_since, hash_model


@dataclass
class PinnedWeights:
    """A model folder that hashed to its pin; ``where`` names the pin (``model``, ``judges/NAME``)."""

    model_dir: Path
    where: str
    cache: HashCache

    def recheck(self) -> None:
        """Refuse, after loading, a folder whose files changed since they were hashed."""
        changed = changed_since(self.model_dir, self.cache)
        if changed:
            raise InputError(f"{self.where}/files: {', '.join(changed)} in {self.model_dir} changed while the model "
                             "was being loaded (written, replaced, added or removed after it was hashed) — what "
                             "was loaded cannot be vouched for; keep the folder unchanged during a run and run again")


def verify(pinned: dict[str, Any], model_dir: Path, where: str = "model",
           remedy: str = "re-pin with `loomctl pin` if the change is intended",
           use_cache: bool = True) -> PinnedWeights:
    """Refuse a model folder whose files do not hash to ``pinned['weights_sha256']`` (the evaluated
    model's pin, or a judge's: ``where`` names it in the message). ``use_cache=False`` reads every byte
    (``--no-cache``); otherwise a file whose device, inode, size, mtime and ctime equal the cached ones
    is taken at its cached hash (the trade-off ``loomcore.hashing.HashCache`` states)."""
    cache = HashCache(enabled=None if use_cache else False)
    files, combined = hash_model(model_dir, cache)
    cache.save()
    if combined != pinned.get("weights_sha256"):
        changed = sorted(n for n in set(files) | set(pinned.get("files", {}))
                         if files.get(n) != pinned.get("files", {}).get(n))
        raise InputError(f"{where}/weights_sha256: the files in {model_dir} hash to {combined}, the manifest pins "
                         f"{pinned.get('weights_sha256')} (differing: {', '.join(changed) or 'none'}) — use the pinned "
                         f"weights, or {remedy}")
    return PinnedWeights(model_dir, where, cache)
