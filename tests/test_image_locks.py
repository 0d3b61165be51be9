"""The image lock files: every flavour has one, every line is a pinned wheel with its sha256 (a package that
ships no wheel: its sdist's and the built wheel's), and the lock carries the engine version the shipped
manifests pin for that flavour."""

from __future__ import annotations

import json
import re

import pytest

from loomcore.errors import InputError
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
    for package in ("jinja2", "jsonschema", "numpy", "typer", "tokenizers", "transformers", "json-repair",
                    "pymorphy3", "pymorphy3-dicts-ru"):
        assert package in names, (flavour, package)
    if flavour == "cpu":  # LongBench's Chinese scorers (jieba, built from its sdist), RULER's fwe counts (scipy)
        assert {"jieba", "scipy", "wonderwords", "nltk"} <= set(names)


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
