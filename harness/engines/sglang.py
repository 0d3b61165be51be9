"""The SGLang engine: offline batched generation with ``sglang.Engine`` on CUDA, greedy and deterministic by default.

SGLang is an optional extra (``pip install 'loomctl[sglang]'``, or the ``sglang`` image flavour) and is
imported only when this engine is constructed. As for vLLM (harness.engines.vllm; both check options and
render flags with harness.engines.options), pure functions map the manifest onto SGLang's own arguments:

- ``engine_args(engine_spec, model, model_dir, accelerator)``: keyword arguments of ``sglang.Engine``
  (the fields of SGLang's ``ServerArgs``);
- ``sampling_params(request)``: the ``sampling_params`` dict of ``Engine.generate``, every key written out.
  SGLang's own defaults are never relied on: its SamplingParams default to temperature 1.0 and 128 new
  tokens, and its OpenAI layer takes defaults from generation_config.json (``--sampling-defaults model``);
  LOOM-Scope's SGLang path silently falls back to temperature 0.7 when a task sets none;
- ``server_command(model_dir, port, engine_spec, model, accelerator)``: ``python -m sglang.launch_server``
  on 127.0.0.1 with the same mapping plus ``--sampling-defaults openai``.

Manifest -> SGLang
  model folder                  -> model_path, tokenizer_path
  model.dtype                   -> dtype
  model.max_context_tokens      -> context_length (engine.args.context_length overrides)
  model.trust_remote_code       -> trust_remote_code, passed only when true
  accelerator.count (gpu)       -> tp_size (engine.args.tp_size overrides; 1 otherwise)
  engine.args.<name>            -> <name>: mem_fraction_static, random_seed, disable_radix_cache,
                                   enable_deterministic_inference, chunked_prefill_size, attention_backend,
                                   kv_cache_dtype (table OPTIONS)
  engine.args.batch_size        -> requests per generate call (harness.run forms the batches)
Unknown ``engine.args`` keys are refused, naming the accepted ones. Prompts go in as ``input_ids`` from the
model's own tokenizer.json without added special tokens, exactly what truncation counted.

Repeatability:
- enable_deterministic_inference on by default (SGLang >= 0.5.3; attention backends fa3, flashinfer or
  triton): batch-invariant kernels, so outputs do not depend on how the scheduler, which runs in its own
  process, groups requests. Unlike vLLM, SGLang documents no single-process deterministic mode, so this
  is the default in both modes; turn it off (recorded in the manifest) to trade repeatability for speed.
- random_seed 0 (SGLang's default is None, a fresh random seed per launch); for sampled requests the
  manifest's seed goes in ``sampling_seed`` (greedy requests need none).
- disable_radix_cache on by default: a prefix served from the radix cache was computed in another batch
  than a fresh one, so a resumed run would not replay an uninterrupted one.
- mem_fraction_static and chunked_prefill_size written out: SGLang sizes them from the GPU's memory
  otherwise, which the manifest does not name.
SGLang needs no environment variables of ours; ``versions()`` records the package versions and device.

Acceleration: this engine has no ``set_acceleration``, so ``harness.accel.configure_engine`` refuses
kv_cache and sparse_attention tasks on it with an InputError (RAG works on every engine). Server mode is
not run by this class: ``engine.mode: server`` is refused here.

Sources, read and not copied: sgl-project/sglang python/sglang/srt/server_args.py (ServerArgs fields:
model_path, tokenizer_path, dtype "auto" turns float32 into float16, context_length, mem_fraction_static,
chunked_prefill_size, random_seed, tp_size, disable_radix_cache, enable_deterministic_inference),
python/sglang/srt/sampling/sampling_params.py (keys and defaults; temperature 0 becomes top_k 1;
sampling_seed), python/sglang/srt/managers/schedule_batch.py (finish reasons: {"type": "stop", "matched":
token id or stop string}, {"type": "length"}, {"type": "abort"}); docs.sglang.io advanced_features/
deterministic_inference and basic_usage/offline_engine_api, sampling_params ("--sampling-defaults");
PR #10645 (deterministic inference, 0.5.3), PR #11304 (--sampling-defaults, 0.5.4).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.engines import Output, Request, encode_requests
from harness.engines.options import (
    HOST,
    Option,
    check_version_floor,
    cli_flags,
    gpu_count,
    import_engine,
    resolve_options,
)
from loomcore.errors import InputError, RuntimeFailure

MIN_VERSION = (0, 5, 4)  # deterministic inference (0.5.3) and --sampling-defaults (0.5.4)

# engine.args of this engine, under SGLang's own ServerArgs names (see the mapping in the module docstring).
OPTIONS = {
    "batch_size": Option(int, 1, minimum=1),
    "tp_size": Option(int, None),  # None: accelerator.count
    "context_length": Option(int, None),  # None: model.max_context_tokens
    "mem_fraction_static": Option(float, 0.8),
    "random_seed": Option(int, 0),
    "disable_radix_cache": Option(bool, True),
    "enable_deterministic_inference": Option(bool, True),
    "chunked_prefill_size": Option(int, 8192),
    "attention_backend": Option(str, None),  # None: SGLang's choice for the GPU (fa3 on Hopper)
    "kv_cache_dtype": Option(str, "auto"),
}
NOT_PASSED = ("batch_size",)  # read by harness.run


def engine_args(engine_spec: dict[str, Any], model: dict[str, Any], model_dir: str | Path,
                accelerator: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``sglang.Engine`` for this manifest (see the mapping in the module docstring)."""
    check_version_floor("sglang", engine_spec["version"], MIN_VERSION)
    resolved = resolve_options("sglang", engine_spec.get("args"), OPTIONS)
    kwargs: dict[str, Any] = {
        "model_path": str(model_dir),
        "tokenizer_path": str(model_dir),
        "dtype": model.get("dtype", "auto"),
        "context_length": resolved["context_length"] or model.get("max_context_tokens"),
        "tp_size": resolved["tp_size"] or gpu_count(accelerator),
    }
    if model.get("trust_remote_code"):
        kwargs["trust_remote_code"] = True
    kwargs.update({k: v for k, v in resolved.items() if k not in NOT_PASSED and k not in kwargs})
    return {k: v for k, v in kwargs.items() if v is not None}


