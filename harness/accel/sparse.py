"""Sparse prefill attention on the transformers engine: block-sparse FlexAttention patterns for the prompt.

The prompt's prefill attends through ``torch.nn.attention.flex_attention`` with a ``BlockMask`` built
per layer and head; decoding attends densely over the full cache (PyTorch SDPA, as the plain engine).
The method is an attention function registered with transformers' ``AttentionInterface`` and selected
with ``model.set_attn_implementation`` for the duration of one generation: no model code is patched.

Method ``vertical_slash`` (MInference's vertical-slash heads: Jiang et al. 2024, arXiv 2407.02490,
and microsoft/MInference, minference/modules/minference_forward.py, read, not copied). For each head,
the last ``last_q`` prompt queries attend densely to every key (causally); from those weights:
- vertical lines: the first ``sink_tokens`` key columns, plus the ``vertical_size`` other columns
  with the highest summed attention;
- slash lines: the diagonals at offsets 0 .. ``local_window`` - 1 (the local window), plus the
  ``slash_size`` other offsets (query position - key position) with the highest summed attention.
A query attends to a key (at or before it) on one of its head's lines. MInference counts its forced
sinks (30) and local diagonals (100) inside its vertical and slash budgets; here they are added to
them, so MInference's (vertical 1000, slash 6096) is sink 30 + vertical 970, window 100 + slash 5996.
``block_size`` is FlexAttention's tile: blocks that no line crosses are skipped, the rest are masked
token by token, so the block size changes speed, never the result.

Method ``flexprefill`` (FlexPrefill: Lai et al., ICLR 2025, arXiv 2502.20766; read in its adaptation
sgl-project/sglang python/sglang/srt/layers/attention/triton_ops/flex_prefill_attention.py, not copied),
whole ``block_size`` blocks chosen per head and per prompt:
- the last block of queries attends densely to every key (causally); ``vertical`` is their mean
  attention per key, ``slash`` their summed attention per offset (query - key position) over their
  number; each head keeps the fewest tokens whose scores add up to ``gamma``, which makes a number of
  blocks (tokens // block + 1, at least ``min_budget`` tokens' worth and one block): that many key blocks with the
  highest vertical sums (key block 0 always among them) and that many block distances with the
  highest slash sums (distance 0, the diagonal blocks, always among them);
- a head is *query-aware* when the square-rooted Jensen-Shannon divergence between two estimates of
  the last queries' attention over key blocks — the softmax of their mean query against the keys'
  block means, and their true vertical sums per block — is below ``tau``: its vertical and slash
  counts fall to the ``min_budget`` minimum, and it adds the (query block, key block) pairs whose
  block-mean attention (each query block's mean query against the key block means, causal, softmax
  per query block) is highest, the fewest that add up to ``gamma`` x the number of query blocks over
  all rows together, as upstream's ``score_cover_idx`` does.
Inside a visited block attention is causal and dense. Where this differs from upstream: slash
offsets are grouped into block distances as offset // block (upstream groups them from the last
token, which agrees when the prompt is a whole number of blocks); the scores use the model's own
attention scaling; there is no ``max_budget`` cap (upstream's default is none either).

A pattern whose lines cover every causal pair (e.g. ``local_window`` >= the prompt length, or
``gamma`` 1 with a ``min_budget`` of the prompt's length) is dense attention computed by FlexAttention. On CUDA the attention is compiled (``torch.compile``); on CPU it
runs in FlexAttention's eager mode, which materialises each head's full score matrix (memory and time
grow with the square of the prompt, no faster than dense): correct, for testing, not a speed-up. Prompts
run one at a time (batch 1, no padding), so the mask needs no padding terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.accel.checks import (
    Param,
    installed_version,
    int_at_least,
    library_problems,
    param_problems,
)
from loomcore.errors import InputError, RuntimeFailure

ATTENTION_NAME = "loomctl_sparse_prefill"  # the AttentionInterface key this module registers


def _multiple_of_16(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 16 or value % 16:
        return f"must be a multiple of 16 (FlexAttention tiles), got {value!r}"
    return None


def _fraction_up_to_one(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        return f"must be a number in (0, 1], got {value!r}"
    return None


def _at_least_zero(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return f"must be a number >= 0, got {value!r}"
    return None


METHOD_PARAMS: dict[str, dict[str, Param]] = {
    "vertical_slash": {
        "block_size": Param(_multiple_of_16, "FlexAttention's block size in tokens (its default: 128)"),
        "last_q": Param(int_at_least(1), "how many last prompt queries estimate the pattern (MInference: 64)"),
        "sink_tokens": Param(int_at_least(0), "the first key columns always attended (MInference: 30)"),
        "vertical_size": Param(int_at_least(0), "further key columns kept per head, by estimated attention"),
        "local_window": Param(int_at_least(1), "the diagonals next to the main one always attended, itself "
                                               "included (MInference: 100)"),
        "slash_size": Param(int_at_least(0), "further diagonals kept per head, by estimated attention"),
    },
    "flexprefill": {
        "block_size": Param(_multiple_of_16, "FlexAttention's block size and FlexPrefill's block (upstream: 128)"),
        "gamma": Param(_fraction_up_to_one, "the attention share the kept blocks must cover (upstream: 0.9)"),
        "tau": Param(_at_least_zero, "the divergence below which a head is query-aware (upstream: 0.1; 0: "
                                     "none is)"),
        "min_budget": Param(int_at_least(0), "the fewest tokens' worth of vertical and of slash blocks "
                                             "per head (upstream: 1024)"),
    },
}
# FlexAttention ships with torch; a setting may pin torch, checked like any other pin.
METHOD_LIBRARIES: dict[str, tuple[str, ...]] = {"vertical_slash": (), "flexprefill": ()}


def check_spec(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The setting's params, once every problem with method, params and library is ruled out."""
    method = spec.get("method")
    if method not in METHOD_PARAMS:
        raise InputError(f"{where}/acceleration/method: {method!r} is not a sparse attention method — use one of "
                         f"{', '.join(METHOD_PARAMS)}")
    label = f"sparse_attention/{method}"
    problems = param_problems(spec, METHOD_PARAMS[method], where, label)
    problems += library_problems(spec, METHOD_LIBRARIES[method], where, label)
    if problems:
        raise InputError(*problems)
    return spec.get("params") or {}


