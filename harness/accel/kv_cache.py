"""KV-cache compression on the transformers engine: kvpress presses that evict cache entries at prefill.

A press runs as forward hooks on the attention layers while the prompt is prefilled: after each layer
has attended over the whole prefill, the press scores that layer's cached keys and keeps the best
ones; decoding then attends over what was kept. Nothing is compressed while decoding (as in kvpress).
The presses are NVIDIA kvpress's own (github.com/NVIDIA/kvpress, package ``kvpress``), on
transformers' own ``DynamicCache``; no model code is copied or patched.

Methods (kvpress class; the paper):
- ``streaming_llm`` (StreamingLLMPress): the first ``n_sink`` tokens (attention sinks) and the most
  recent ones (Xiao et al. 2023, arXiv 2309.17453; positions are not re-rotated, as kvpress does by default).
- ``snapkv`` (SnapKVPress): keys scored by the attention the last ``window_size`` prefill queries pay
  them, average-pooled over ``kernel_size`` neighbours; the window itself is always kept (Li et al.
  2024, arXiv 2404.14469).
- ``h2o`` (ObservedAttentionPress): keys scored by the mean attention they receive from all prefill
  queries — H2O's heavy hitters (Zhang et al. 2023, arXiv 2306.14048) without its separate recent
  window. It needs the attention weights, so the compressed prefill (with ``uncompressed_tail_tokens``
  0, the whole generation) runs with eager attention, whose memory grows with the square of the prompt.
- ``pyramidkv`` (PyramidKVPress): SnapKV's scores with per-layer budgets falling linearly from the
  first layer to the last, steepness ``beta`` (Cai et al. 2024, arXiv 2406.02069).

Parameters, all required (the setting is hashed into the manifest digest, so nothing is filled in):
- the budget, exactly one of ``compression_ratio`` (fraction of the compressed prefill's entries
  removed, per layer and head — kvpress's semantics) or ``kept_tokens`` (entries kept per layer and
  head; PyramidKV: on average over layers), turned into kvpress's ratio for each prompt;
- ``uncompressed_tail_tokens``: where the question goes. With N >= 1 the last N prompt tokens are
  prefilled *after* compression, so they are never evicted and they, and every answer token, see only
  the compressed cache — kvpress's pipeline (context compressed, question not); SnapKV's and
  PyramidKV's observation window is then the end of the context, not the question. With 0 the whole prompt
  is compressed inside generation's one prefill, as the SnapKV and KVCache-Factory (PyramidKV) code does: the
  first answer token is then computed before anything is evicted and still sees the full prompt.
- each method's own parameters (``METHODS``).

A prefill shorter than the method can score (no more than ``n_sink`` or ``window_size`` tokens), or
no longer than ``kept_tokens``, is kept whole. Batches run one prompt at a time: kept entries differ
per prompt, and a left-padded row would spend its budget on padding.

Compatibility (checked with kvpress 0.5.5 from PyPI and NVIDIA/kvpress main at commit 8bb29b9c3078):
kvpress declares ``transformers<5.3`` and its hook reads ``cache_position`` from the attention layer's
keyword arguments, which transformers 5.x no longer passes (``KeyError: 'cache_position'`` on 5.23).
It is in the host lock (locks/host.txt, with every package it declares, its transformers bound
lifted by locks/overrides.txt), so ``make install`` installs it with hashes. While a press is active
this module adds that one argument through a forward pre-hook on each attention layer: the
positions the layer is about to write, from the cache's length. Note that importing kvpress wraps
every attention function registered in transformers (for its head-wise presses, unused here); the
wrapper leaves outputs unchanged for models without head-wise masks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from harness.accel.checks import (
    Param,
    fraction_below_one,
    installed_version,
    int_at_least,
    library_problems,
    param_problems,
)
from loomcore.errors import InputError


@dataclass(frozen=True)
class Method:
    """One KV-cache method: its kvpress class, own parameters and needs."""

    press: str
    params: dict[str, Param]
    shortest_prefill: Callable[[dict[str, Any]], int]  # shorter prefills are kept whole (kvpress asserts)
    eager_attention: bool = False  # the press reads attention weights, which only eager attention returns


WINDOW = Param(int_at_least(1), "the number of last prefill queries whose attention scores the keys (kvpress: 64)")
KERNEL = Param(int_at_least(1), "the width of the average pooling over key scores, odd (kvpress: 5)")
METHODS: dict[str, Method] = {
    "streaming_llm": Method("StreamingLLMPress",
                            {"n_sink": Param(int_at_least(0), "the first tokens always kept (kvpress: 4)")},
                            lambda p: p["n_sink"] + 1),
    "snapkv": Method("SnapKVPress", {"window_size": WINDOW, "kernel_size": KERNEL},
                     lambda p: p["window_size"] + 1),
    "h2o": Method("ObservedAttentionPress", {}, lambda p: 1, eager_attention=True),
    "pyramidkv": Method("PyramidKVPress",
                        {"window_size": WINDOW, "kernel_size": KERNEL,
                         "beta": Param(int_at_least(1), "the pyramid's steepness: the last layer keeps about "
                                                        "1/beta of the mean layer budget (kvpress: 20)")},
                        lambda p: p["window_size"] + 1),
}
BUDGET_PARAMS = {
    "compression_ratio": Param(fraction_below_one, "the fraction of prefilled cache entries removed, e.g. 0.5 "
                                                   "(or kept_tokens instead)"),
    "kept_tokens": Param(int_at_least(1), "the cache entries kept per layer and head, e.g. 1024 "
                                          "(or compression_ratio instead)"),
}
COMMON_PARAMS = {
    "uncompressed_tail_tokens": Param(int_at_least(0), "the last prompt tokens prefilled after compression, never "
                                                       "evicted (kvpress keeps the question so), or 0 to compress the "
                                                       "whole prompt as SnapKV's code does"),
}
LIBRARIES = ("kvpress",)


def check_spec(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The setting's params, once every problem with method, params and library is ruled out."""
    method = spec.get("method")
    if method not in METHODS:
        raise InputError(f"{where}/acceleration/method: {method!r} is not a KV-cache method — use one of "
                         f"{', '.join(METHODS)}")
    label = f"kv_cache/{method}"
    wanted = {**BUDGET_PARAMS, **COMMON_PARAMS, **METHODS[method].params}
    params = spec.get("params") or {}
    problems = param_problems(spec, wanted, where, label, optional=BUDGET_PARAMS)
    budgets = [name for name in BUDGET_PARAMS if name in params]
    if len(budgets) != 1:
        problems.append(f"{where}/acceleration/params: {label} takes exactly one budget, got "
                        f"{' and '.join(budgets) or 'none'} — set compression_ratio or kept_tokens")
    problems += library_problems(spec, LIBRARIES, where, label)
    if problems:
        raise InputError(*problems)
    return params


