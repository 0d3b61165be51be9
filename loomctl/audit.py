"""Audit reported numbers (claims) against reproduced runs: reproduced, not reproduced, or not comparable.

A claim is only compared when both sides pin the same things: a claim that leaves a pin unstated
(model revision, data revision, prompt, truncation, generation, engine, weights) is *not comparable*,
with the unknown pins named, rather than given a verdict its source cannot support.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.rundir import MANIFEST, RunDir
from loomcore.specs import Scores

SCHEMA = Path(__file__).resolve().parents[1] / "manifests" / "schema" / "claims.v1.json"
Z95 = 1.959963984540054


@cache
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA.read_text()))


def load_claims(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read claims ({exc}) — pass a file following manifests/schema/claims.v1.json") from None
    errors = [f"{path}: {'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message} — see "
              "manifests/schema/claims.v1.json" for e in _validator().iter_errors(doc)]
    if errors:
        raise InputError(*errors)
    return doc


def _reproduced(scores: Scores, claim: dict[str, Any]) -> tuple[float | None, float | None]:
    """The run's score for the claim's benchmark/task and its standard error."""
    tasks = {k: v for k, v in scores.tasks.items() if v.benchmark == claim["benchmark"]}
    if claim["task"]:
        task = scores.tasks.get(claim["task"])
        return (task.score, task.stderr) if task else (None, None)
    if claim["benchmark"] in scores.benchmarks:
        ses = [t.stderr or 0.0 for t in tasks.values() if t.score is not None]
        return scores.benchmarks[claim["benchmark"]].score, math.sqrt(sum(s * s for s in ses)) / max(len(ses), 1)
    return None, None


def audit(claims_path: Path, run_dirs: list[Path]) -> list[dict[str, Any]]:
    """Each claim of the claims file checked against the first run of its model."""
    doc = load_claims(claims_path)
    runs = [(run_dir, RunDir(run_dir).read(MANIFEST), RunDir(run_dir).scores()) for run_dir in run_dirs]
    return [_audit_claim(claim, runs) for claim in doc["claims"]]


def _audit_claim(claim: dict[str, Any], runs: list[tuple[Path, dict[str, Any], Scores]]) -> dict[str, Any]:
    row = {"model": claim["model"]["id"], "benchmark": claim["benchmark"], "task": claim["task"],
           "claimed": claim["score"], "reproduced": None, "interval": None, "run": None, "reasons": []}
    matching = [r for r in runs if r[1]["model"]["id"] == claim["model"]["id"]]
    if not matching:
        row.update(verdict="not comparable",
                   reasons=[f"no run of {claim['model']['id']} (runs: {sorted({r[1]['model']['id'] for r in runs})})"])
        return row
    run_dir, manifest, scores = matching[0]
    score, se = _reproduced(scores, claim)
    row.update(run=str(run_dir), reproduced=score)
    row["reasons"] += _incomparable(claim, manifest, score)
    if row["reasons"]:
        row["verdict"] = "not comparable"
        return row
    half = Z95 * (se or 0.0) + 0.005  # claims are reported to two decimals
    row["interval"] = [round(score - half, 4), round(score + half, 4)]
    if abs(claim["score"] - score) <= half:
        row["verdict"] = "reproduced"
    else:
        row["verdict"] = "not reproduced"
        row["reasons"].append("claimed score is " + ("above" if claim["score"] > score else "below")
                              + " the reproduced interval")
    return row


def _incomparable(claim: dict[str, Any], manifest: dict[str, Any], score: float | None) -> list[str]:
    """Why the claim cannot be compared with the run (empty when it can)."""
    reasons = []
    unknown = [name for name, value in claim["pins"].items() if value is None]
    if claim["model"]["revision"] is None:
        unknown.insert(0, "model revision")
    else:
        # a hub commit, or "sha256:<weights_sha256>" for a model that exists only as files
        ours = manifest["model"].get("revision") or f"sha256:{manifest['model']['weights_sha256']}"
        if claim["model"]["revision"] != ours:
            reasons.append(f"model revision {claim['model']['revision']} vs the run's {ours}")
    if score is None:
        reasons.append(f"the run has no score for {claim['benchmark']}/{claim['task'] or '*'}")
    if unknown:
        reasons.append("the claim does not state: " + ", ".join(unknown))
    return reasons


def render(results: list[dict[str, Any]]) -> str:
    lines = [f"{'model':<28}{'benchmark/task':<26}{'claimed':>9}{'reproduced':>12}  verdict"]
    for r in results:
        rep = "-" if r["reproduced"] is None else f"{r['reproduced']:.2f}"
        name = r["benchmark"] + ("/" + r["task"] if r["task"] else "")
        lines.append(f"{r['model']:<28}{name:<26}{r['claimed']:>9.2f}{rep:>12}  {r['verdict']}"
                     + (f" ({'; '.join(r['reasons'])})" if r["reasons"] else ""))
    return "\n".join(lines)