@dataclass(frozen=True)
class Lines:
    """One layer's vertical-slash pattern: per head, which key columns and which diagonal offsets are
    attended (bool, heads x padded length)."""

    columns: Any
    offsets: Any


def vertical_slash_lines(query, key, scaling: float, params: dict[str, Any], padded: int) -> Lines:
    """The pattern each head's last ``last_q`` queries point to (query, key: 1 x heads x length x dim,
    key already repeated to the query heads)."""
    import torch

    length = query.shape[2]
    heads = query.shape[1]
    last = min(params["last_q"], length)
    positions = torch.arange(length - last, length, device=query.device)
    keys = torch.arange(length, device=query.device)
    scores = (query[0, :, -last:].float() @ key[0].float().transpose(-1, -2)) * scaling  # heads x last x length
    offset = positions[:, None] - keys[None, :]  # last x length: query position - key position
    weights = torch.softmax(scores.masked_fill(offset < 0, float("-inf")), dim=-1)

    columns = torch.zeros(heads, padded, dtype=torch.bool, device=query.device)
    columns[:, :min(params["sink_tokens"], length)] = True
    column_score = weights.sum(1).masked_fill(columns[:, :length], float("-inf"))
    extra = min(params["vertical_size"], length - min(params["sink_tokens"], length))
    if extra:
        columns.scatter_(1, column_score.topk(extra, dim=-1).indices, True)

    offsets = torch.zeros(heads, padded, dtype=torch.bool, device=query.device)
    offsets[:, :min(params["local_window"], length)] = True
    slash_score = torch.zeros(heads, length, device=query.device)
    slash_score.scatter_add_(1, offset.clamp(min=0).flatten().expand(heads, -1),
                             weights.masked_fill(offset < 0, 0).flatten(1))
    slash_score = slash_score.masked_fill(offsets[:, :length], float("-inf"))
    extra = min(params["slash_size"], length - min(params["local_window"], length))
    if extra:
        offsets.scatter_(1, slash_score.topk(extra, dim=-1).indices, True)
    return Lines(columns, offsets)