def press_ratio(params: dict[str, Any], prefill_tokens: int) -> float:
    """kvpress's compression ratio for one prefill. For ``kept_tokens``: the ratio that makes ``n * (1 - r)``
    a quarter token above ``kept_tokens``, so both of kvpress's ways to count kept entries, ``int(...)``
    (most presses) and ``round(...)`` (PyramidKV's fallback), give exactly ``kept_tokens``."""
    if "compression_ratio" in params:
        return float(params["compression_ratio"])
    kept = params["kept_tokens"]
    return 0.0 if kept >= prefill_tokens else 1 - (kept + 0.25) / prefill_tokens


def _import_kvpress(where: str):
    try:
        import kvpress
    except ImportError as exc:
        raise InputError(f"{where}/acceleration/library/kvpress: kvpress cannot be imported ({exc}) — `make install` "
                         "installs it from the hashed lock locks/host.txt") from None
    return kvpress


def _attention_layers(model) -> list:
    decoder = model.model.language_model if hasattr(model.model, "language_model") else model.model
    return [layer.self_attn for layer in decoder.layers]


def _add_cache_position(module, args, kwargs):
    """Forward pre-hook: the positions this attention layer is about to write, which kvpress's hook reads
    to tell prefill from decoding (transformers 5 stopped passing ``cache_position``)."""
    import torch

    hidden = kwargs["hidden_states"]
    cache = kwargs.get("past_key_values")
    past = cache.get_seq_length(module.layer_idx) if cache is not None else 0
    kwargs["cache_position"] = torch.arange(past, past + hidden.shape[1], device=hidden.device)
    return args, kwargs


