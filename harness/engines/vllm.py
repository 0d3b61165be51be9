"""The vLLM engine: offline batched generation with ``vllm.LLM`` on CUDA, greedy and repeatable by default.

vLLM is an optional extra (``pip install 'loomctl[vllm]'``, or the ``vllm`` image flavour) and is imported
only when this engine is constructed. The pure functions below map a manifest onto vLLM's own arguments;
they are what the tests check on machines without a GPU:

- ``engine_args(engine_spec, model, model_dir, accelerator)``: keyword arguments of ``vllm.LLM`` (the names
  of ``vllm.EngineArgs``);
- ``sampling_params(request)``: keyword arguments of ``vllm.SamplingParams``, every one written out;
- ``server_command(model_dir, port, engine_spec, model, accelerator)``: ``vllm serve`` on 127.0.0.1 with the
  same mapping (for ``engine.mode: server``, started by harness.engines.server);
- ``environment(engine_spec)``: the environment variables this engine sets.

Manifest -> vLLM
  model folder                  -> model, tokenizer
  model.dtype                   -> dtype
  model.max_context_tokens      -> max_model_len (engine.args.max_model_len overrides)
  model.trust_remote_code       -> trust_remote_code, passed only when true
  accelerator.count (gpu)       -> tensor_parallel_size (engine.args.tensor_parallel_size overrides; 1 otherwise)
  engine.args.<name>            -> <name>: gpu_memory_utilization, enable_prefix_caching, enforce_eager, seed,
                                   max_num_seqs, max_num_batched_tokens, kv_cache_dtype (table OPTIONS)
  engine.args.batch_size        -> requests per generate call (harness.run forms the batches)
  engine.args.batch_invariant   -> VLLM_BATCH_INVARIANT
  (always)                      -> generation_config="vllm": the model's generation_config.json gives no
                                   sampling defaults (it still gives the end-of-sequence ids)
Unknown ``engine.args`` keys are refused, naming the accepted ones. Prompts go in as token ids from the
model's own tokenizer.json without added special tokens, exactly what truncation counted (as the
transformers engine does); vLLM decodes the output with ``skip_special_tokens``.

Repeatability (two runs of one effective manifest give equal records on the same GPU model and vLLM):
- VLLM_ENABLE_V1_MULTIPROCESSING=0: the engine core runs in this process, which vLLM documents as what
  makes offline scheduling deterministic. Batches are fixed by harness.run, so outputs repeat.
- batch_invariant (VLLM_BATCH_INVARIANT=1, vLLM >= 0.11.1, compute capability >= 8.0): outputs that do not
  depend on batch size or order. Off by default offline (single-process scheduling already repeats, and
  batch-invariant kernels are slower and still beta); on by default in server mode, where request timing
  forms the batches and batch invariance is the only reproducibility vLLM documents there.
- seed 0 for the engine, the manifest's seed per request; temperature 0 is greedy.
- enable_prefix_caching off by default (vLLM's V1 default is on): a cached prefix was computed in another
  batch shape than a fresh one, so a resumed run would not replay an uninterrupted one.
- max_num_seqs, max_num_batched_tokens, gpu_memory_utilization, kv_cache_dtype written out: vLLM derives
  their defaults from the GPU and the usage context, which the manifest does not name.
- VLLM_NO_USAGE_STATS=1 and DO_NOT_TRACK=1: no usage reporting (the images run without network).
The variables are set in ``os.environ`` before vllm is imported (they override inherited values) and
``versions()`` records them, so they reach the run's environment.json.

Acceleration: this engine has no ``set_acceleration``, so ``harness.accel.configure_engine`` refuses
kv_cache and sparse_attention tasks on it with an InputError (RAG is a sample transform and works on
every engine). Server mode is not run by this class: ``engine.mode: server`` is refused here.

Sources, read and not copied: docs.vllm.ai usage/reproducibility and features/batch_invariance (stable);
vllm-project/vllm vllm/config/model.py (ModelConfig: dtype "auto" turns float32 into float16, seed,
generation_config "vllm"), vllm/entrypoints/llm.py (LLM), vllm/sampling_params.py (top_k 0 disables);
vLLM PR #2976 (stop_reason is the matched stop string, a stop token id, or None for end of sequence);
issue #27433 (batch invariance status); PR #25603 (VLLM_BATCH_INVARIANT, released in 0.11.1).
"""

