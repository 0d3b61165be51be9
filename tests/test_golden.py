"""The main job reproduces its golden byte for byte: `loomctl run manifests/loombench-lite.json` on the
shipped model writes the same records and scores.json as golden/loombench-lite (what `make demo` gates
on), so a refactor or an environment change that moves any byte fails here, before review."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tests.helpers import loomctl

GOLDEN = ROOT / "golden" / "loombench-lite"


def test_the_lite_suite_reproduces_the_golden_records_and_scores_byte_for_byte(tmp_path):
    out = tmp_path / "run"
    result = loomctl("run", str(ROOT / "manifests" / "loombench-lite.json"), "--out", str(out), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    golden = sorted(p.name for p in (GOLDEN / "samples").glob("*.jsonl"))
    assert sorted(p.name for p in (out / "samples").glob("*.jsonl")) == golden
    for name in golden:
        assert (out / "samples" / name).read_bytes() == (GOLDEN / "samples" / name).read_bytes(), name
    assert (out / "scores.json").read_bytes() == (GOLDEN / "scores.json").read_bytes()
    # the environment it ran in has the versions the golden names (the lock's)
    environment, pinned = (json.loads((d / "environment.json").read_text()) for d in (out, GOLDEN))
    for key in ("torch", "transformers", "tokenizers", "numpy"):
        assert environment[key] == pinned[key], key
