"""Write the tiny model's card from its training log and the golden LOOMBench-lite scores.

    python scripts/model_card.py [--model manifests/models/tiny-loom] [--golden golden/loombench-lite]

Every figure in the card is read from those two files, but the scores of the four tasks LOOMBench-lite
dropped, quoted from the golden they were last run in (``git show fe23690:golden/loombench-lite/scores.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_pace_s(log: dict) -> float:
    """The training's wall time had every 100 steps taken its length's median time: the logged wall less
    the slow-downs of other jobs on the shared cores (the log times each 100 steps)."""
    per_length: dict[int, list[float]] = {}
    previous = 0.0
    for row in log["log"]:
        per_length.setdefault(row["length"], []).append(row["elapsed_s"] - previous)
        previous = row["elapsed_s"]
    return sum(sorted(times)[len(times) // 2] * len(times) for times in per_length.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "manifests/models/tiny-loom")
    parser.add_argument("--golden", type=Path, default=ROOT / "golden/loombench-lite")
    args = parser.parse_args()
    log = json.loads((args.model / "training_log.json").read_text())
    config = json.loads((args.model / "config.json").read_text())
    scores = json.loads((args.golden / "scores.json").read_text())
    env = json.loads((args.golden / "environment.json").read_text())
    lengths = sorted({int(k) for t in scores["tasks"].values() for k in t["by_length"]})
    rows = ["| task | metric | all | " + " | ".join(str(n) for n in lengths) + " |",
            "|---|---|---:|" + "---:|" * len(lengths)]
    for task_id, task in scores["tasks"].items():
        cells = " | ".join(f"{task['by_length'][str(n)]['score']:.1f}" if str(n) in task["by_length"] else "-"
                           for n in lengths)
        rows.append(f"| {task['benchmark']}/{task_id} | {task['metric']} | {task['score']:.1f} | {cells} |")
    base = log.get("base", log)
    stages = ", ".join(f"{n}:{b}:{s}" for n, b, s in base["plan"])
    mix_stages = ", ".join(f"{n}:{b}:{s}" for n, b, s in log["plan"]) if "base" in log else None
    wall = (base["wall_s"] + (log["wall_s"] if "base" in log else 0)) / 60
    paced = (median_pace_s(base) + (median_pace_s(log) if "base" in log else 0)) / 60
    card = f"""# tiny-loom

A tiny Llama-architecture causal LM trained here, on 2 CPU cores, to do LOOMBench-lite's tasks on
generated filler text: the embedded default of loomctl. It is a test instrument, not a language
model: it knows the lite prompts of `manifests/templates/` and nothing else.

- Architecture: `LlamaForCausalLM`, hidden {config['hidden_size']}, {config['num_hidden_layers']} layers,
  {config['num_attention_heads']} heads, intermediate {config['intermediate_size']}, tied embeddings,
  rope_theta {config.get('rope_theta', config.get('rope_parameters', {}).get('rope_theta'))},
  max_position_embeddings {config['max_position_embeddings']}; {log['parameters']:,} parameters.
- Tokenizer: byte-level BPE, vocabulary {config['vocab_size']}, one token per digit, trained on generated text.
- Training: `make train-tiny-model` (`scripts/train_tiny_model.py`, seeded; AdamW 1e-3, warm-up 100,
  cosine to 0.1x, weight decay 0.1, bf16 autocast, 2 threads), {wall:.0f} minutes wall on 2 cores in all
  (stage one {base['wall_s'] / 60:.0f}, stage two {log['wall_s'] / 60:.0f}; each shared its 2 cores with other jobs of a working
  session at times, so an idle machine takes less: at each length's median pace per 100 steps, {paced:.0f}
  minutes).
  Stage one, NIAH (`--steps-scale 0.75`), curriculum length:batch:steps {stages}: filler sentences with
  1-4 key/number needles at random depths, the first key asked.""" + (f"""
  Stage two, the lite mix (`--mix lite`, continuing stage one), {mix_stages}: the nine tasks lite had
  then (`scripts/tiny_loom_mix.json`), each made by its own generator with training seeds (10,000,001 and up; the manifests pin 1-21) and rendered with
  its template; multi-key, multi-value, multi-query and variable tracking weigh 2, cwe, fwe and
  counting-stars 1.5, the two single-needle tasks 1.""" if mix_stages else "") + f"""
  Loss weight 1.0 on answer tokens, 0.2 elsewhere.

## Scores (golden LOOMBench-lite run, greedy, transformers {env.get('transformers')} on CPU)

Context lengths are in this model's tokens; training never went past 2,048 (the lite suite runs
1,024-4,096 since the lite mix: at 8,000 every task scored 0-3 but the single-needle ones).

{chr(10).join(rows)}

The length curve is real, measured by `make golden` / `make demo`, not written here by hand:
retrieval, multi-value, multi-query and counting hold at the training lengths and fall at 4,096.

Not learned in the budget (said here rather than hidden): `niah_multikey` (one key asked among four
needles: the model answers with another needle's number — it never learned to match the key,
although the mix weighed the task double; multi-query and multi-value pass because they ask every
needle), variable tracking (`vt`), common and frequent words extraction (`cwe`, `fwe`). The golden
run of fe23690 scored them (1,024 / 2,048 / 4,096 tokens): niah_multikey 12.5 / 0 / 0, vt 0 / 0 / 0,
cwe 2.5 / 2.5 / 0, fwe 0 / 0 / 0. A task pinned at 0 cannot show a regression, so LOOMBench-lite
dropped the four (issue 20); they stay in the training mix (`scripts/tiny_loom_mix.json`) so that
`make train-tiny-model` still makes this model, and LOOMBench v1 runs them on real models.
"""
    (args.model / "README.md").write_text(card)
    print(f"wrote {args.model / 'README.md'}")


if __name__ == "__main__":
    main()
