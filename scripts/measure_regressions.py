"""Measure how a real regression moves paired outcomes: the gate simulation's ``GATE_DISCORDANCE``.

    python scripts/measure_regressions.py --reference golden/loombench-lite --out runs/regressions \
        [--model manifests/models/tiny-loom] [--scales 0.02 0.05 0.1] [--limit N]

Each scale s makes a harmed copy of the model (every weight tensor plus Gaussian noise of s times the
tensor's standard deviation, torch seed 0), runs LOOMBench-lite on it with ``loomctl run --model`` and pairs
its per-sample primary scores with the reference run's. Per task: the net loss (sum of the score drops minus
the gains, in samples) and the discordance (sum of the absolute differences); printed per task and pooled over
the tasks that got worse: discordant pairs per net loss. A greedy model's regression is paired — the new run
is the old one with some samples lost and a few gained — and this ratio says how many of each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def harm(model: Path, out: Path, scale: float) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model, out)
    tensors = load_file(str(model / "model.safetensors"))
    gen = torch.Generator().manual_seed(0)
    harmed = {}
    for name in sorted(tensors):
        t = tensors[name].float()
        noise = torch.randn(t.shape, generator=gen) * (scale * t.std() if t.numel() > 1 else 0.0)
        harmed[name] = (t + noise).to(tensors[name].dtype).contiguous()
    save_file(harmed, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def primary_scores(run: Path) -> dict[str, dict[str, float]]:
    from loomcore.records import read_records

    return {task: {r.id: next(iter(r.scores.values())) for r in records if r.scores}
            for task, records in read_records(run).items()}


def pair(reference: Path, run: Path) -> dict[str, tuple[int, float, float]]:
    """Per task: (matched samples, net loss, discordance), in samples (a score of 1 = one sample)."""
    ref, new = primary_scores(reference), primary_scores(run)
    out = {}
    for task in sorted(ref):
        ids = sorted(set(ref[task]) & set(new.get(task, {})))
        diffs = [new[task][i] - ref[task][i] for i in ids]
        out[task] = (len(ids), -sum(diffs), sum(abs(d) for d in diffs))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a run of the unharmed model (e.g. golden)")
    parser.add_argument("--model", type=Path, default=ROOT / "manifests/models/tiny-loom")
    parser.add_argument("--manifest", type=Path, default=ROOT / "manifests/loombench-lite.json")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.02, 0.05, 0.1])
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    loomctl = str(Path(sys.executable).parent / "loomctl")
    pooled_net, pooled_disc = 0.0, 0.0
    for scale in args.scales:
        # --model takes a folder inside the manifest's; the harmed copy lives there for its run only
        model = harm(args.model, args.manifest.resolve().parent / "models" / f"harmed-{scale}", scale)
        run = args.out / f"run-{scale}"
        cmd = [loomctl, "run", str(args.manifest), "--model", str(model), "--out", str(run)]
        try:
            subprocess.run(cmd + (["--limit", str(args.limit)] if args.limit else []), check=True)
        finally:
            shutil.rmtree(model)
        for task, (n, net, disc) in pair(args.reference, run).items():
            ratio = f"{disc / net:.2f}" if net > 0 else "-"
            print(f"scale {scale}: {task:18s} n {n:4d}  net loss {net:6.2f} ({100 * net / max(n, 1):5.1f} points)  "
                  f"discordant {disc:6.2f}  ratio {ratio}")
            if net > 0:
                pooled_net, pooled_disc = pooled_net + net, pooled_disc + disc
    if pooled_net:
        print(f"pooled over the tasks that got worse: discordant pairs per net loss {pooled_disc / pooled_net:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
