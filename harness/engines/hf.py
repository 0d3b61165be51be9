"""The transformers engine: in-process generation on CPU or CUDA, batched, greedy by default.

Batches are formed from requests sorted by prompt length (longest first), left-padded, so a batch
holds prompts of similar length. Batch membership depends only on the request list, never on
timing, so a resumed run that replays a batch gets the same outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.engines import Output, Request, cut_at_stop
from harness.errors import InputError, RuntimeFailure


class TransformersEngine:
    name = "transformers"

    def __init__(self, spec: dict[str, Any], model: dict[str, Any], model_dir: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        import transformers

        transformers.utils.logging.disable_progress_bar()
        if spec.get("version") != transformers.__version__:
            raise InputError(f"engine/version: the manifest pins transformers {spec.get('version')}, this environment "
                             f"has {transformers.__version__} — install the pinned version or re-pin the manifest")
        args = dict(spec.get("args") or {})
        self.batch_size = int(args.pop("batch_size", 1))
        device = args.pop("device", "cuda" if torch.cuda.is_available() else "cpu")
        threads = args.pop("threads", None)
        if threads:
            torch.set_num_threads(int(threads))
        trust = bool(model.get("trust_remote_code", False))
        config = json.loads((Path(model_dir) / "config.json").read_text())
        if config.get("auto_map") and not trust:
            raise InputError("model/trust_remote_code: this model needs its own code (config.json has auto_map) — "
                             "set \"trust_remote_code\": true in the manifest if you have reviewed that code")
        dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
                 "auto": "auto"}[model.get("dtype", "auto")]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, trust_remote_code=trust)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, trust_remote_code=trust, dtype=dtype, **args).to(device).eval()
        self.device = device
        self.torch = torch

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def versions(self) -> dict[str, str]:
        import transformers

        return {"engine": "transformers", "transformers": transformers.__version__,
                "torch": self.torch.__version__, "device": self.device}

    def generate(self, requests: list[Request]) -> list[Output]:
        torch = self.torch
        encoded = [self.tokenizer(r.prompt, add_special_tokens=False)["input_ids"] for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (-len(encoded[i]), requests[i].id))
        outputs: dict[int, Output] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            first = requests[batch[0]]
            if any((requests[i].max_new_tokens, requests[i].stop, requests[i].temperature, requests[i].top_p)
                   != (first.max_new_tokens, first.stop, first.temperature, first.top_p) for i in batch):
                raise RuntimeFailure("engine: a batch mixes generation settings — one task's requests share them")
            width = max(len(encoded[i]) for i in batch)
            pad = self.tokenizer.pad_token_id
            ids = torch.tensor([[pad] * (width - len(encoded[i])) + encoded[i] for i in batch], device=self.device)
            mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in batch],
                                device=self.device)
            torch.manual_seed(first.seed)
            sampling = {"do_sample": False} if first.temperature == 0 else {
                "do_sample": True, "temperature": first.temperature, "top_p": first.top_p}
            try:
                with torch.inference_mode():
                    generated = self.model.generate(
                        input_ids=ids, attention_mask=mask, max_new_tokens=first.max_new_tokens,
                        pad_token_id=pad, eos_token_id=self.tokenizer.eos_token_id,
                        stop_strings=list(first.stop) or None, tokenizer=self.tokenizer, **sampling)
            except torch.OutOfMemoryError as exc:
                raise RuntimeFailure(f"engine: out of memory at batch size {len(batch)}, {width} tokens ({exc}) — "
                                     "lower engine.args.batch_size") from None
            for row, i in enumerate(batch):
                new = generated[row, width:].tolist()
                eos_at = next((k for k, t in enumerate(new) if t in (self.tokenizer.eos_token_id, pad)), None)
                tokens = new if eos_at is None else new[:eos_at]
                text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), first.stop)
                reason = "stop" if stopped else ("eos" if eos_at is not None else "length")
                outputs[i] = Output(requests[i].id, text, len(tokens), reason)
        return [outputs[i] for i in range(len(requests))]
