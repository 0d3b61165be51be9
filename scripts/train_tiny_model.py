"""Train the embedded default model: a tiny Llama-architecture LM that retrieves needles on CPU.

    python scripts/train_tiny_model.py --out runs/tiny-loom-base --steps-scale 0.75
    python scripts/train_tiny_model.py --init-from runs/tiny-loom-base --out manifests/models/tiny-loom --mix lite

(``make train-tiny-model`` runs both.) Reproducible: fixed seeds, single-process torch with 2 threads, a
length curriculum. The tokenizer is a byte-level BPE with one token per digit, trained here on generated
text. Stage one (``--mix niah``): the NIAH prompt of ``manifests/templates/niah.j2`` around a filler
haystack (``harness.data.haystack``) with one target needle and 0-3 distractor needles at random depths.
Stage two (``--mix lite``) continues it on the nine tasks LOOMBench-lite had when the model was trained
(``scripts/tiny_loom_mix.json``; lite has since dropped the four the model did not learn), each made by the task's own
generator with a training seed (``TRAIN_SEED_BASE`` and up, far from any seed a manifest pins) and
rendered with the task's template, the key-matching tasks weighed double (``LITE_WEIGHTS``). The loss
weighs answer tokens 1.0 and the rest 0.2. ``scripts/model_card.py`` writes the card from the training
log and the golden scores.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch

from harness.data import haystack
from loomcore.hashing import file_sha256

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (ROOT / "manifests/templates/niah.j2").read_text().rstrip("\n")
EOS = "<|endoftext|>"
# (sequence length, batch size, steps): the recipe of shared/TINY_MODEL.md, which reached
# 100 % passkey retrieval up to 2k tokens in about 30 minutes on 2 cores.
CURRICULUM = [(128, 32, 800), (256, 16, 4000), (512, 8, 2000), (1024, 4, 2000), (2048, 4, 1200)]
# The lite mix, continuing the NIAH-trained model (context length of the generators: the prompt adds
# its template and the reply, ~60-200 tokens).
MIX_CURRICULUM = [(512, 16, 800), (1024, 8, 2000), (2048, 4, 1500)]


def build_tokenizer(out: Path, vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random("train:tokenizer")
    corpus = [haystack.filler_sentence(rng) for _ in range(20000)]
    corpus += [TEMPLATE.replace("{{ context }}", "").replace("{{ query }}", haystack.needle_key(rng))
               for _ in range(200)]
    corpus += [f"The special magic number for {haystack.needle_key(rng)} is: {haystack.needle_number(rng)}."
               for _ in range(2000)]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS, bos_token=None)
    fast.model_max_length = 8192
    fast.save_pretrained(out)
    return fast


class Batches:
    """Training sequences of an exact token length, built from a pool of pre-tokenised sentences."""

    def __init__(self, tok, seed: str):
        self.rng = random.Random(seed)
        self.tok = tok
        pool_rng = random.Random(seed + ":pool")
        sentences = [haystack.filler_sentence(pool_rng) for _ in range(30000)]
        self.pool = tok([" " + s for s in sentences], add_special_tokens=False)["input_ids"]
        head, tail = TEMPLATE.split("{{ context }}")
        self.head = tok(head, add_special_tokens=False)["input_ids"]
        self.tail = tail
        self.eos = tok.convert_tokens_to_ids(EOS)

    def sample(self, length: int) -> tuple[list[int], list[float]]:
        rng = self.rng
        keys: list[str] = []
        n_keys = rng.choice([1, 1, 2, 4])
        while len(keys) < n_keys:
            k = haystack.needle_key(rng)
            if k not in keys:
                keys.append(k)
        values = [haystack.needle_number(rng) for _ in keys]
        needles = [self.tok(f" The special magic number for {k} is: {v}.", add_special_tokens=False)["input_ids"]
                   for k, v in zip(keys, values)]
        tail = self.tok(self.tail.replace("{{ query }}", keys[0]), add_special_tokens=False)["input_ids"]
        answer = self.tok(" " + values[0], add_special_tokens=False)["input_ids"] + [self.eos]
        budget = length - len(self.head) - len(tail) - len(answer) - sum(map(len, needles))
        body: list[list[int]] = []
        used = 0
        while True:
            s = self.pool[rng.randrange(len(self.pool))]
            if used + len(s) > budget:
                break
            body.append(s)
            used += len(s)
        for needle in needles:
            body.insert(rng.randint(0, len(body)), needle)
        context = [t for s in body for t in s]
        ids = self.head + context + tail + answer
        ids = ids + [self.eos] * (length - len(ids))
        weights = [0.2] * (len(ids))
        start = len(self.head) + len(context) + len(tail)
        for i in range(start, start + len(answer)):
            weights[i] = 1.0
        return ids[:length], weights[:length]

    def batch(self, length: int, size: int):
        rows = [self.sample(length) for _ in range(size)]
        return (torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows]))


# The lite mix: (task, weight). Every task of ``MIX_FILE``, made by the task's own generator and
# rendered with its own template, so the model meets each prompt as the evaluation gives it; the key
# matching tasks (multi-key, multi-value, multi-query, variable tracking, counting) weigh double.
LITE_WEIGHTS = {"niah": 1.0, "niah_single": 1.0, "niah_multikey": 2.0, "niah_multivalue": 2.0,
                "niah_multiquery": 2.0, "vt": 2.0, "cwe": 1.5, "fwe": 1.5, "counting_stars": 1.5}
# Training seeds: far above every seed a manifest of this repository pins (1-21), so no evaluation
# sample is ever trained on; the k-th batch of a run uses seed TRAIN_SEED_BASE + k.
TRAIN_SEED_BASE = 10_000_000


# The mix's tasks as LOOMBench-lite had them when the model was trained (the lite suite has since dropped
# the four the model did not learn; the mix keeps them so that a re-run trains the same model).
MIX_FILE = ROOT / "scripts/tiny_loom_mix.json"


def _lite_tasks() -> list[tuple[str, dict, str]]:
    manifest = json.loads(MIX_FILE.read_text())
    tasks = []
    for bench in manifest["benchmarks"]:
        for task in bench["tasks"]:
            dataset = task["dataset"]
            name = dataset["params"].get("task", dataset["generator"])
            path = ROOT / "manifests" / task["prompt"]["template_file"]
            if file_sha256(path) != task["prompt"]["sha256"]:
                raise SystemExit(f"{MIX_FILE.name}: {task['id']}'s template {path.name} is not the one the model was "
                                 "trained with (prompt.sha256) — restore it, or train on purpose with a new mix")
            tasks.append((name, dataset, path.read_text()))
    return tasks


def answer_text(sample: dict) -> str:
    """The target reply: the answers joined by ', ' in the order their first mention has in the
    context (the order a reader meets them), whatever order the references list."""
    context = str(sample["context"])
    answers = sorted(sample["answers"], key=lambda a: (context.find(a) if context.find(a) >= 0 else len(context)))
    return " " + ", ".join(answers)


class LiteMix:
    """Training batches of the lite tasks: each batch is one task at one context length, drawn by
    ``LITE_WEIGHTS``, from the task's generator with a training seed; loss weight 1.0 on the reply
    and its end-of-text, 0.2 on the prompt, 0 on padding."""

    def __init__(self, tok, seed: str, tokenizer_dir: Path):
        from loomcore.tokenizer import ModelTokenizer

        self.rng = random.Random(seed)
        self.counter = ModelTokenizer(tokenizer_dir)
        self.tasks = _lite_tasks()
        self.weights = [LITE_WEIGHTS[name] for name, _, _ in self.tasks]
        self.eos = tok.convert_tokens_to_ids(EOS)
        self.k = 0

    def _samples(self, length: int, size: int) -> tuple[str, list[dict], str]:
        from harness.data import synthetic

        name, dataset, template = self.rng.choices(self.tasks, weights=self.weights)[0]
        params = dict(dataset["params"])
        if dataset["generator"] == "niah":
            params.update(lengths=[length], depths=[round(self.rng.random(), 3) for _ in range(size)],
                          samples_per_cell=1)
        else:
            params.update(lengths=[length], samples_per_length=size)
        self.k += 1
        rows = synthetic.generate(dataset["generator"], dataset["generator_version"], TRAIN_SEED_BASE + self.k,
                                  params, self.counter)
        return name, rows[:size], template

    def batch(self, length: int, size: int):
        from harness.prompts import render

        _, rows, template = self._samples(length, size)
        seqs = []
        for row in rows:
            prompt = self.counter.encode(render(template, row))
            answer = self.counter.encode(answer_text(row)) + [self.eos]
            seqs.append((prompt + answer, [0.2] * len(prompt) + [1.0] * len(answer)))
        width = max(len(ids) for ids, _ in seqs)
        ids = [i + [self.eos] * (width - len(i)) for i, _ in seqs]
        weights = [w + [0.0] * (width - len(w)) for _, w in seqs]
        return torch.tensor(ids), torch.tensor(weights)


def train(out: Path, steps_scale: float, init_from: Path | None = None, stages: list[int] | None = None,
          mix: str = "niah", checkpoint_every: int = 0) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    torch.set_num_threads(2)
    out.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast.from_pretrained(init_from)
        tok.save_pretrained(out)
        model = LlamaForCausalLM.from_pretrained(init_from, dtype=torch.float32)
    else:
        tok = build_tokenizer(out)
        model = None
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=512, tie_word_embeddings=True,
        rope_theta=1e6, max_position_embeddings=8192, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, bos_token_id=None)
    model = model or LlamaForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    curriculum = MIX_CURRICULUM if mix == "lite" else CURRICULUM
    plan = [(n, b, max(1, round(s * steps_scale))) for i, (n, b, s) in enumerate(curriculum)
            if stages is None or i in stages]
    total = sum(s for _, _, s in plan)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95))
    warmup = 100

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    if mix == "lite":
        data = LiteMix(tok, "train:lite-mix", out)
    else:
        data = Batches(tok, "train:data" if init_from is None else "train:data:continued")
    step, t0, tokens = 0, time.time(), 0
    log = []
    for length, size, steps in plan:
        for _ in range(steps):
            ids, weights = data.batch(length, size)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(input_ids=ids).logits[:, :-1].float()
            loss_all = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none")
            w = weights[:, 1:].reshape(-1)
            loss = (loss_all * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += ids.numel()
            if step % 100 == 0 or step == total:
                elapsed = time.time() - t0
                entry = {"step": step, "length": length, "loss": round(loss.item(), 4),
                         "elapsed_s": round(elapsed, 1), "tokens_per_s": round(tokens / elapsed)}
                log.append(entry)
                print(json.dumps(entry), flush=True)
            if checkpoint_every and step % checkpoint_every == 0:
                model.save_pretrained(out / "checkpoint", safe_serialization=True)
                tok.save_pretrained(out / "checkpoint")
    model.config.torch_dtype = "float32"
    model.save_pretrained(out, safe_serialization=True)
    record = {"parameters": params, "mix": mix, "plan": plan, "wall_s": round(time.time() - t0, 1), "log": log}
    if init_from is not None and (init_from / "training_log.json").is_file():
        record["base"] = json.loads((init_from / "training_log.json").read_text())  # the model this run continued
    (out / "training_log.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"saved {params} parameters to {out} after {time.time() - t0:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "manifests/models/tiny-loom")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every curriculum stage's steps (1.0 = the documented recipe)")
    parser.add_argument("--init-from", type=Path, help="continue training this saved model (and its tokenizer)")
    parser.add_argument("--stages", type=int, nargs="*", help="run only these curriculum stages (0-based)")
    parser.add_argument("--mix", choices=["niah", "lite"], default="niah",
                        help="training data: NIAH needles (the base model) or the tasks of scripts/tiny_loom_mix.json")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="save OUT/checkpoint every N steps")
    args = parser.parse_args()
    train(args.out, args.steps_scale, args.init_from, args.stages, args.mix, args.checkpoint_every)


if __name__ == "__main__":
    main()
