"""The gate on the shipped tiny model: a harmed truncation setting FAILs and the diff names the pin."""

from __future__ import annotations

import json

from tests.conftest import SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest


def test_halved_budget_with_left_truncation_fails_the_gate(project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(1024, 2048),
                              per_length=12, batch_size=4)
    golden, new = tmp_path / "golden", tmp_path / "new"
    assert loomctl("run", str(manifest), "--out", str(golden)).returncode == 0
    golden_score = json.loads((golden / "scores.json").read_text())["tasks"]["niah_single"]["score"]
    assert golden_score >= 60, f"the shipped model should retrieve at 1-2k tokens, got {golden_score}"

    harmed = json.loads(manifest.read_text())
    harmed["defaults"]["truncation"].update(budget_tokens=1024, policy="left")
    manifest.write_text(json.dumps(harmed, indent=2))
    assert loomctl("run", str(manifest), "--out", str(new)).returncode == 0

    result = loomctl("diff", str(new), str(golden))
    assert result.returncode == 1, result.stdout
    assert "niah_single" in result.stdout and "FAIL" in result.stdout
    assert 'truncation.budget_tokens: 8192 -> 1024' in result.stdout
    assert 'truncation.policy: "middle" -> "left"' in result.stdout


def test_same_setting_passes_the_gate(project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(1024,), per_length=8)
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert loomctl("run", str(manifest), "--out", str(out)).returncode == 0
    result = loomctl("diff", str(a), str(b))
    assert result.returncode == 0 and "verdict: PASS" in result.stdout