class KVCacheCompression:
    """One task's KV-cache method, applied by the transformers engine to one prompt at a time."""

    def __init__(self, spec: dict[str, Any], model, where: str = "engine") -> None:
        self.params = check_spec(spec, where)
        self.name = spec["method"]
        self.method = METHODS[self.name]
        self.kvpress = _import_kvpress(where)
        if not isinstance(model, self.kvpress.SUPPORTED_MODELS):
            supported = ", ".join(cls.__name__ for cls in self.kvpress.SUPPORTED_MODELS)
            raise InputError(f"{where}/acceleration/method: kvpress does not support {type(model).__name__} (it "
                             f"supports {supported}) — evaluate this model without KV-cache compression")
        self.prefill_cache_lengths: list[int] = []  # per layer, after the last compressed prefill

    def versions(self) -> dict[str, str]:
        return {"acceleration": f"kv_cache/{self.name}", "kvpress": installed_version("kvpress") or "",
                "acceleration_batch_size": "1"}

    def _press(self, prefill_tokens: int):
        """The press for a prefill of this length, or None when it keeps everything."""
        ratio = press_ratio(self.params, prefill_tokens)
        if ratio == 0 or prefill_tokens < self.method.shortest_prefill(self.params):
            return None
        own = {name: self.params[name] for name in self.method.params}
        return getattr(self.kvpress, self.method.press)(compression_ratio=ratio, **own)

    def _record_length(self, module, args, kwargs, output):
        """Forward hook after the press's: the layer's cache length once its prefill is compressed."""
        positions = kwargs["cache_position"]
        if int(positions[-1]) + 1 == kwargs["hidden_states"].shape[1]:
            self.prefill_cache_lengths[module.layer_idx] = kwargs["past_key_values"].get_seq_length(module.layer_idx)
        return output

    @contextmanager
    def _compressing(self, model, press, eager: bool):
        layers = _attention_layers(model)
        self.prefill_cache_lengths = [0] * len(layers)
        original = model.config._attn_implementation
        hooks = [layer.register_forward_pre_hook(_add_cache_position, with_kwargs=True) for layer in layers]
        try:
            if eager and original != "eager":
                model.set_attn_implementation("eager")
            with press(model) if press is not None else nullcontext():
                hooks += [layer.register_forward_hook(self._record_length, with_kwargs=True) for layer in layers]
                yield
        finally:
            for hook in hooks:
                hook.remove()
            if model.config._attn_implementation != original:
                model.set_attn_implementation(original)

    def generate(self, model, ids, **generate_kwargs) -> list[int]:
        """New token ids for one prompt (``ids``: 1 x length, no padding)."""
        import torch
        from transformers import DynamicCache

        length = ids.shape[1]
        tail = self.params["uncompressed_tail_tokens"]
        mask = torch.ones((1, length), dtype=torch.long, device=ids.device)
        if tail == 0:
            press = self._press(length)
            with self._compressing(model, press, self.method.eager_attention and press is not None):
                out = model.generate(input_ids=ids, attention_mask=mask, **generate_kwargs)
            return out[0, length:].tolist()
        prefix = max(length - tail, 0)
        cache = DynamicCache(config=model.config)
        press = self._press(prefix)
        with self._compressing(model, press, self.method.eager_attention and press is not None):
            if prefix:
                model.model(input_ids=ids[:, :prefix], past_key_values=cache, use_cache=True)
        # The cache holds fewer entries than the `prefix` tokens it stands for: generation is given only
        # the tail, with a mask over the whole prompt, so positions continue from `prefix` (its position
        # ids come from the mask) and nothing is prefilled twice.
        out = model.generate(input_ids=ids[:, prefix:], attention_mask=mask, past_key_values=cache,
                             **generate_kwargs)
        return out[0, length - prefix:].tolist()
