"""Packages that ship no wheel (jieba): the CPU image's lock names the sdist's sha256 and the wheel's built
from it reproducibly, and ``loomctl.images.sdist_wheels`` builds that wheel for an image or a venv only from
an sdist the lock names, refusing a wheel that came out different."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from loomcore.errors import RuntimeFailure
from loomcore.hashing import file_sha256
from loomctl.images import lock_sdists, lock_text, sdist_wheels
from tests.conftest import ROOT

WHEELHOUSE = Path(os.environ.get("LOOMCTL_WHEELHOUSE", ROOT / ".ci-cache" / "wheelhouse"))


def _jieba_sdist() -> Path:
    found = sorted(WHEELHOUSE.glob("jieba-*.tar.gz"))
    if not found:
        message = f"no jieba sdist in {WHEELHOUSE}; .ci/run downloads it from images/lock-cpu.txt"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found[0]


def _sdist(folder: Path, marker: Path) -> Path:
    """A minimal sdist whose setup.py writes ``marker`` when it runs."""
    setup = (f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
             "from setuptools import setup\nsetup(name='probe', version='1.0', py_modules=[])\n")
    path = folder / "probe-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("setup.py", setup), ("PKG-INFO", "Metadata-Version: 2.1\nName: probe\nVersion: 1.0\n")):
            info = tarfile.TarInfo(f"probe-1.0/{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def test_the_jieba_sdist_builds_to_the_wheel_the_cpu_lock_names(tmp_path):
    lock = lock_text("cpu")
    (entry,) = [(sdist, wheel) for sdist, (pin, wheel) in lock_sdists(lock).items() if pin.startswith("jieba==")]
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    sdist = shutil.copy2(_jieba_sdist(), wheelhouse)
    assert file_sha256(sdist) == entry[0]
    (built,) = sdist_wheels(wheelhouse, lock, tmp_path / "built")
    assert built.name == "jieba-0.42.1-py3-none-any.whl" and file_sha256(built) == entry[1]
    shutil.copy2(built, wheelhouse)  # a wheelhouse that already has the wheel: nothing is built again
    assert sdist_wheels(wheelhouse, lock, tmp_path / "again") == []


def test_an_sdist_the_lock_does_not_name_is_never_built(tmp_path):
    marker = tmp_path / "ran"
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    _sdist(wheelhouse, marker)
    assert sdist_wheels(wheelhouse, lock_text("cpu"), tmp_path / "built") == []
    assert not marker.exists(), "an sdist the lock does not name ran its setup code"


def test_a_built_wheel_whose_hash_is_not_the_locks_is_refused(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    sdist = _sdist(wheelhouse, tmp_path / "ran")
    lock = f"probe==1.0 --hash=sha256:{file_sha256(sdist)} --hash=sha256:{'0' * 64}\n"
    with pytest.raises(RuntimeFailure, match="probe==1.0"):
        sdist_wheels(wheelhouse, lock, tmp_path / "built")
    assert (tmp_path / "ran").exists() and not list((tmp_path / "built").glob("*.whl"))
