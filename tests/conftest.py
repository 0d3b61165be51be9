"""Shared fixtures: a real tiny transformers model saved to disk, and the repository paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "manifests" / "models" / "tiny-loom"


@pytest.fixture(autouse=True)
def _isolated_hash_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LOOMCTL_HASH_CACHE", str(cache / "hashes.json"))
    monkeypatch.setenv("LOOMCTL_DATA_CACHE", str(cache / "generated"))


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    """A tiny, randomly initialised Llama saved by transformers with the shipped tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("random-model")
    tok = PreTrainedTokenizerFast.from_pretrained(SHIPPED_MODEL)
    tok.save_pretrained(out)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tok():
    """The shipped model's tokenizer (real, loaded once)."""
    from loomcore.tokenizer import ModelTokenizer

    return ModelTokenizer(SHIPPED_MODEL)


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of manifests/ (templates, lite manifest) in a temporary folder, without the model."""
    from tests.helpers import copy_project

    return copy_project(tmp_path)
