"""`loomctl pin` / `pin --check` on a real model folder saved by transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from loomcore.hashing import HashCache, file_sha256


def loomctl(*args):
    return subprocess.run([sys.executable, "-m", "loomctl", *args], capture_output=True, text=True)


def test_pin_then_check_round_trips_and_detects_one_byte(project, random_model_dir):
    model = project / "models" / "tiny-loom"
    shutil.copytree(random_model_dir, model)
    manifest = project / "loombench-lite.json"
    data = json.loads(manifest.read_text())
    data["model"]["weights_sha256"] = None
    data["model"]["files"] = {}
    manifest.write_text(json.dumps(data, indent=2) + "\n")

    assert loomctl("pin", str(manifest)).returncode == 0
    pinned = json.loads(manifest.read_text())
    assert list(pinned) == list(data), "key order changed"
    assert set(pinned["model"]["files"]) >= {"model.safetensors", "config.json", "tokenizer.json"}
    assert pinned["model"]["files"]["model.safetensors"] == file_sha256(model / "model.safetensors")
    text_after_pin = manifest.read_text()

    check = loomctl("pin", "--check", str(manifest))
    assert check.returncode == 0, check.stderr
    assert loomctl("pin", str(manifest)).returncode == 0
    assert manifest.read_text() == text_after_pin, "re-pinning an unchanged manifest rewrote it"

    weights = model / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    weights.write_bytes(bytes(raw))
    check = loomctl("pin", "--check", str(manifest))
    assert check.returncode == 1
    assert "model/files/model.safetensors" in check.stderr
    assert "model/weights_sha256" in check.stderr
    assert manifest.read_text() == text_after_pin, "--check wrote the manifest"


def test_check_names_changed_template(project, random_model_dir):
    shutil.copytree(random_model_dir, project / "models" / "tiny-loom")
    manifest = project / "loombench-lite.json"
    assert loomctl("pin", str(manifest)).returncode == 0
    (project / "templates" / "counting_stars.j2").write_text("{{ context }} changed\n")
    check = loomctl("pin", "--check", str(manifest))
    assert check.returncode == 1
    assert "benchmarks/2/tasks/0/prompt/sha256" in check.stderr


def test_hash_cache_reuses_digest_until_file_changes(tmp_path):
    target = tmp_path / "w.bin"
    target.write_bytes(b"a" * 1000)
    cache = HashCache(tmp_path / "cache.json")
    first = cache.sha256(target)
    cache.save()
    reloaded = HashCache(tmp_path / "cache.json")
    assert reloaded.sha256(target) == first
    target.write_bytes(b"b" * 1001)
    assert reloaded.sha256(target) != first


def test_generated_data_pins_are_the_same_from_parallel_workers(project, monkeypatch):
    """The lite manifest's generated datasets pinned by two spawned worker processes give the committed
    pins, exactly as one process does; a bad worker count is refused."""
    import pytest

    from loomcore.errors import InputError
    from loomctl import manifest as mf
    from loomctl import pins
    from tests.conftest import SHIPPED_MODEL

    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    manifest = mf.load_valid(project / "loombench-lite.json")
    committed = {pin.keys: pin.value for pin in pins.compute(manifest) if pin.keys[-1] == "sha256"}
    monkeypatch.setattr(pins, "PARALLEL_FROM_TOKENS", 0)
    monkeypatch.setenv("LOOMCTL_PIN_WORKERS", "2")
    parallel = {pin.keys: pin.value for pin in pins.compute(manifest) if pin.keys[-1] == "sha256"}
    assert parallel == committed
    assert pins.drift(manifest, pins.compute(manifest)) == []  # and they are the manifest's pins
    monkeypatch.setenv("LOOMCTL_PIN_WORKERS", "zero")
    with pytest.raises(InputError, match="LOOMCTL_PIN_WORKERS: 'zero' is not a positive whole number"):
        pins.compute(manifest)
