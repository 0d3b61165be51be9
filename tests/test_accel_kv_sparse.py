"""KV-cache compression (harness.accel.kv_cache, through kvpress) and sparse prefill attention
(harness.accel.sparse, through FlexAttention) on the shipped tiny model: cache sizes after prefill,
agreement with the full cache and with dense attention, a needle lost to a small StreamingLLM cache,
the transformers engine's handling of a method, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.accel import kv_cache, record_label, sparse
from harness.engines import Request
from harness.prompts import PromptBuilder
from loomcore.errors import InputError
from loomcore.taskspec import Acceleration
from loomcore.tokenizer import ModelTokenizer
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import load_samples, loomctl, small_manifest

torch = pytest.importorskip("torch")
pytest.importorskip("kvpress")

KVPRESS = kv_cache.installed_version("kvpress")
TAIL = 32  # the NIAH question and answer prefix are 27 tokens of this model's tokenizer
GREEDY = {"max_new_tokens": 10, "do_sample": False, "pad_token_id": 0, "eos_token_id": 0}
OWN_PARAMS = {"streaming_llm": {"n_sink": 4}, "snapkv": {"window_size": 32, "kernel_size": 5}, "h2o": {},
              "pyramidkv": {"window_size": 64, "kernel_size": 5, "beta": 20}}
COVERING = {"block_size": 64, "last_q": 64, "sink_tokens": 0, "vertical_size": 0, "local_window": 8192,
            "slash_size": 0}


def kv_spec(method: str, **params) -> dict:
    return {"kind": "kv_cache", "method": method, "params": {**OWN_PARAMS[method], **params},
            "library": {"kvpress": KVPRESS}}


FLEX = {"block_size": 64, "gamma": 1.0, "tau": 0.0, "min_budget": 8192}  # covering: every block


def flex_spec(**params) -> dict:
    return {"kind": "sparse_attention", "method": "flexprefill", "params": {**FLEX, **params}}


def sparse_spec(**params) -> dict:
    return {"kind": "sparse_attention", "method": "vertical_slash", "params": {**COVERING, **params}}


@pytest.fixture(scope="module")
def model():
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def niah() -> tuple[dict, list[int]]:
    """One NIAH sample of the lite manifest's generator, 2,048 tokens, needle at depth 0.5, rendered
    with templates/niah.j2: (sample, prompt token ids)."""
    tokenizer = ModelTokenizer(SHIPPED_MODEL)
    lite = json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())
    task = next(t for b in lite["benchmarks"] for t in b["tasks"] if t["id"] == "niah")
    spec = {**task["dataset"], "sha256": None,
            "params": {**task["dataset"]["params"], "lengths": [2048], "depths": [0.5], "samples_per_cell": 1}}
    [sample] = load_samples(spec, ROOT / "manifests", lambda: tokenizer)
    builder = PromptBuilder(template=(ROOT / "manifests" / "templates" / "niah.j2").read_text(), tokenizer=tokenizer,
                            policy="middle", budget_tokens=8192, max_new_tokens=16)
    return sample, tokenizer.encode(builder.build(sample)["text"])


@pytest.fixture(scope="module")
def full_cache_answer(model, niah) -> list[int]:
    ids = torch.tensor([niah[1]])
    with torch.inference_mode():
        return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **GREEDY)[0, ids.shape[1]:].tolist()


def text(ids: list[int]) -> str:
    """The answer up to end-of-sequence (id 0, this model's eos and pad)."""
    return ModelTokenizer(SHIPPED_MODEL).decode(ids[:ids.index(0)] if 0 in ids else ids)


def run(method, model, ids: list[int]) -> list[int]:
    with torch.inference_mode():
        return method.generate(model, torch.tensor([ids]), **GREEDY)


# --- settings and refusals -------------------------------------------------------------------------------


def test_refusals_name_the_field_and_the_fix():
    with pytest.raises(InputError, match="t1/acceleration/method: 'quest' is not a KV-cache method — use one of "
                                         "streaming_llm, snapkv, h2o, pyramidkv"):
        kv_cache.check_spec({"kind": "kv_cache", "method": "quest", "params": {}}, "t1")
    with pytest.raises(InputError) as bad:
        kv_cache.check_spec({"kind": "kv_cache", "method": "snapkv", "library": {"kvpress": KVPRESS},
                             "params": {"compression_ratio": 1.0, "kept_tokens": 8, "window_size": 32,
                                        "uncompressed_tail_tokens": 0, "pool": "max"}}, "t1")
    assert bad.value.problems == [
        "t1/acceleration/params/pool: not a parameter of kv_cache/snapkv — its parameters are compression_ratio, "
        "kept_tokens, uncompressed_tail_tokens, window_size, kernel_size",
        "t1/acceleration/params/compression_ratio: must be a number in [0, 1), got 1.0 — set the fraction of "
        "prefilled cache entries removed, e.g. 0.5 (or kept_tokens instead)",
        "t1/acceleration/params/kernel_size: required (no value is filled in, so the manifest pins them all) — set "
        "the width of the average pooling over key scores, odd (kvpress: 5)",
        "t1/acceleration/params: kv_cache/snapkv takes exactly one budget, got compression_ratio and kept_tokens — "
        "set compression_ratio or kept_tokens"]
    pinned = kv_spec("streaming_llm", kept_tokens=64, uncompressed_tail_tokens=0)
    with pytest.raises(InputError, match=f"t1/acceleration/library/kvpress: the manifest pins 0.0.1, {KVPRESS} is "
                                         f"installed — install kvpress==0.0.1, or re-pin"):
        kv_cache.check_spec({**pinned, "library": {"kvpress": "0.0.1"}}, "t1")
    with pytest.raises(InputError, match=f'library/kvpress: required for kv_cache/streaming_llm — pin the version it '
                                         f'runs with \\("{KVPRESS}" is installed\\)'):
        kv_cache.check_spec({**pinned, "library": {}}, "t1")
    assert kv_cache.check_spec(pinned, "t1") == pinned["params"]

    with pytest.raises(InputError, match="t2/acceleration/method: 'flex_prefill' is not a sparse attention method "
                                         "— use one of vertical_slash, flexprefill"):
        sparse.check_spec({"kind": "sparse_attention", "method": "flex_prefill"}, "t2")
    with pytest.raises(InputError, match="t2/acceleration/params/block_size: must be a multiple of 16 "
                                         "\\(FlexAttention tiles\\), got 100"):
        sparse.check_spec(sparse_spec(block_size=100), "t2")
    with pytest.raises(InputError, match="t2/acceleration/library/torch: the manifest pins 1.0"):
        sparse.check_spec({**sparse_spec(), "library": {"torch": "1.0"}}, "t2")
    with pytest.raises(InputError) as bad:
        sparse.check_spec(flex_spec(gamma=1.5, tau=-1), "t2")
    assert bad.value.problems == [
        "t2/acceleration/params/gamma: must be a number in (0, 1], got 1.5 — set the attention share the kept "
        "blocks must cover (upstream: 0.9)",
        "t2/acceleration/params/tau: must be a number >= 0, got -1 — set the divergence below which a head is "
        "query-aware (upstream: 0.1; 0: none is)"]


def test_modules_import_no_torch_transformers_or_kvpress_until_used():
    code = ("import sys, harness.accel.kv_cache, harness.accel.sparse; "
            "print(sorted(m for m in ('torch', 'transformers', 'kvpress') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() == "[]"


def test_kept_tokens_become_a_ratio_that_keeps_exactly_that_many():
    # kvpress keeps int(n * (1 - r)) entries (PyramidKV's fallback: round(...)); 1 - r = 64.25 / 2047
    for n in (65, 1000, 2047, 8191):
        r = kv_cache.press_ratio({"kept_tokens": 64}, n)
        assert int(n * (1 - r)) == 64 and round(n * (1 - r)) == 64
    assert kv_cache.press_ratio({"kept_tokens": 64}, 64) == 0.0  # nothing to evict
    assert kv_cache.press_ratio({"compression_ratio": 0.25}, 2047) == 0.25


def test_a_model_kvpress_does_not_support_is_refused():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=64))
    with pytest.raises(InputError, match="t1/acceleration/method: kvpress does not support GPT2LMHeadModel \\(it "
                                         "supports LlamaForCausalLM, .*\\) — evaluate this model without"):
        kv_cache.KVCacheCompression(kv_spec("snapkv", kept_tokens=64, uncompressed_tail_tokens=0), gpt2, "t1")


