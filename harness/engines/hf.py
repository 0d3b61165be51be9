"""The transformers engine: in-process generation on CPU or CUDA, batched, greedy by default.

Batches are formed from requests sorted by prompt length (longest first), left-padded, so a batch
holds prompts of similar length. Batch membership depends only on the request list, never on
timing, so a resumed run that replays a batch gets the same outputs.

A task may set a KV-cache compression or sparse prefill method (``set_acceleration``; the methods live
in ``harness.accel.kv_cache`` and ``harness.accel.sparse``). Such a task's prompts run one at a time
whatever ``batch_size`` says: a method keeps different cache entries, or attends through a different
pattern, for each prompt, and left padding would take part in both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.engines import Output, Request, cut_at_stop, encode_requests
from harness.engines.options import Option, resolve_options
from harness.registry import resolve
from loomcore.errors import InputError, RuntimeFailure, version_mismatch
from loomcore.tokenizer import ModelTokenizer

# engine.args of this engine: an allow-list (`loomctl validate` checks it), so nothing in a manifest
# reaches from_pretrained but what is named here — no subfolder, revision or path of any kind.
OPTIONS = {
    "batch_size": Option(int, 1, minimum=1),
    "device": Option(str, None),  # None: cuda where there is one, else cpu
    "threads": Option(int, None),  # torch's intra-op threads; None: torch's default
    "attn_implementation": Option(str, None),  # None: transformers' default for the model
}


class TransformersEngine:
    name = "transformers"

    def __init__(self, spec: dict[str, Any], model: dict[str, Any], model_dir: str,
                 accelerator: dict[str, Any] | None = None):
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.utils.logging.disable_progress_bar()
        if spec.get("version") != transformers.__version__:
            raise version_mismatch("transformers", spec.get("version"), transformers.__version__)
        args = resolve_options("transformers", spec.get("args"), OPTIONS)
        self.batch_size = args["batch_size"]
        device = args["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
        # torch's intra-op threads: engine.args.threads, else the pinned CPU accelerator's threads.
        threads = args["threads"] or ((accelerator or {}).get("threads") if (accelerator or {}).get("kind") == "cpu"
                                      else None)
        if threads:
            torch.set_num_threads(int(threads))
        loading = {"attn_implementation": args["attn_implementation"]} if args["attn_implementation"] else {}
        trust = bool(model.get("trust_remote_code", False))
        refuse_remote_code(Path(model_dir), trust)
        dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
                 "auto": "auto"}[model.get("dtype", "auto")]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, trust_remote_code=trust)
        # Prompts are encoded as the harness counted them (tokenizer.json, the tokenizer's special tokens
        # added where the request says so), in one parallel batch; the transformers tokenizer decodes and
        # finds stop strings.
        self.encoder = ModelTokenizer(model_dir)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, trust_remote_code=trust, dtype=dtype, **loading).to(device).eval()
        self.device = device
        self.torch = torch
        self.acceleration = None

    def versions(self) -> dict[str, str]:
        import transformers

        versions = {"engine": "transformers", "transformers": transformers.__version__,
                    "torch": self.torch.__version__, "device": self.device}
        if self.acceleration is not None:
            versions.update(self.acceleration.versions())
        return versions

    def set_acceleration(self, spec: dict[str, Any] | None, where: str = "engine") -> None:
        """Apply this KV-cache or sparse attention method to the coming requests (None: plain generation);
        ``where`` (the task) prefixes what a refusal says."""
        if spec is None:
            self.acceleration = None
            return
        from harness.accel import ENGINE_OPTIONS, KINDS

        target = KINDS[spec["kind"]].engine_method if spec.get("kind") in ENGINE_OPTIONS else None
        if target is None:
            raise InputError(f"{where}/acceleration/kind: the transformers engine has no {spec.get('kind')!r} "
                             f"methods — use one of {', '.join(ENGINE_OPTIONS)}")
        self.acceleration = resolve(target)(spec, self.model, where)

    def generate(self, requests: list[Request]) -> list[Output]:
        if self.acceleration is not None:
            return [self._generate_accelerated(r) for r in requests]
        torch = self.torch
        encoded = encode_requests(self.encoder, requests)
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
            try:
                with torch.inference_mode():
                    generated = self.model.generate(
                        input_ids=ids, attention_mask=mask, max_new_tokens=first.max_new_tokens,
                        pad_token_id=pad, eos_token_id=self.tokenizer.eos_token_id,
                        stop_strings=list(first.stop) or None, tokenizer=self.tokenizer, **_sampling(first))
            except torch.OutOfMemoryError as exc:
                raise RuntimeFailure(f"engine: out of memory at batch size {len(batch)}, {width} tokens ({exc}) — "
                                     "lower engine.args.batch_size") from None
            for row, i in enumerate(batch):
                outputs[i] = self._output(requests[i], generated[row, width:].tolist())
        return [outputs[i] for i in range(len(requests))]

    def _generate_accelerated(self, request: Request) -> Output:
        """One prompt alone (batch 1, no padding) through the task's acceleration method."""
        torch = self.torch
        ids = torch.tensor([self.encoder.encode(request.prompt, request.special_tokens)], device=self.device)
        torch.manual_seed(request.seed)
        try:
            with torch.inference_mode():
                new = self.acceleration.generate(
                    self.model, ids, max_new_tokens=request.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.tokenizer.eos_token_id, stop_strings=list(request.stop) or None,
                    tokenizer=self.tokenizer, **_sampling(request))
        except torch.OutOfMemoryError as exc:
            raise RuntimeFailure(f"engine: out of memory on one prompt of {ids.shape[1]} tokens ({exc}) — "
                                 "shorten the prompts or use a larger accelerator") from None
        return self._output(request, new)

    def _output(self, request: Request, new: list[int]) -> Output:
        """The answer text in ``new`` tokens: up to end-of-sequence (or padding) and the first stop string."""
        ends = (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
        eos_at = next((k for k, t in enumerate(new) if t in ends), None)
        tokens = new if eos_at is None else new[:eos_at]
        text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), request.stop)
        reason = "stop" if stopped else ("eos" if eos_at is not None else "length")
        return Output(request.id, text, len(tokens), reason)


def refuse_remote_code(model_dir: Path, trust: bool) -> None:
    """A model whose config.json or tokenizer_config.json has ``auto_map`` runs its own code: refused
    unless the manifest says trust_remote_code (``trust``); a config that is not JSON is refused."""
    for name in ("config.json", "tokenizer_config.json"):
        path = model_dir / name
        try:
            config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"model/files: {name} is not JSON ({str(exc)[:80]}) — restore the model's file") from None
        if isinstance(config, dict) and config.get("auto_map") and not trust:
            raise InputError(f"model/trust_remote_code: this model needs its own code ({name} has auto_map) — "
                             "set \"trust_remote_code\": true in the manifest if you have reviewed that code")


def _sampling(request: Request) -> dict[str, Any]:
    """Greedy at temperature 0, else nucleus sampling at the request's temperature and top_p."""
    return {"do_sample": False} if request.temperature == 0 else {
        "do_sample": True, "temperature": request.temperature, "top_p": request.top_p}
