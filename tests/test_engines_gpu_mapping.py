"""The vLLM and SGLang engines where no GPU is: manifest -> engine arguments, sampling settings, server
commands, refusals, and the error where the engine is not installed. The smoke tests at the end run the
tiny model through the engines where a CUDA GPU and the engine are present (skipped elsewhere)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from harness.accel import configure_engine
from harness.engines import Request, load_engine
from harness.engines import sglang as sg
from harness.engines import vllm as vl
from harness.engines.options import version_tuple
from harness.prompts import render
from loomcore.errors import InputError, RuntimeFailure
from loomcore.taskspec import Acceleration
from tests.conftest import ROOT, SHIPPED_MODEL

LITE = json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())
MODEL = LITE["model"]  # the shipped tiny model: float32, max_context_tokens 8192, trust_remote_code false
TWO_GPUS = {"kind": "gpu", "model": "H100-80GB", "count": 2}
HAS_VLLM = importlib.util.find_spec("vllm") is not None
HAS_SGLANG = importlib.util.find_spec("sglang") is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# --- vLLM: manifest -> LLM(...) ------------------------------------------------------------------------

def test_vllm_engine_args_carry_every_manifest_field():
    spec = {"name": "vllm", "version": "0.11.2", "args": {
        "batch_size": 16, "batch_invariant": True, "gpu_memory_utilization": 0.85, "enable_prefix_caching": True,
        "enforce_eager": True, "seed": 7, "max_num_seqs": 64, "max_num_batched_tokens": 4096,
        "kv_cache_dtype": "fp8"}}
    assert vl.engine_args(spec, MODEL, "/models/tiny", TWO_GPUS) == {
        "model": "/models/tiny", "tokenizer": "/models/tiny", "dtype": "float32", "max_model_len": 8192,
        "tensor_parallel_size": 2, "generation_config": "vllm", "gpu_memory_utilization": 0.85,
        "enable_prefix_caching": True, "enforce_eager": True, "seed": 7, "max_num_seqs": 64,
        "max_num_batched_tokens": 4096, "kv_cache_dtype": "fp8"}  # batch_size, batch_invariant: not vLLM's


def test_vllm_defaults_are_written_out_and_overrides_win():
    plain = {"name": "vllm", "version": "0.11.0"}
    args = vl.engine_args(plain, MODEL, SHIPPED_MODEL, LITE["accelerator"])
    assert args == {"model": str(SHIPPED_MODEL), "tokenizer": str(SHIPPED_MODEL), "dtype": "float32",
                    "max_model_len": 8192, "tensor_parallel_size": 1, "generation_config": "vllm",
                    "gpu_memory_utilization": 0.9, "enable_prefix_caching": False, "enforce_eager": False,
                    "seed": 0, "max_num_seqs": 256, "max_num_batched_tokens": 8192, "kv_cache_dtype": "auto"}
    override = {**plain, "args": {"tensor_parallel_size": 4, "max_model_len": 4096}}
    args = vl.engine_args(override, MODEL, SHIPPED_MODEL, TWO_GPUS)
    assert (args["tensor_parallel_size"], args["max_model_len"]) == (4, 4096)
    assert "trust_remote_code" not in vl.engine_args(plain, MODEL, SHIPPED_MODEL)
    assert vl.engine_args(plain, {**MODEL, "trust_remote_code": True}, SHIPPED_MODEL)["trust_remote_code"] is True
    no_length = {k: v for k, v in MODEL.items() if k != "max_context_tokens"}
    assert "max_model_len" not in vl.engine_args(plain, no_length, SHIPPED_MODEL)  # vLLM reads config.json


def test_unknown_engine_args_are_refused_naming_the_allowed_ones():
    with pytest.raises(InputError) as err:
        vl.engine_args({"name": "vllm", "version": "0.11.0", "args": {"tensor_parallel": 2, "swap": 4}},
                       MODEL, SHIPPED_MODEL)
    assert [p.split(":")[0] for p in err.value.problems] == ["engine/args/swap", "engine/args/tensor_parallel"]
    assert str(sorted(vl.OPTIONS)) in err.value.problems[1]
    with pytest.raises(InputError) as err:
        sg.engine_args({"name": "sglang", "version": "0.5.4", "args": {"disable_prefix_cache": True}},
                       MODEL, SHIPPED_MODEL)
    assert err.value.problems[0].startswith("engine/args/disable_prefix_cache: the sglang engine has no argument")
    assert "'disable_radix_cache'" in err.value.problems[0]


@pytest.mark.parametrize("key, value, expected", [
    ("seed", "0", "is not an integer"),
    ("enforce_eager", 1, "is not a boolean"),
    ("gpu_memory_utilization", True, "is not a number"),
    ("kv_cache_dtype", 8, "is not a string"),
])
def test_engine_args_of_the_wrong_json_type_are_refused(key, value, expected):
    with pytest.raises(InputError, match=f"engine/args/{key}: .* {expected}"):
        vl.engine_args({"name": "vllm", "version": "0.11.0", "args": {key: value}}, MODEL, SHIPPED_MODEL)


def test_an_integer_is_a_valid_number():
    spec = {"name": "vllm", "version": "0.11.0", "args": {"gpu_memory_utilization": 1}}
    assert vl.engine_args(spec, MODEL, SHIPPED_MODEL)["gpu_memory_utilization"] == 1


def test_versions_below_the_supported_floor_are_refused():
    with pytest.raises(InputError, match="pins vllm 0.10.2; this harness supports vllm >= 0.11.0"):
        vl.engine_args({"name": "vllm", "version": "0.10.2"}, MODEL, SHIPPED_MODEL)
    with pytest.raises(InputError, match="pins sglang 0.5.2; this harness supports sglang >= 0.5.4"):
        sg.engine_args({"name": "sglang", "version": "0.5.2"}, MODEL, SHIPPED_MODEL)
    # batch invariance came in vLLM 0.11.1, and server mode turns it on by default
    with pytest.raises(InputError, match="engine/args/batch_invariant: vLLM 0.11.0 has no batch-invariant mode"):
        vl.engine_args({"name": "vllm", "version": "0.11.0", "args": {"batch_invariant": True}}, MODEL, SHIPPED_MODEL)
    with pytest.raises(InputError, match="engine/args/batch_invariant"):
        vl.server_command(SHIPPED_MODEL, 8000, {"name": "vllm", "version": "0.11.0"})
    assert version_tuple("0.11.1rc2.dev5+g1234") == (0, 11, 1)
    assert version_tuple("0.5.4.post1") == (0, 5, 4)


def test_vllm_environment_makes_offline_scheduling_single_process_and_server_batch_invariant():
    offline = vl.environment({"name": "vllm", "version": "0.11.1"})
    assert offline == {"VLLM_BATCH_INVARIANT": "0", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
                       "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    server = vl.environment({"name": "vllm", "version": "0.11.1", "mode": "server"})
    assert server == {"VLLM_BATCH_INVARIANT": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    chosen = vl.environment({"name": "vllm", "version": "0.11.1", "args": {"batch_invariant": True}})
    assert chosen["VLLM_BATCH_INVARIANT"] == "1"


# --- sampling -----------------------------------------------------------------------------------------

def test_vllm_sampling_is_greedy_at_temperature_zero_with_every_value_written_out():
    request = Request("s1", "prompt", 32, ("\n", "Question:"), temperature=0.0, top_p=0.9, seed=3)
    assert vl.sampling_params(request) == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0, "repetition_penalty": 1.0, "seed": 3, "max_tokens": 32, "min_tokens": 0,
        "stop": ["\n", "Question:"], "include_stop_str_in_output": False, "ignore_eos": False,
        "skip_special_tokens": True, "spaces_between_special_tokens": True}
    sampled = vl.sampling_params(Request("s2", "prompt", 8, temperature=0.7, top_p=0.9, seed=5))
    assert (sampled["temperature"], sampled["top_p"], sampled["seed"], sampled["stop"]) == (0.7, 0.9, 5, [])


def test_sglang_sampling_never_leaves_a_key_to_sglang_defaults():
    greedy = sg.sampling_params(Request("s1", "prompt", 16, ("\n",)))
    assert greedy == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0, "repetition_penalty": 1.0, "max_new_tokens": 16, "min_new_tokens": 0,
        "stop": ["\n"], "no_stop_trim": False, "ignore_eos": False, "skip_special_tokens": True,
        "spaces_between_special_tokens": True}  # SGLang's own defaults: temperature 1.0, 128 new tokens
    sampled = sg.sampling_params(Request("s2", "prompt", 16, temperature=0.6, top_p=0.95, seed=11))
    assert (sampled["temperature"], sampled["top_p"], sampled["sampling_seed"]) == (0.6, 0.95, 11)


def test_finish_reasons_map_to_stop_eos_and_length():
    assert vl.finish_reason("stop", "\n") == "stop"  # a matched stop string
    assert vl.finish_reason("stop", None) == "eos"  # the tokenizer's end of sequence
    assert vl.finish_reason("stop", 0) == "eos"  # an end-of-sequence id from generation_config.json
    assert vl.finish_reason("length", None) == "length"
    with pytest.raises(RuntimeFailure, match="finish_reason 'abort'"):
        vl.finish_reason("abort", None)
    assert sg.finish_reason({"type": "stop", "matched": "\n"}) == "stop"
    assert sg.finish_reason({"type": "stop", "matched": 0}) == "eos"
    assert sg.finish_reason({"type": "stop", "matched": [0, 2]}) == "eos"
    assert sg.finish_reason({"type": "length", "length": 16}) == "length"
    with pytest.raises(RuntimeFailure, match="abort"):
        sg.finish_reason({"type": "abort", "message": "out of memory"})


# --- SGLang: manifest -> Engine(...) -------------------------------------------------------------------

def test_sglang_engine_args_carry_every_manifest_field_and_deterministic_defaults():
    plain = {"name": "sglang", "version": "0.5.4"}
    assert sg.engine_args(plain, MODEL, "/models/tiny", TWO_GPUS) == {
        "model_path": "/models/tiny", "tokenizer_path": "/models/tiny", "dtype": "float32", "context_length": 8192,
        "tp_size": 2, "mem_fraction_static": 0.8, "random_seed": 0, "disable_radix_cache": True,
        "enable_deterministic_inference": True, "chunked_prefill_size": 8192, "kv_cache_dtype": "auto"}  # attention_backend: left to SGLang unless the manifest names one
    chosen = {**plain, "args": {"batch_size": 8, "tp_size": 1, "context_length": 4096, "mem_fraction_static": 0.6,
                                "random_seed": 5, "disable_radix_cache": False,
                                "enable_deterministic_inference": False, "chunked_prefill_size": 2048,
                                "attention_backend": "triton", "kv_cache_dtype": "fp8_e4m3"}}
    args = sg.engine_args(chosen, {**MODEL, "trust_remote_code": True}, "/models/tiny", TWO_GPUS)
    assert args == {"model_path": "/models/tiny", "tokenizer_path": "/models/tiny", "dtype": "float32",
                    "context_length": 4096, "tp_size": 1, "trust_remote_code": True, "mem_fraction_static": 0.6,
                    "random_seed": 5, "disable_radix_cache": False, "enable_deterministic_inference": False,
                    "chunked_prefill_size": 2048, "attention_backend": "triton", "kv_cache_dtype": "fp8_e4m3"}


# --- server commands ---------------------------------------------------------------------------------

def test_vllm_server_command_serves_on_loopback_with_the_same_mapping():
    spec = {"name": "vllm", "version": "0.11.1", "mode": "server", "args": {"batch_size": 8, "enforce_eager": True}}
    assert vl.server_command("/models/tiny", 8123, spec, MODEL, TWO_GPUS) == [
        "env", "VLLM_BATCH_INVARIANT=1", "VLLM_NO_USAGE_STATS=1", "DO_NOT_TRACK=1",
        "vllm", "serve", "/models/tiny", "--host", "127.0.0.1", "--port", "8123",
        "--tokenizer", "/models/tiny", "--dtype", "float32", "--max-model-len", "8192",
        "--tensor-parallel-size", "2", "--generation-config", "vllm", "--gpu-memory-utilization", "0.9",
        "--no-enable-prefix-caching", "--enforce-eager", "--seed", "0", "--max-num-seqs", "256",
        "--max-num-batched-tokens", "8192", "--kv-cache-dtype", "auto"]
    # without the manifest's model, vLLM chooses the dtype and the length from config.json
    bare = vl.server_command("/models/tiny", 8123, spec)
    assert "--dtype" in bare and bare[bare.index("--dtype") + 1] == "auto" and "--max-model-len" not in bare


def test_sglang_server_command_serves_on_loopback_without_model_sampling_defaults():
    spec = {"name": "sglang", "version": "0.5.4", "mode": "server", "args": {"attention_backend": "fa3"}}
    assert sg.server_command("/models/tiny", 30000, spec, {**MODEL, "trust_remote_code": True}) == [
        sys.executable, "-m", "sglang.launch_server", "--model-path", "/models/tiny", "--host", "127.0.0.1",
        "--port", "30000", "--tokenizer-path", "/models/tiny", "--dtype", "float32", "--context-length", "8192",
        "--tp-size", "1", "--trust-remote-code", "--mem-fraction-static", "0.8", "--random-seed", "0",
        "--disable-radix-cache", "--enable-deterministic-inference", "--chunked-prefill-size", "8192",
        "--attention-backend", "fa3", "--kv-cache-dtype", "auto", "--sampling-defaults", "openai"]


# --- construction where the engine is missing ----------------------------------------------------------

@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_vllm_not_installed_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    with pytest.raises(InputError) as err:
        load_engine({"name": "vllm", "version": "0.11.1"}, MODEL, str(SHIPPED_MODEL))
    assert "vllm is not installed here — pip install 'loomctl[vllm]'" in str(err.value)
    assert "image.flavour: vllm" in str(err.value)
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ  # nothing set before the refusal


@pytest.mark.skipif(HAS_SGLANG, reason="sglang is installed here")
def test_sglang_not_installed_says_how_to_get_it():
    with pytest.raises(InputError, match=r"sglang is not installed here — pip install 'loomctl\[sglang\]'"):
        load_engine({"name": "sglang", "version": "0.5.4"}, MODEL, str(SHIPPED_MODEL))


def test_offline_engine_classes_refuse_server_mode_before_importing_anything():
    for engine in ("vllm", "sglang"):
        with pytest.raises(InputError, match=f"engine/mode: this is {'vLLM' if engine == 'vllm' else 'SGLang'}'s "
                                             "offline engine"):
            load_engine({"name": engine, "version": "0.11.1", "mode": "server"}, MODEL, str(SHIPPED_MODEL))


def test_kv_cache_and_sparse_attention_are_refused_on_these_engines():
    for cls in (vl.VLLMEngine, sg.SGLangEngine):
        engine = cls.__new__(cls)  # the refusal needs no GPU: these engines have no set_acceleration
        for kind in ("kv_cache", "sparse_attention"):
            with pytest.raises(InputError, match=f"niah/acceleration: the {cls.name} engine does not support {kind}"):
                configure_engine(engine, Acceleration(kind, "snapkv"), "niah")
        configure_engine(engine, Acceleration("none"), "niah")  # no method: nothing to refuse


def test_engine_modules_import_neither_the_engines_nor_torch():
    code = ("import sys, harness.engines.vllm, harness.engines.sglang; "
            "print(sorted(m for m in ('vllm', 'sglang', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


# --- on a GPU ------------------------------------------------------------------------------------------

NEEDLE_PROMPTS = [
    render((ROOT / "manifests" / "templates" / "niah.j2").read_text(),
           {"context": f"The quiet lake was calm. The special magic number for {key} is: {value}. "
                       "The round stone greeted a tired garden.", "query": key})
    for key, value in (("warm-market", 1876616), ("blue-door", 4402931), ("old-tree", 7710254))]


def _transformers_outputs(requests):
    import transformers

    from harness.engines.hf import TransformersEngine

    engine = TransformersEngine({"name": "transformers", "version": transformers.__version__,
                                 "args": {"device": "cpu"}}, MODEL, str(SHIPPED_MODEL))
    return engine, engine.generate(requests)


@pytest.mark.skipif(not (HAS_VLLM and _cuda()), reason="needs a CUDA GPU and vllm")
def test_vllm_engine_runs_the_tiny_model_greedy_repeatably_and_like_transformers():
    import vllm

    spec = {"name": "vllm", "version": vllm.__version__, "args": {"gpu_memory_utilization": 0.3}}
    engine = vl.VLLMEngine(spec, MODEL, str(SHIPPED_MODEL))
    requests = [Request(f"r{i}", prompt, 16, ("\n",)) for i, prompt in enumerate(NEEDLE_PROMPTS)]
    first, second = engine.generate(requests), engine.generate(requests)
    assert first == second
    assert [o.id for o in first] == ["r0", "r1", "r2"]
    assert all(o.finish_reason in ("stop", "eos", "length") and "\n" not in o.text for o in first)
    _, reference = _transformers_outputs(requests)
    assert [o.text for o in first] == [o.text for o in reference]
    assert engine.versions()["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


@pytest.mark.skipif(not (HAS_SGLANG and _cuda()), reason="needs a CUDA GPU and sglang")
def test_sglang_engine_runs_the_tiny_model_greedy_and_repeatably():
    import sglang

    spec = {"name": "sglang", "version": sglang.__version__, "args": {"mem_fraction_static": 0.3}}
    engine = sg.SGLangEngine(spec, MODEL, str(SHIPPED_MODEL))
    try:
        requests = [Request(f"r{i}", prompt, 16, ("\n",)) for i, prompt in enumerate(NEEDLE_PROMPTS)]
        first, second = engine.generate(requests), engine.generate(requests)
        assert first == second
        assert [o.id for o in first] == ["r0", "r1", "r2"]
        assert all(o.finish_reason in ("stop", "eos", "length") and "\n" not in o.text for o in first)
    finally:
        engine.close()