# --- KV-cache compression ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(kv_cache.METHODS))
def test_each_method_compresses_the_prefill_to_its_budget(method, model, niah):
    press = kv_cache.KVCacheCompression(kv_spec(method, kept_tokens=64, uncompressed_tail_tokens=TAIL), model)
    run(press, model, niah[1])
    assert press.prefill_cache_lengths == [64, 64, 64]  # per layer, out of len(prompt) - 32 = 2,047 prefilled
    assert len(niah[1]) - TAIL > 2000


def test_pyramidkv_budgets_fall_from_the_first_layer_to_the_last(model, niah):
    press = kv_cache.KVCacheCompression(kv_spec("pyramidkv", compression_ratio=0.5, uncompressed_tail_tokens=0),
                                        model)
    run(press, model, niah[1])
    n = len(niah[1])
    # PyramidKV's budgets (kvpress's get_layer_budget, window w = 64, beta 20): room = n * 0.5 above the
    # window; first layer max = min(2 * room - room / 20, n - w) = n - w, last layer 2 * room - max = w,
    # the middle one halfway: the three keep n * 1.5 entries in all, half of 3 * n.
    assert press.prefill_cache_lengths == [n - 64, round((n - 64 + 64) / 2), 64]


@pytest.mark.parametrize(("method", "budget", "tail"), [("streaming_llm", {"kept_tokens": 4096}, TAIL),
                                                        ("snapkv", {"compression_ratio": 0.0}, TAIL),
                                                        ("h2o", {"kept_tokens": 4096}, 1),
                                                        ("pyramidkv", {"compression_ratio": 0.0}, 0)])
