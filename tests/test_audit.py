"""`loomctl audit`: claims against a real run — reproduced, not reproduced, not comparable (with reasons)."""

from __future__ import annotations

import json

import pytest

from loomctl.audit import load_claims
from tests.conftest import ROOT
from tests.helpers import loomctl, small_run

PINNED = {"data_revision": "generator", "prompt": "templates/niah.j2", "truncation": "middle 8192",
          "generation": "greedy", "engine": "transformers 5.23.0", "weights": "see manifest"}


@pytest.fixture(scope="module")
def run(tmp_path_factory, random_model_dir):
    return small_run(tmp_path_factory.mktemp("audit"), random_model_dir, tasks=("vt",), per_length=2)[0]


def _claims(tmp_path, claims):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"schema": "loomctl.claims/1", "source": {"title": "t", "url": "u"}, "claims": claims}))
    return path


def _claim(score, pins=PINNED, revision="local"):
    return {"model": {"id": "loomctl/tiny-loom", "revision": revision}, "benchmark": "ruler", "task": "vt",
            "metric": "string_match_all", "score": score, "n": 4, "pins": pins}


def test_shipped_claims_follow_the_schema():
    doc = load_claims(ROOT / "golden/claims/loombench-leaderboard.json")
    assert len(doc["claims"]) == 39


def test_loombench_claims_are_not_comparable_with_reasons(run):
    result = loomctl("audit", str(ROOT / "golden/claims/loombench-leaderboard.json"), str(run), "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert {r["verdict"] for r in rows} == {"not comparable"}
    assert all(r["reasons"] for r in rows)


def test_claim_without_pins_is_not_comparable_even_when_scores_agree(run, tmp_path):
    score = json.loads((run / "scores.json").read_text())["tasks"]["vt"]["score"]
    unpinned = {k: None for k in PINNED}
    rows = json.loads(loomctl("audit", str(_claims(tmp_path, [_claim(score, unpinned, None)])), str(run), "--json").stdout)
    assert rows[0]["verdict"] == "not comparable"
    assert "model revision" in rows[0]["reasons"][0] and "prompt" in rows[0]["reasons"][0]


def test_pinned_claims_reproduced_or_not(run, tmp_path):
    manifest = json.loads((run / "manifest.json").read_text())
    score = json.loads((run / "scores.json").read_text())["tasks"]["vt"]["score"]
    revision = "sha256:" + manifest["model"]["weights_sha256"]
    ok = loomctl("audit", str(_claims(tmp_path, [_claim(score, revision=revision)])), str(run), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["verdict"] == "reproduced"
    bad = loomctl("audit", str(_claims(tmp_path, [_claim(score + 50, revision=revision)])), str(run))
    assert bad.returncode == 1
    assert "not reproduced" in bad.stdout and "above" in bad.stdout