def sampling_params(request: Request) -> dict[str, Any]:
    """The ``sampling_params`` of ``Engine.generate``, every key written out; temperature 0 is greedy
    (top_p 1, top_k -1 = whole vocabulary; SGLang then takes the arg max)."""
    greedy = request.temperature == 0
    params = {
        "n": 1,
        "temperature": float(request.temperature),
        "top_p": 1.0 if greedy else float(request.top_p),
        "top_k": -1,
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "max_new_tokens": request.max_new_tokens,
        "min_new_tokens": 0,
        "stop": list(request.stop),
        "no_stop_trim": False,
        "ignore_eos": False,
        "skip_special_tokens": True,
        "spaces_between_special_tokens": True,
    }
    if not greedy:
        params["sampling_seed"] = request.seed
    return params


def server_command(model_dir: str | Path, port: int, engine_spec: dict[str, Any],
                   model: dict[str, Any] | None = None, accelerator: dict[str, Any] | None = None) -> list[str]:
    """``python -m sglang.launch_server`` for server mode, on 127.0.0.1:``port``, with the offline mapping;
    ``--sampling-defaults openai`` keeps generation_config.json out of the OpenAI endpoints' defaults. Pass
    the manifest's ``model`` and ``accelerator``: without them dtype is SGLang's "auto" and tp_size 1."""
    kwargs = engine_args(engine_spec, model or {}, model_dir, accelerator)
    return [sys.executable, "-m", "sglang.launch_server", "--model-path", kwargs.pop("model_path"),
            "--host", HOST, "--port", str(port), *cli_flags(kwargs), "--sampling-defaults", "openai"]


def finish_reason(reason: dict[str, Any] | None) -> str:
    """Our finish reason for SGLang's ``meta_info["finish_reason"]``: a matched string is a stop string, a
    matched token id (or list of ids) is the model's end of sequence."""
    kind = (reason or {}).get("type")
    if kind == "length":
        return "length"
    if kind == "stop":
        return "stop" if isinstance(reason.get("matched"), str) else "eos"
    raise RuntimeFailure(f"engine: SGLang ended a request with {reason!r} — see logs/harness.log")


class SGLangEngine:
    name = "sglang"

    def __init__(self, spec: dict[str, Any], model: dict[str, Any], model_dir: str,
                 accelerator: dict[str, Any] | None = None):
        if spec.get("mode", "offline") != "offline":
            raise InputError("engine/mode: this is SGLang's offline engine; server mode runs sglang.launch_server "
                             "through harness.engines.server — remove engine.mode or set it to offline")
        kwargs = engine_args(spec, model, model_dir, accelerator)
        sglang = import_engine("sglang", spec["version"], {})
        from loomcore.tokenizer import ModelTokenizer

        self.tokenizer = ModelTokenizer(model_dir)
        self.context_length = kwargs.get("context_length")
        self.engine = sglang.Engine(**kwargs)

    def versions(self) -> dict[str, str]:
        import sglang
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        return {"engine": "sglang", "sglang": sglang.__version__, "torch": torch.__version__,
                "cuda": str(torch.version.cuda), "device": device}

    def close(self) -> None:
        """Stop SGLang's scheduler and detokenizer processes."""
        self.engine.shutdown()

    def generate(self, requests: list[Request]) -> list[Output]:
        if not requests:
            return []
        prompts = encode_requests(self.tokenizer, requests)
        for request, ids in zip(requests, prompts):
            if self.context_length and len(ids) + request.max_new_tokens > self.context_length:
                raise InputError(f"{request.id}: {len(ids)} prompt tokens + max_new_tokens {request.max_new_tokens} "
                                 f"exceed context_length {self.context_length} — lower truncation.budget_tokens or "
                                 "raise engine.args.context_length")
        results = self.engine.generate(input_ids=prompts, sampling_params=[sampling_params(r) for r in requests])
        if len(results) != len(requests):
            raise RuntimeFailure(f"engine: SGLang returned {len(results)} outputs for {len(requests)} requests")
        return [Output(request.id, result["text"], int(result["meta_info"]["completion_tokens"]),
                       finish_reason(result["meta_info"].get("finish_reason")))
                for request, result in zip(requests, results)]