def block_mask_of(lines: Lines, length: int, block: int):
    """FlexAttention's BlockMask for ``lines``: a (query block, key block) pair is visited when a line
    may cross it — a column inside the key block, or an offset within one block of the blocks'
    distance — and masked token by token there."""
    import torch

    columns, offsets = lines.columns, lines.offsets
    heads, padded = columns.shape
    blocks = padded // block
    column_blocks = columns.view(heads, blocks, block).any(-1)  # heads x key block
    # offsets q - k between two tokens of blocks m apart lie in [(m - 1) * block + 1, (m + 1) * block - 1]
    counts = torch.nn.functional.pad(offsets.int().cumsum(-1), (1, 0))
    distance = torch.arange(blocks, device=columns.device)
    low = ((distance - 1) * block + 1).clamp(min=0)
    high = ((distance + 1) * block).clamp(max=padded)
    slash_blocks = (counts[:, high] - counts[:, low]) > 0  # heads x block distance
    query_block, key_block = distance[:, None], distance[None, :]
    visited = (key_block <= query_block) & (column_blocks[:, None, :]
                                            | slash_blocks[:, (query_block - key_block).clamp(min=0)])

    def mask_mod(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & (columns[h, kv_idx] | offsets[h, (q_idx - kv_idx).clamp(min=0)])

    return visited_block_mask(visited, length, block, mask_mod)


def visited_block_mask(visited, length: int, block: int, mask_mod=None):
    """FlexAttention's BlockMask visiting the (query block, key block) pairs of ``visited`` (heads x
    blocks x blocks, within the causal triangle), masked there by ``mask_mod`` (default: causal inside
    the visited blocks), and the visited share of the causal blocks. The mask_mod alone must give the
    pattern: FlexAttention's eager mode (CPU) applies it to every pair and skips no block."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    heads, blocks, _ = visited.shape
    kv_num_blocks = visited.sum(-1, dtype=torch.int32)
    kv_indices = torch.argsort((~visited).to(torch.int8), dim=-1, stable=True).to(torch.int32)

    def causal_in_visited(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & visited[h, q_idx // block, kv_idx // block]

    mask = BlockMask.from_kv_blocks(kv_num_blocks[None], kv_indices[None], BLOCK_SIZE=block,
                                    mask_mod=mask_mod or causal_in_visited, seq_lengths=(length, length))
    causal_blocks = heads * blocks * (blocks + 1) // 2
    return mask, float(visited.sum()) / causal_blocks


def _cover(scores, share: float):
    """Per row, how many of the highest scores it takes to reach ``share`` of the total (upstream's
    ``score_cover_topk``: the count whose running sum stays within the share, plus one)."""
    import torch

    running = torch.sort(scores, dim=-1, descending=True).values.cumsum(-1)
    return (running <= share).sum(-1) + 1


def _top_blocks(scores, counts):
    """Per head, the ``counts[h]`` highest of ``scores[h]`` (heads x n) as a bool mask."""
    import torch

    order = scores.argsort(dim=-1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(scores.shape[-1], device=scores.device).expand_as(order))
    return rank < counts[:, None]


def _block_means(x, block: int, blocks: int):
    """heads x length x dim -> heads x blocks x dim: the mean of each block's rows (the last block over
    the rows it has)."""
    import torch

    heads, length, dim = x.shape
    padded = torch.nn.functional.pad(x, (0, 0, 0, blocks * block - length))
    sums = padded.view(heads, blocks, block, dim).sum(2)
    sizes = torch.full((blocks,), block, device=x.device, dtype=x.dtype)
    sizes[-1] = length - (blocks - 1) * block
    return sums / sizes[None, :, None]


def flexprefill_blocks(query, key, scaling: float, params: dict[str, Any]):
    """FlexPrefill's visited blocks (heads x blocks x blocks) and which heads are query-aware (query,
    key: 1 x heads x length x dim, key already repeated to the query heads). See the module docstring."""
    import torch

    block, gamma = params["block_size"], params["gamma"]
    heads, length = query.shape[1], query.shape[2]
    blocks = -(-length // block)
    q, k = query[0].float(), key[0].float()
    last = min(block, length)
    positions = torch.arange(length - last, length, device=q.device)
    offset = positions[:, None] - torch.arange(length, device=q.device)[None, :]  # last x length
    scores = (q[:, -last:] @ k.transpose(-1, -2)) * scaling
    weights = torch.softmax(scores.masked_fill(offset < 0, float("-inf")), dim=-1)  # heads x last x length
    vertical = weights.mean(1)
    slash = torch.zeros(heads, length, device=q.device).scatter_add_(
        1, offset.clamp(min=0).flatten().expand(heads, -1), weights.masked_fill(offset < 0, 0).flatten(1)) / last

    # at least one block each: key block 0 and the diagonal blocks, so no query row is left empty
    floor = min(max(-(-params["min_budget"] // block), 1), blocks)
    n_vertical = (_cover(vertical, gamma) // block + 1).clamp(min=floor, max=blocks)
    n_slash = (_cover(slash, gamma) // block + 1).clamp(min=floor, max=blocks)
    pad = (0, blocks * block - length)
    vertical_blocks = torch.nn.functional.pad(vertical, pad).view(heads, blocks, block).sum(-1)
    slash_blocks = torch.nn.functional.pad(slash, pad).view(heads, blocks, block).sum(-1)

    key_means = _block_means(k, block, blocks)
    estimate = torch.softmax((q[:, -last:].mean(1, keepdim=True) @ key_means.transpose(-1, -2))[:, 0] * scaling, -1)
    middle = (estimate + vertical_blocks) / 2
    divergence = (0.5 * torch.special.xlogy(estimate, estimate / middle).sum(-1)
                  + 0.5 * torch.special.xlogy(vertical_blocks, vertical_blocks / middle).sum(-1)).clamp(min=0).sqrt()
    query_aware = divergence < params["tau"]
    n_vertical[query_aware] = floor
    n_slash[query_aware] = floor

    vertical_blocks[:, 0] = float("inf")
    slash_blocks[:, 0] = float("inf")
    columns = _top_blocks(vertical_blocks, n_vertical)  # heads x key block
    distances = _top_blocks(slash_blocks, n_slash)  # heads x block distance
    distance = torch.arange(blocks, device=q.device)
    causal = distance[None, :] <= distance[:, None]  # query block x key block
    visited = causal & (columns[:, None, :] | distances[:, (distance[:, None] - distance[None, :]).clamp(min=0)])

    if query_aware.any():
        query_means = _block_means(q, block, blocks)
        block_scores = (query_means @ key_means.transpose(-1, -2)) * scaling
        block_attention = torch.softmax(block_scores.masked_fill(~causal, float("-inf")), dim=-1).flatten(1)
        order = block_attention.argsort(dim=-1, descending=True, stable=True)
        running = block_attention.gather(1, order).cumsum(-1)
        chosen = torch.zeros_like(block_attention, dtype=torch.bool)
        chosen.scatter_(1, order, running <= gamma * blocks)
        visited |= chosen.view(heads, blocks, blocks) & query_aware[:, None, None]
    return visited, query_aware


class SparsePrefill:
    """One task's sparse prefill method, applied by the transformers engine to one prompt at a time."""

    def __init__(self, spec: dict[str, Any], model, where: str = "engine") -> None:
        import torch
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

        self.params = check_spec(spec, where)
        self.name = spec["method"]
        if not getattr(model, "_supports_attention_backend", False):
            raise InputError(f"{where}/acceleration/method: {type(model).__name__} does not dispatch attention through "
                             "transformers' AttentionInterface, so a sparse prefill cannot be set on it — evaluate "
                             "it without sparse attention")
        from torch.nn.attention.flex_attention import flex_attention

        self.compiled = model.device.type == "cuda"
        # dynamic shapes after the first recompile: every prompt has its own length
        self.flex_attention = torch.compile(flex_attention) if self.compiled else flex_attention
        self.densities: list[float] = []  # visited share of causal blocks, per layer, last prefill
        self.query_aware: list[int] = []  # flexprefill: query-aware heads, per layer, last prefill
        AttentionInterface.register(ATTENTION_NAME, self.attention)
        # The causal/padding mask for decoding steps is built as for SDPA, which decoding uses.
        AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)

    def versions(self) -> dict[str, str]:
        return {"acceleration": f"sparse_attention/{self.name}", "torch": installed_version("torch") or "",
                "flex_attention": "compiled" if self.compiled else "eager", "acceleration_batch_size": "1"}

    def attention(self, module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
        """The AttentionInterface function: sparse over a whole-prompt prefill, SDPA otherwise."""
        import warnings

        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        length = query.shape[2]
        if length == 1 or key.shape[2] != length:
            return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                          scaling=scaling, **kwargs)
        if query.shape[0] != 1:
            raise RuntimeFailure("engine: a sparse prefill got a batch of several prompts — it runs one at a time")
        scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
        groups = query.shape[1] // key.shape[1]
        block = self.params["block_size"]
        padded = -(-length // block) * block
        repeated = key.repeat_interleave(groups, dim=1)
        if self.name == "flexprefill":
            visited, query_aware = flexprefill_blocks(query, repeated, scaling, self.params)
            mask, density = visited_block_mask(visited, length, block)
            self.query_aware.append(int(query_aware.sum()))
        else:
            mask, density = block_mask_of(vertical_slash_lines(query, repeated, scaling, self.params, padded),
                                          length, block)
        self.densities.append(density)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")
            out = self.flex_attention(query, key, value, block_mask=mask, scale=scaling, enable_gqa=groups > 1)
        return out.transpose(1, 2).contiguous(), None

    def generate(self, model, ids, **generate_kwargs) -> list[int]:
        """New token ids for one prompt (``ids``: 1 x length, no padding)."""
        import torch

        original = model.config._attn_implementation
        self.densities, self.query_aware = [], []
        model.set_attn_implementation(ATTENTION_NAME)
        try:
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **generate_kwargs)
        finally:
            model.set_attn_implementation(original)
        return out[0, ids.shape[1]:].tolist()
