"""The image lock files: every flavour has one, every line is a pinned wheel with its sha256 (a package that
ships no wheel: its sdist's and the built wheel's), and the lock carries the engine version the shipped
manifests pin for that flavour."""

from __future__ import annotations

import json
import re

import pytest

from loomcore.errors import InputError
from loomcore.hashing import file_sha256
from loomctl.images import FLAVOURS, check_engine_version, flavour_of, lock_text
from tests.conftest import ROOT

LINE = re.compile(r"^[a-z0-9][a-z0-9._-]*==[^\s=]+ --hash=sha256:[0-9a-f]{64}( --hash=sha256:[0-9a-f]{64})?$")


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_every_flavour_has_a_hashed_lock(flavour):
    lines = [line for line in lock_text(flavour).splitlines() if line and not line.startswith("#")]
    assert lines, flavour
    bad = [line for line in lines if not LINE.match(line)]
    assert not bad, bad[:3]
    names = [line.split("==")[0] for line in lines]
    assert len(names) == len(set(names)), "one wheel per package: the lock is for one platform"
    # what the harness imports inside every image (the official scorers' packages included)
    # and RULER's own generators: fwe counts (scipy), keys (wonderwords), essay sentences (nltk)
    for package in ("jinja2", "jsonschema", "numpy", "typer", "tokenizers", "transformers", "json-repair",
                    "pymorphy3", "pymorphy3-dicts-ru", "scipy", "wonderwords", "nltk"):
        assert package in names, (flavour, package)
    # one version of each across the images: the generators' samples depend on them
    versions = {line.split(" ")[0] for line in lines}
    assert {"wonderwords==3.0.1", "nltk==3.10.4", "scipy==1.17.1"} <= versions, flavour
    # LongBench's Chinese scorers (jieba, built from its sdist) in every image, on the CPU lock's one line
    jieba = [line for line in lines if line.startswith("jieba==")]
    assert jieba and jieba[0] in lock_text("cpu").splitlines(), flavour


def test_a_gpu_lock_downloads_its_wheels_for_the_target_and_its_sdists_apart(tmp_path):
    """`lock_image.py FLAVOUR --download` (here on two of the transformers lock's lines, from the index): the
    wheel for the image's Python and platform, the sdist-only package as its sdist, both hash-checked."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import lock_image

    lines = [line for line in lock_text("transformers").splitlines() if line.startswith(("jieba==", "json-repair=="))]
    lock = tmp_path / "lock.txt"
    lock.write_text("\n".join(lines) + "\n")
    wheelhouse = tmp_path / "wheelhouse"
    lock_image.download(lock, "transformers", wheelhouse)
    got = {path.name: file_sha256(path) for path in wheelhouse.iterdir()}
    jieba, repair = sorted(lines)
    assert got == {"jieba-0.42.1.tar.gz": jieba.split("sha256:")[1].split()[0],
                   f"json_repair-{repair.split('==')[1].split()[0]}-py3-none-any.whl": repair.split("sha256:")[1]}


@pytest.mark.parametrize("manifest", sorted((ROOT / "manifests").glob("*.json")), ids=lambda p: p.name)
def test_each_shipped_manifest_engine_version_is_the_locked_one(manifest):
    data = json.loads(manifest.read_text())
    flavour = flavour_of(data)
    check_engine_version(flavour, lock_text(flavour), data)  # raises on a mismatch


def test_a_manifest_pinning_another_engine_version_is_refused():
    data = json.loads((ROOT / "manifests" / "loombench-v1.json").read_text())
    data["engine"]["version"] = "0.10.2"
    with pytest.raises(InputError, match=r"engine/version: .*vllm 0.10.2.*lock-vllm.txt installs 0.11.0"):
        check_engine_version("vllm", lock_text("vllm"), data)