from __future__ import annotations

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
    version_tuple,
)
from loomcore.errors import InputError, RuntimeFailure

MIN_VERSION = (0, 11, 0)
BATCH_INVARIANT_SINCE = (0, 11, 1)


# engine.args of this engine, under vLLM's own EngineArgs names (see the mapping in the module docstring).
OPTIONS = {
    "batch_size": Option(int, 1, minimum=1),
    "batch_invariant": Option(bool, None),  # None: on in server mode, off offline
    "tensor_parallel_size": Option(int, None),  # None: accelerator.count
    "max_model_len": Option(int, None),  # None: model.max_context_tokens
    "gpu_memory_utilization": Option(float, 0.9),
    "enable_prefix_caching": Option(bool, False),
    "enforce_eager": Option(bool, False),
    "seed": Option(int, 0),
    "max_num_seqs": Option(int, 256),
    "max_num_batched_tokens": Option(int, 8192),
    "kv_cache_dtype": Option(str, "auto"),
}
NOT_PASSED = ("batch_size", "batch_invariant")  # read by harness.run, or turned into environment variables
NEGATED_FLAGS = ("enable_prefix_caching",)  # on by default in vLLM: "off" must be written `--no-...`


def resolved_args(engine_spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``engine.args`` for vLLM, checked, with every default resolved."""
    check_version_floor("vllm", engine_spec["version"], MIN_VERSION)
    resolved = resolve_options("vllm", engine_spec.get("args"), OPTIONS)
    if resolved["batch_invariant"] is None:
        resolved["batch_invariant"] = engine_spec.get("mode", "offline") == "server"
    if resolved["batch_invariant"] and version_tuple(engine_spec["version"]) < BATCH_INVARIANT_SINCE:
        raise InputError(f"engine/args/batch_invariant: vLLM {engine_spec['version']} has no batch-invariant mode "
                         "(it came in 0.11.1) — pin vLLM >= 0.11.1, or set batch_invariant to false (server-mode "
                         "outputs then depend on request timing)")
    return resolved


def engine_args(engine_spec: dict[str, Any], model: dict[str, Any], model_dir: str | Path,
                accelerator: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for this manifest (see the mapping in the module docstring)."""
    resolved = resolved_args(engine_spec)
    kwargs: dict[str, Any] = {
        "model": str(model_dir),
        "tokenizer": str(model_dir),
        "dtype": model.get("dtype", "auto"),
        "max_model_len": resolved["max_model_len"] or model.get("max_context_tokens"),
        "tensor_parallel_size": resolved["tensor_parallel_size"] or gpu_count(accelerator),
        "generation_config": "vllm",
    }
    if model.get("trust_remote_code"):
        kwargs["trust_remote_code"] = True
    kwargs.update({k: v for k, v in resolved.items() if k not in NOT_PASSED and k not in kwargs})
    return {k: v for k, v in kwargs.items() if v is not None}


def environment(engine_spec: dict[str, Any]) -> dict[str, str]:
    """Environment variables this engine sets (offline in this process; server mode in ``vllm serve``)."""
    env = {"VLLM_BATCH_INVARIANT": "1" if resolved_args(engine_spec)["batch_invariant"] else "0",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if engine_spec.get("mode", "offline") == "offline":
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    return env


def sampling_params(request: Request) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams``: every value written out, none left to vLLM's defaults;
    temperature 0 is greedy (top_p 1, top_k 0 = whole vocabulary)."""
    greedy = request.temperature == 0
    return {
        "n": 1,
        "temperature": float(request.temperature),
        "top_p": 1.0 if greedy else float(request.top_p),
        "top_k": 0,
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "seed": request.seed,
        "max_tokens": request.max_new_tokens,
        "min_tokens": 0,
        "stop": list(request.stop),
        "include_stop_str_in_output": False,
        "ignore_eos": False,
        "skip_special_tokens": True,
        "spaces_between_special_tokens": True,
    }


def server_command(model_dir: str | Path, port: int, engine_spec: dict[str, Any],
                   model: dict[str, Any] | None = None, accelerator: dict[str, Any] | None = None) -> list[str]:
    """``vllm serve`` for server mode, on 127.0.0.1:``port``, with the offline mapping and the server-mode
    environment (``env VAR=...`` first, so the command carries it). Pass the manifest's ``model`` and
    ``accelerator``: without them dtype is vLLM's "auto" and tensor parallelism 1. The served model name
    is ``model_dir``."""
    spec = {**engine_spec, "mode": "server"}
    kwargs = engine_args(spec, model or {}, model_dir, accelerator)
    served = kwargs.pop("model")
    return ["env", *(f"{k}={v}" for k, v in environment(spec).items()), "vllm", "serve", served,
            "--host", HOST, "--port", str(port), *cli_flags(kwargs, NEGATED_FLAGS)]


def finish_reason(reason: str | None, stop_reason: int | str | None) -> str:
    """Our finish reason for vLLM's ``(finish_reason, stop_reason)``: a string stop_reason is a matched stop
    string; None (end of sequence) or a token id (the model's end-of-sequence ids) is "eos"."""
    if reason == "length":
        return "length"
    if reason == "stop":
        return "stop" if isinstance(stop_reason, str) else "eos"
    raise RuntimeFailure(f"engine: vLLM ended a request with finish_reason {reason!r} — see logs/harness.log")


class VLLMEngine:
    name = "vllm"

    def __init__(self, spec: dict[str, Any], model: dict[str, Any], model_dir: str,
                 accelerator: dict[str, Any] | None = None):
        if spec.get("mode", "offline") != "offline":
            raise InputError("engine/mode: this is vLLM's offline engine; server mode runs `vllm serve` through "
                             "harness.engines.server — remove engine.mode or set it to offline")
        kwargs = engine_args(spec, model, model_dir, accelerator)
        self.env = environment(spec)
        vllm = import_engine("vllm", spec["version"], self.env)
        from loomcore.tokenizer import ModelTokenizer

        self.tokenizer = ModelTokenizer(model_dir)
        self.max_model_len = kwargs.get("max_model_len")
        self._sampling_params = vllm.SamplingParams
        self.llm = vllm.LLM(**kwargs)

    def versions(self) -> dict[str, str]:
        import torch
        import vllm

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        return {"engine": "vllm", "vllm": vllm.__version__, "torch": torch.__version__,
                "cuda": str(torch.version.cuda), "device": device, **self.env}

    def generate(self, requests: list[Request]) -> list[Output]:
        if not requests:
            return []
        import torch

        prompts = encode_requests(self.tokenizer, requests)
        for request, ids in zip(requests, prompts):
            if self.max_model_len and len(ids) + request.max_new_tokens > self.max_model_len:
                raise InputError(f"{request.id}: {len(ids)} prompt tokens + max_new_tokens {request.max_new_tokens} "
                                 f"exceed max_model_len {self.max_model_len} — lower truncation.budget_tokens or "
                                 "raise engine.args.max_model_len")
        try:
            results = self.llm.generate([{"prompt_token_ids": ids} for ids in prompts],
                                        [self._sampling_params(**sampling_params(r)) for r in requests],
                                        use_tqdm=False)
        except torch.OutOfMemoryError as exc:
            raise RuntimeFailure(f"engine: out of memory with {len(requests)} requests ({exc}) — lower "
                                 "engine.args.batch_size or gpu_memory_utilization") from None
        if len(results) != len(requests):
            raise RuntimeFailure(f"engine: vLLM returned {len(results)} outputs for {len(requests)} requests")
        outputs = []
        for request, result in zip(requests, results):
            completion = result.outputs[0]
            outputs.append(Output(request.id, completion.text, len(completion.token_ids),
                                  finish_reason(completion.finish_reason, completion.stop_reason)))
        return outputs
