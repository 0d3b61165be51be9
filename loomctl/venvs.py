"""The venv runtime: the harness in a virtual environment built by uv from the hashed lock of the
manifest's image flavour (``images/lock-<flavour>.txt``), for a node without docker (SLURM, HPC).

The environment is built once per lock and reused: its folder is named by the lock's sha256
(``$LOOMCTL_VENV_CACHE``, default ``~/.cache/loomctl/venvs/<flavour>-<sha256[:16]>``), built under an
exclusive lock so two runs never build it at once, and marked complete only when every locked wheel
installed with its hash checked; a folder without the mark (a build that was killed) is rebuilt.
``--wheelhouse`` installs offline from a folder of wheels (``pip download --no-deps --require-hashes
-r images/lock-<flavour>.txt -d WHEELHOUSE``; a package PyPI ships as an sdist only comes as its sdist, and
its wheel is built as the lock names it, ``images.sdist_wheels``); without it uv asks its index (``UV_INDEX_URL``,
``UV_FIND_LINKS`` as uv documents them). The environment holds the locked dependencies only; the
harness itself runs from this checkout, as with ``--runtime local``. The run's effective manifest
records the flavour, the lock's path and sha256, the environment's path and its Python.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from loomcore.errors import InputError, RuntimeFailure
from loomcore.hashing import sha256_text
from loomctl import images

MARK = ".loomctl-venv.json"


@dataclass(frozen=True)
class Venv:
    path: Path
    flavour: str
    lock: str
    lock_sha256: str
    python: str
    reused: bool
    build_seconds: float

    @property
    def interpreter(self) -> Path:
        return self.path / "bin" / "python"

    def provenance(self) -> dict[str, Any]:
        return {"flavour": self.flavour, "lock": self.lock, "lock_sha256": self.lock_sha256,
                "path": str(self.path), "python": self.python}


def cache_root() -> Path:
    configured = os.environ.get("LOOMCTL_VENV_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "loomctl" / "venvs"


def find_uv() -> str | None:
    """The uv beside this Python (the locked one ``make install`` puts in the environment), else on PATH."""
    return shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def _uv() -> str:
    uv = find_uv()
    if uv is None:
        raise InputError("--runtime venv: uv is missing — `make install` puts the locked uv in .venv "
                         "(or pip install 'loomctl[venv]')")
    return uv


def _uv_run(args: list[str], what: str) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    result = subprocess.run([_uv(), *args], capture_output=True, text=True, env=env)
    if result.returncode:
        detail = " ".join(result.stderr.strip().splitlines()[-4:])[-600:]
        raise RuntimeFailure(f"--runtime venv: {what} failed ({detail})")


def ensure(manifest_data: dict[str, Any], wheelhouse: Path | None = None,
           log: Callable[[str], None] = lambda _: None) -> Venv:
    """The flavour's environment, built or reused; refuses a lock whose engine is not the pinned one."""
    flavour = images.flavour_of(manifest_data)
    lock_text = images.lock_text(flavour)
    images.check_engine_version(flavour, lock_text, manifest_data)
    lock_path = images.IMAGES / f"lock-{flavour}.txt"
    lock_sha = sha256_text(lock_text)
    if wheelhouse is not None and not wheelhouse.is_dir():
        raise InputError(f"--wheelhouse: {wheelhouse} is not a folder — pass the folder `pip download --no-deps "
                         f"--require-hashes -r images/lock-{flavour}.txt -d WHEELHOUSE` filled")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{flavour}-{lock_sha[:16]}"
    with (root / f"{path.name}.lock").open("a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        mark = _read_mark(path)
        if mark and mark.get("lock_sha256") == lock_sha and (path / "bin" / "python").exists():
            venv = Venv(path, flavour, _relative(lock_path), lock_sha, mark["python"], True, 0.0)
            log(f"venv: reusing {path} (lock {venv.lock} sha256 {lock_sha[:12]})")
            return venv
        started = time.monotonic()
        log(f"venv: building {path} from {_relative(lock_path)} with uv"
            + (f", offline from {wheelhouse}" if wheelhouse else ""))
        if path.exists():
            shutil.rmtree(path)  # an unfinished build: no mark
        _uv_run(["venv", "--quiet", "--python", images.PYTHON[flavour], "--python-preference", "only-system",
                 str(path)], f"making the environment (needs CPython {images.PYTHON[flavour]} on this machine)")
        with tempfile.TemporaryDirectory(prefix="loomctl-sdist-wheels-") as built:
            source = ["--offline", "--no-index", "--find-links", str(wheelhouse.resolve())] if wheelhouse else []
            if wheelhouse and images.sdist_wheels(wheelhouse, lock_text, Path(built)):
                source += ["--find-links", built]  # the sdist-only packages' wheels, built as the lock says
            _uv_run(["pip", "install", "--quiet", "--python", str(path / "bin" / "python"), "--require-hashes",
                     "--no-deps", *source, "-r", str(lock_path)],
                    f"installing {_relative(lock_path)}"
                    + ("" if wheelhouse else " (pass --wheelhouse to install offline)"))
        python = subprocess.run([str(path / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                                capture_output=True, text=True, check=True).stdout.strip()
        seconds = round(time.monotonic() - started, 1)
        tmp = path / f"{MARK}.tmp"
        tmp.write_text(json.dumps({"lock": _relative(lock_path), "lock_sha256": lock_sha, "python": python,
                                   "build_seconds": seconds}, indent=2) + "\n")
        os.replace(tmp, path / MARK)
        log(f"venv: built {path} in {seconds:.0f} s")
        return Venv(path, flavour, _relative(lock_path), lock_sha, python, False, seconds)


def harness_env() -> dict[str, str]:
    """What the harness child needs in the environment: this checkout's packages on its path, nothing
    from the user's site folder."""
    return {"PYTHONPATH": str(images.ROOT), "PYTHONNOUSERSITE": "1"}


def _read_mark(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MARK).read_text())
    except (OSError, ValueError):
        return None


def _relative(path: Path) -> str:
    return path.relative_to(images.ROOT).as_posix()