def test_a_budget_that_keeps_everything_gives_the_full_cache_answer(method, budget, tail, model, niah,
                                                                    full_cache_answer):
    """With a tail, the prompt is prefilled in two parts and generation continues from the cache: the
    positions and masks must still make it the one-pass answer, token for token."""
    press = kv_cache.KVCacheCompression(kv_spec(method, **budget, uncompressed_tail_tokens=tail), model)
    assert run(press, model, niah[1]) == full_cache_answer
    assert press.prefill_cache_lengths == [len(niah[1]) - tail] * 3


def test_a_64_token_streaming_cache_loses_the_needle_snapkv_keeps_it(model, niah, full_cache_answer):
    """Streaming keeps the 4 sinks and the last 60 context tokens: not a digit of the needle. SnapKV keeps the
    64 entries attention chooses: the needle's digits. The lite-mix model (retrained for issue 20) then gets the
    first five of the seven digits right and the last two wrong — at 64, 128, 256 and 512 entries alike
    (measured) — so the test asserts the retrieved prefix, where the previous model gave all seven."""
    sample, ids = niah
    needle = sample["answers"][0] if isinstance(sample["answers"], list) else sample["answers"]
    assert text(full_cache_answer).strip() == needle  # the full cache finds it, 1,000 tokens deep
    streaming = kv_cache.KVCacheCompression(kv_spec("streaming_llm", kept_tokens=64, uncompressed_tail_tokens=TAIL),
                                            model)
    lost = text(run(streaming, model, ids))
    assert needle not in lost and lost.strip()[:2] != needle[:2]  # 4 sinks + the last 60 context tokens: no needle
    snapkv = kv_cache.KVCacheCompression(kv_spec("snapkv", kept_tokens=64, uncompressed_tail_tokens=TAIL), model)
    assert text(run(snapkv, model, ids)).strip()[:5] == needle[:5]  # the same 64 entries, chosen by attention


