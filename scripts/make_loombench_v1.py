"""Write manifests/loombench-v1.json (and loom-scope-full.json) from the benchmark tables in harness/benchmarks/.

    python scripts/make_loombench_v1.py [--suite loombench-v1|loom-scope-full] [--check]

The suite LOOMBench runs: the twelve benchmarks with their official tasks, prompts, generation
budgets and metrics, middle truncation at the model's window (the answer's budget reserved inside
it), greedy decoding, the vLLM engine on one H100-80GB. Template hashes are computed here; every
pin that needs what this machine cannot reach (model weights, hub dataset revisions and contents,
the model's chat template, the data a generator makes with the model's tokenizer) is left null —
an open pin that `loomctl validate` lists and `loomctl run` refuses until `loomctl pin --resolve`
and `loomctl pin` fill it where the hub and the weights are. ``--check`` exits 1 if the file on
disk differs from what the tables give.

``--suite loom-scope-full`` writes the same manifest over LOOM-Scope's 22 benchmarks
(``harness.benchmarks.LOOM_SCOPE``, in its capability order); it refuses, naming them, while a
benchmark's table is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.benchmarks import BENCHMARKS, FAMILIES, LOOM_SCOPE_FAMILIES  # noqa: E402
from harness.judge_run import JUDGED  # noqa: E402
from loomcore.hashing import sha256_text  # noqa: E402
from loomctl.manifest import dump  # noqa: E402

SUITES = {
    "loombench-v1": (FAMILIES, "LOOMBench v1: the twelve LOOMBench benchmarks (L-CiteEval, LEval, RULER, LongBench, "
                               "BABILong, Counting-Stars, LVEval, LongBench-v2, NIAH, InfiniteBench, LongWriter, "
                               "LIBRA)"),
    "loom-scope-full": (LOOM_SCOPE_FAMILIES, "LOOM-Scope's 22 benchmarks in its six capabilities (faithfulness, "
                                             "general, retrieval, reasoning, generation, specialization)"),
}
WINDOW = 131072  # Llama-3.1-8B-Instruct's context window (config max_position_embeddings)
VLLM_VERSION = "0.11.0"
# Seen pinned in public Dockerfiles (the search tool's stored code); not re-verified against a registry here.
# Ubuntu 24.04, so the image's python3 is 3.12 (the project needs >= 3.11; 22.04 ships 3.10).
CUDA_BASE = ("nvidia/cuda:12.8.1-runtime-ubuntu24.04@sha256:"
             "ebef3c171eeef0298e4eb2e4be843105edf3b8b0ac45e0b43acee358e8046867")

# The judges of the judge metrics (harness.judge_run.JUDGED names which metric needs which).
# "quality" is LongWriter's upstream judge (evaluation/eval_quality.py): gpt-4o-2024-05-13 through the
# OpenAI chat API, temperature 0.5, 1024 new tokens. A hosted model's weights cannot be hashed, so
# that pin stays open and `loomctl judge` refuses it until a local judge is pinned in its place.
JUDGES = {
    "nli": {"id": "tasksource/deberta-base-long-nli", "revision": None, "weights_sha256": None, "files": {},
            "dtype": "float32", "engine": {"name": "transformers", "task": "text-classification"}},
    "quality": {"id": "gpt-4o-2024-05-13", "revision": None, "weights_sha256": None, "files": {},
                "engine": {"name": "openai", "args": {"base_url": "https://api.openai.com/v1",
                                                      "model": "gpt-4o-2024-05-13", "endpoint": "chat",
                                                      "api_key_env": "OPENAI_API_KEY"}},
                "generation": {"max_new_tokens": 1024, "temperature": 0.5, "top_p": 1.0, "seed": 0}},
    # LongSafety's upstream judge (src/multi_agent_eval.py): gpt-4o-mini through the OpenAI chat API at
    # temperature 0, no token limit set there (1024 here, the LLM judge's default). Open pin, as "quality".
    "safety": {"id": "gpt-4o-mini", "revision": None, "weights_sha256": None, "files": {},
               "engine": {"name": "openai", "args": {"base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini",
                                                     "endpoint": "chat", "api_key_env": "OPENAI_API_KEY"}},
               "generation": {"max_new_tokens": 1024, "temperature": 0.0, "top_p": 1.0, "seed": 0}},
    # LongCite's upstream judge (LongBench-Cite/eval_correct.py, auto_scorer.py): gpt-4o-2024-05-13 at
    # temperature 0 (the citation judge retries at 1 and asks for 10 tokens; one setting here). Open pin.
    "cite": {"id": "gpt-4o-2024-05-13", "revision": None, "weights_sha256": None, "files": {},
             "engine": {"name": "openai", "args": {"base_url": "https://api.openai.com/v1", "model": "gpt-4o-2024-05-13",
                                                   "endpoint": "chat", "api_key_env": "OPENAI_API_KEY"}},
             "generation": {"max_new_tokens": 1024, "temperature": 0.0, "top_p": 1.0, "seed": 0}},
}


def task_entry(bench, task) -> dict:
    dataset = {**task.dataset, **({"fields": task.fields} if task.fields and task.dataset["source"] != "generator"
                                  else {})}
    if task.samples and task.dataset["source"] == "hub":
        dataset["limit"] = task.samples
    dataset["sha256"] = None
    template = (ROOT / "manifests" / "templates" / task.template).read_text(encoding="utf-8")
    prompt = {"template_file": f"templates/{task.template}", "sha256": sha256_text(template),
              "chat_template": "tokenizer" if task.chat_template else "none"}
    if task.chat_template:
        prompt["chat_template_sha256"] = None
    if task.system:
        prompt["system"] = task.system
    if task.system_field:
        prompt["system_field"] = task.system_field
    generation = {"max_new_tokens": task.max_new_tokens, **({"stop": list(task.stop)} if task.stop else {})}
    return {"id": task.id, "dataset": dataset, "prompt": prompt, "generation": generation,
            "metrics": list(task.metrics)}


def out_path(suite: str) -> Path:
    return ROOT / "manifests" / f"{suite}.json"


def build(suite: str = "loombench-v1") -> dict:
    families, what = SUITES[suite]
    missing = [f for f in families if f not in BENCHMARKS or not BENCHMARKS[f].tasks]
    if missing:
        raise SystemExit(f"{suite}: no task table yet in harness/benchmarks/ for {', '.join(missing)}")
    benchmarks = [{"name": BENCHMARKS[f].name, "tasks": [task_entry(BENCHMARKS[f], t) for t in BENCHMARKS[f].tasks]}
                  for f in families]
    judges = {name: spec for name, spec in JUDGES.items()
              if any(JUDGED[f].judge == name for f in families if f in JUDGED)}
    option = "" if suite == "loombench-v1" else f" --suite {suite}"
    return {
        "$schema": "schema/manifest.v1.json",
        "schema_version": "1.0",
        "suite": {"name": suite, "version": "1",
                  "description": f"{what} with their official prompts and metrics, middle truncation at the model's "
                                 "window minus the answer's budget, greedy decoding, vLLM on one H100-80GB. "
                                 f"Generated by scripts/make_loombench_v1.py{option} from harness/benchmarks/."},
        "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "revision": None, "dtype": "bfloat16",
                  "trust_remote_code": False, "max_context_tokens": WINDOW, "weights_sha256": None, "files": {}},
        "engine": {"name": "vllm", "version": VLLM_VERSION, "mode": "offline",
                   "args": {"max_model_len": WINDOW, "gpu_memory_utilization": 0.9, "enable_prefix_caching": False}},
        "accelerator": {"kind": "gpu", "model": "H100-80GB", "count": 1, "min_memory_gib": 79, "cuda": "12.8"},
        "image": {"base": CUDA_BASE, "flavour": "vllm", "engine_version": VLLM_VERSION},
        **({"judges": judges} if judges else {}),
        "defaults": {
            # The model's own special tokens (Llama 3.1's <|begin_of_text|>): its chat template writes them
            # where it is used; a plain prompt (NIAH, fwe) gets them from the tokenizer, as vLLM adds them.
            "prompt": {"special_tokens": "tokenizer"},
            "truncation": {"policy": "middle", "budget_tokens": WINDOW, "tokenizer": "model", "field": "context",
                           "counts_chat_template": True, "reserves_max_new_tokens": True},
            "generation": {"temperature": 0.0, "top_p": 1.0, "seed": 0},
            "aggregation": "mean",
        },
        "benchmarks": benchmarks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the tables")
    parser.add_argument("--suite", choices=sorted(SUITES), default="loombench-v1")
    args = parser.parse_args()
    out = out_path(args.suite)
    manifest = build(args.suite)
    text = dump(manifest)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            print(f"{out}: out of date with harness/benchmarks/ — run scripts/make_loombench_v1.py --suite {args.suite}",
                  file=sys.stderr)
            raise SystemExit(1)
        print(f"{out}: up to date")
        return
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({sum(len(b['tasks']) for b in manifest['benchmarks'])} tasks)")


if __name__ == "__main__":
    main()
