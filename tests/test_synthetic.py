"""Synthetic generators: deterministic, length in the model's tokens, answers really in the context."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.data import synthetic
from loomcore.errors import InputError
from loomcore.hashing import samples_sha256
from tests.conftest import SHIPPED_MODEL


def gen(name, tok, seed=3, **params):
    return synthetic.generate(name, synthetic.generator_version(name), seed,
                              {"lengths": [512, 1024], **params}, tok)


# niah_essays needs a pinned essay folder: tests/test_niah_essays.py
@pytest.mark.parametrize("name", sorted(n for n, g in synthetic.GENERATORS.items() if g.filler))
def test_lengths_in_model_tokens(name, tok):
    params = {"samples_per_cell": 1} if name == "niah" else {"samples_per_length": 2}
    samples = gen(name, tok, **params)
    for s in samples:
        assert s["context_tokens"] == tok.count(s["context"])
        assert 0.85 * s["length"] <= s["context_tokens"] <= s["length"] + 16, (s["id"], s["context_tokens"])


def test_needles_and_answers_are_in_the_context(tok):
    for s in gen("ruler_niah", tok, samples_per_length=2, num_keys=4, num_values=1, num_queries=4):
        for value in s["answers"]:
            assert f" is: {value}." in s["context"]
    for s in gen("ruler_vt", tok, samples_per_length=2):
        assert all(f"VAR {name} =" in s["context"] for name in s["answers"])
    for s in gen("ruler_cwe", tok, samples_per_length=2):
        words = s["context"].split()[1::2]  # "1. river 2. lantern ..." -> the words
        counts = {w: words.count(w) for w in s["answers"]}
        others = max(words.count(w) for w in set(words) if w not in s["answers"])
        assert min(counts.values()) > others


def test_same_seed_same_bytes_other_seed_other_bytes(tok):
    a = gen("niah", tok, samples_per_cell=1)
    b = gen("niah", tok, samples_per_cell=1)
    c = gen("niah", tok, seed=4, samples_per_cell=1)
    assert samples_sha256(a) == samples_sha256(b) != samples_sha256(c)


def test_identical_in_a_fresh_interpreter(tok):
    code = ("from harness.data import synthetic; from loomcore.tokenizer import ModelTokenizer;"
            "from loomcore.hashing import samples_sha256;"
            f"t = ModelTokenizer({str(SHIPPED_MODEL)!r});"
            "print(samples_sha256(synthetic.generate('ruler_fwe', synthetic.generator_version('ruler_fwe'), 3,"
            " {'lengths': [512], 'samples_per_length': 2}, t)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == samples_sha256(gen("ruler_fwe", tok, lengths=[512], samples_per_length=2))


def test_stale_generator_version_is_refused(tok):
    with pytest.raises(InputError, match="generator_version"):
        synthetic.generate("niah", "0+h0", 1, {}, tok)