# --- sparse prefill attention ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_the_block_mask_visits_every_block_a_line_crosses():
    """FlexAttention through the block mask equals attention with the token mask the lines define."""
    torch.manual_seed(0)
    heads, length, dim, block = 2, 200, 16, 16
    padded = 208
    columns = torch.rand(heads, padded) < 0.05
    offsets = torch.rand(heads, padded) < 0.05
    offsets[:, 0] = True  # every query sees itself
    lines = sparse.Lines(columns, offsets)
    q, k, v = (torch.randn(1, heads, length, dim) for _ in range(3))
    mask, density = sparse.block_mask_of(lines, length, block)
    from torch.nn.attention.flex_attention import flex_attention

    got = flex_attention(q, k, v, block_mask=mask)
    pos = torch.arange(length)
    token_mask = (pos[:, None] >= pos[None, :]) & (columns[:, None, :length]
                                                   | offsets[:, (pos[:, None] - pos[None, :]).clamp(min=0)])
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=token_mask[None])
    assert torch.allclose(got, expected, atol=1e-5)
    assert 0 < density < 1


def test_a_visited_block_mask_is_causal_attention_inside_the_visited_blocks():
    """FlexPrefill's mask: attention restricted to the visited (query block, key block) pairs, causal."""
    torch.manual_seed(0)
    heads, length, dim, block = 2, 200, 16, 16
    blocks = 13
    visited = (torch.rand(heads, blocks, blocks) < 0.3).tril() | torch.eye(blocks, dtype=torch.bool)
    q, k, v = (torch.randn(1, heads, length, dim) for _ in range(3))
    mask, density = sparse.visited_block_mask(visited, length, block)
    from torch.nn.attention.flex_attention import flex_attention

    got = flex_attention(q, k, v, block_mask=mask)
    pos = torch.arange(length)
    token_mask = (pos[:, None] >= pos[None, :]) & visited[:, pos[:, None] // block, pos[None, :] // block]
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=token_mask[None])
    assert torch.allclose(got, expected, atol=1e-5)
    assert density == pytest.approx(float(visited.sum()) / (heads * blocks * (blocks + 1) // 2))


def test_vertical_slash_lines_follow_the_attention_of_the_last_queries():
    """A key every query attends to is a vertical line; queries that attend 13 tokens back make a slash."""
    torch.manual_seed(0)
    length, dim = 160, 64
    k = torch.nn.functional.normalize(torch.randn(1, 1, length, dim), dim=-1)
    q = torch.zeros(1, 1, length, dim)
    q[0, 0, 13:] = 8 * k[0, 0, :-13]  # query i looks for key i - 13
    q[0, 0, :] += 6 * k[0, 0, 77]  # and every query also for key 77
    params = {"last_q": 16, "sink_tokens": 2, "vertical_size": 1, "local_window": 3, "slash_size": 1}
    lines = sparse.vertical_slash_lines(q, k, 1.0, params, 160)
    assert torch.nonzero(lines.columns[0]).flatten().tolist() == [0, 1, 77]  # 2 sinks + the attended column
    assert torch.nonzero(lines.offsets[0]).flatten().tolist() == [0, 1, 2, 13]  # window of 3 + the attended slash


def attending_qk(length: int = 160, dim: int = 64):
    """Queries that look, all of them, at key 77 (most) and 40 tokens back (1 head)."""
    torch.manual_seed(0)
    k = torch.nn.functional.normalize(torch.randn(1, 1, length, dim), dim=-1)
    q = torch.zeros(1, 1, length, dim)
    q[0, 0, 40:] = 6 * k[0, 0, :-40]
    q[0, 0, :] += 8 * k[0, 0, 77]
    return q, k


def test_flexprefill_keeps_the_column_and_the_diagonal_the_last_queries_attend():
    """10 blocks of 16. The last block's queries (144-159) put about 0.88 of their attention on key 77
    (key block 4; offsets 67-82, mostly block distance 4) and the rest 40 back (keys 104-119, blocks
    6-7; distance 2). gamma 0.9 is covered by a handful of tokens (one block), so min_budget (48
    tokens: 3 blocks) decides: key block 0 (always) + block 4 + one of 6, 7; distance 0 (always) +
    distance 4 + one more. Nothing is query-aware at tau 0."""
    q, k = attending_qk()
    visited, query_aware = sparse.flexprefill_blocks(q, k, 1.0, {"block_size": 16, "gamma": 0.9, "tau": 0.0,
                                                                 "min_budget": 48})
    rows = torch.arange(10)
    assert not query_aware.any()
    assert visited[0, 4:, 4].all() and visited[0, :, 0].all()  # the columns, below the diagonal
    assert visited[0, rows[4:], rows[4:] - 4].all() and visited[0, rows, rows].all()  # the diagonals
    assert not visited[0].triu(1).any()  # never above the causal diagonal
    assert 0 < visited.sum() < 55  # of the 10 * 11 / 2 causal blocks


def test_flexprefill_query_aware_heads_add_the_blocks_their_block_means_attend():
    """Over tau every head is query-aware (sqrt JSD <= sqrt(ln 2) < 1): its vertical and slash blocks
    fall to the min_budget floor (key block 0, the diagonal) and each query block gets the key blocks
    its mean query attends most, the fewest covering gamma of all rows' attention."""
    q, k = attending_qk()
    params = {"block_size": 16, "gamma": 0.5, "tau": 1.0, "min_budget": 0}
    visited, query_aware = sparse.flexprefill_blocks(q, k, 1.0, params)
    assert query_aware.all()
    block_means_q = q[0, 0].view(10, 16, 64).mean(1)
    block_means_k = k[0, 0].view(10, 16, 64).mean(1)
    causal = torch.ones(10, 10, dtype=torch.bool).tril()
    attention = torch.softmax((block_means_q @ block_means_k.T).masked_fill(~causal, float("-inf")), -1)
    ranked = attention.flatten().sort(descending=True)
    kept = ranked.indices[ranked.values.cumsum(0) <= 0.5 * 10]
    expected = torch.zeros(100, dtype=torch.bool)
    expected[kept] = True
    expected = expected.view(10, 10) | torch.eye(10, dtype=torch.bool)
    expected[:, 0] = True
    assert torch.equal(visited[0], expected)


def test_flexprefill_covering_is_dense_and_a_small_budget_skips_blocks(model, niah):
    method = sparse.SparsePrefill(flex_spec(), model)
    flex = prefill_logits(model, niah[1], sparse.ATTENTION_NAME)
    dense = prefill_logits(model, niah[1], "sdpa")
    assert method.densities == [1.0, 1.0, 1.0] and method.query_aware == [0, 0, 0]
    assert torch.allclose(flex, dense, atol=1e-4)
    method = sparse.SparsePrefill(flex_spec(gamma=0.05, min_budget=0, tau=0.0), model)
    lossy = prefill_logits(model, niah[1], sparse.ATTENTION_NAME)
    assert len(method.densities) == 3 and all(0 < d < 1 for d in method.densities)
    assert (lossy - dense).abs().max() > 1e-3  # some positions lose keys they attended


def prefill_logits(model, ids: list[int], attention: str):
    with torch.inference_mode():
        model.set_attn_implementation(attention)
        try:
            return model(torch.tensor([ids])).logits[0]
        finally:
            model.set_attn_implementation("sdpa")


def test_a_covering_pattern_is_dense_attention(model, niah):
    method = sparse.SparsePrefill(sparse_spec(), model)
    flex = prefill_logits(model, niah[1], sparse.ATTENTION_NAME)
    dense = prefill_logits(model, niah[1], "sdpa")
    assert method.densities == [1.0, 1.0, 1.0]
    assert torch.allclose(flex, dense, atol=1e-4)  # at every one of the 2,079 positions
    assert torch.equal(flex.argmax(-1), dense.argmax(-1))


def test_a_sink_and_window_pattern_skips_blocks_and_changes_the_prefill(model, niah):
    method = sparse.SparsePrefill(sparse_spec(sink_tokens=4, local_window=64), model)
    ids = niah[1][:1000]
    sparse_logits = prefill_logits(model, ids, sparse.ATTENTION_NAME)
    dense = prefill_logits(model, ids, "sdpa")
    # 16 blocks of 64 tokens: query block 0 visits itself, block 1 visits 0 and 1, every later block i
    # visits i, i - 1 (offsets up to 63 reach back one block) and 0 (the sinks): 1 + 2 + 3 * 14 = 45
    # of the 16 * 17 / 2 = 136 causal blocks
    assert method.densities == pytest.approx([45 / 136] * 3)
    assert torch.allclose(sparse_logits[:64], dense[:64], atol=1e-4)  # inside the window nothing is cut
    assert (sparse_logits[-1] - dense[-1]).abs().max() > 0.1


def test_grouped_query_attention_models_work_with_both_kinds():
    """Query heads sharing key heads: the pattern is estimated per query head, the cache is per key head."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    gqa = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, intermediate_size=128)).eval()
    ids = torch.randint(1, 64, (300,)).tolist()
    method = sparse.SparsePrefill(sparse_spec(block_size=32), gqa)
    assert torch.allclose(prefill_logits(gqa, ids, sparse.ATTENTION_NAME), prefill_logits(gqa, ids, "sdpa"),
                          atol=1e-4)
    assert method.densities == [1.0, 1.0]
    sparse.SparsePrefill(sparse_spec(block_size=32, local_window=32, sink_tokens=4, vertical_size=8, slash_size=8), gqa)
    assert prefill_logits(gqa, ids, sparse.ATTENTION_NAME).shape == (300, 64)
    press = kv_cache.KVCacheCompression(kv_spec("snapkv", kept_tokens=64, uncompressed_tail_tokens=0), gqa)
    run(press, gqa, ids)
    assert press.prefill_cache_lengths == [64, 64]  # per layer, for each of the 2 key heads


# --- the engine -------------------------------------------------------------------------------------------


def test_engine_runs_a_method_one_prompt_at_a_time_and_plain_generation_is_unchanged(niah):
    import transformers

    from harness.engines.hf import TransformersEngine

    engine = TransformersEngine({"name": "transformers", "version": transformers.__version__,
                                 "args": {"batch_size": 4}}, {"dtype": "float32"}, str(SHIPPED_MODEL))
    tokenizer = ModelTokenizer(SHIPPED_MODEL)
    sample, ids = niah
    short = tokenizer.decode(ids[:300] + ids[-TAIL:])
    requests = [Request("long", tokenizer.decode(ids), 10), Request("short", short, 10)]
    plain = engine.generate(requests)
    assert engine.versions()["device"] == "cpu" and "acceleration" not in engine.versions()

    engine.set_acceleration(kv_spec("streaming_llm", kept_tokens=64, uncompressed_tail_tokens=TAIL), "t1")
    assert engine.versions()["acceleration"] == "kv_cache/streaming_llm"
    assert engine.versions()["kvpress"] == KVPRESS and engine.versions()["acceleration_batch_size"] == "1"
    compressed = engine.generate(requests)
    assert [o.id for o in compressed] == ["long", "short"]
    assert sample["answers"][0] in plain[0].text and sample["answers"][0] not in compressed[0].text

    engine.set_acceleration(sparse_spec(), "t2")
    assert engine.versions()["flex_attention"] == "eager"
    assert engine.generate(requests) == plain  # a covering pattern: the dense answers, token for token
    assert engine.model.config._attn_implementation == "sdpa"  # restored after each generation
    engine.set_acceleration(None)
    assert engine.generate(requests) == plain  # nothing left behind by either method
    with pytest.raises(InputError, match="t3/acceleration/kind: the transformers engine has no 'rag' methods"):
        engine.set_acceleration({"kind": "rag", "method": "bm25"}, "t3")


def test_loomctl_run_applies_the_method_and_records_it(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single",), lengths=(256,), per_length=2)
    data = json.loads(manifest.read_text())
    spec = kv_spec("snapkv", compression_ratio=0.5, uncompressed_tail_tokens=TAIL)
    data["benchmarks"][0]["tasks"][0]["acceleration"] = spec
    manifest.write_text(json.dumps(data))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "samples" / "niah_single.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["acceleration"] == record_label(Acceleration.from_json(spec, "acceleration")) for r in records)

    data["benchmarks"][0]["tasks"][0]["acceleration"] = {**spec, "library": {"kvpress": "0.0.1"}}
    manifest.write_text(json.dumps(data))
    refused = loomctl("run", str(manifest), "--out", str(tmp_path / "refused"))
    assert refused.returncode == 2
    assert "acceleration/library/kvpress: the manifest pins 0.0.1" in refused.stderr
