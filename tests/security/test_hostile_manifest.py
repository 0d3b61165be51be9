"""Threat model, manifests: nothing in `engine.args` reaches the model loader but the engine's own
allow-list, so no argument can load weights other than the pinned ones."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest


@pytest.mark.parametrize("args", [{"subfolder": "../../../outside/evil"}, {"revision": "main"},
                                  {"cache_dir": "/tmp"}, {"batch_size": "four"}])
def test_an_engine_arg_outside_the_allow_list_is_refused_by_validate_and_run(project, tmp_path, args):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    data["engine"]["args"].update(args)
    manifest.write_text(json.dumps(data, indent=2))
    key = next(iter(args))
    for command in (["validate", str(manifest)], ["run", str(manifest), "--out", str(tmp_path / "run")]):
        result = loomctl(*command)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert f"engine/args/{key}" in result.stderr
    assert not list((tmp_path / "run").glob("samples/*.jsonl"))
