"""Offline synthetic generators: NIAH, the RULER families and counting-stars, deterministic from
(generator version, seed, params) and measured in the evaluated model's tokens.

A generator is a pure function ``(params, rng, tokenizer) -> list[sample]``; samples are plain
dicts of strings, numbers and lists so that their canonical JSON (see ``harness.data.hashing``) is
the same on every machine. Each generator carries a version: any change to what it emits must bump
it, and the manifest pins ``generator_version`` so a stale pin fails instead of scoring new data.

Task shapes follow RULER (NVIDIA, ``scripts/data/synthetic/{niah,variable_tracking,
common_words_extraction,freq_words_extraction}.py``) and Counting-Stars (Song et al. 2024); the
haystack is our own generated filler (``harness.data.haystack``) because no essay corpus can be
downloaded here; ``niah_essays`` (``.niah_essays``) instead reads a pinned folder of essays the user
supplies (Kamradt's Paul Graham essays) and places the needle as LOOM-Scope does. ``counting_stars_text``
(``.counting_stars_text``) sprinkles Counting-Stars' stars into its own pinned haystack (The Story of the
Stone, or the essays) at the official notebook's offsets. Context length is
the number of tokens of the ``context`` field alone (the official Counting-Stars style may cut its
haystack in words or characters instead, as its files are).

Two styles share each generator. ``style: "lite"`` (the default) is what LOOMBench-lite pins; its
output must never change under version 1. ``style: "official"`` (and the NIAH grid's fixed
``needle``) reproduce the official task texts and structure: RULER's needles, noise and needle
haystacks, uuids, few-shot examples and Zipf counts (NVIDIA/RULER at commit
c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a), LOOM-Scope's NIAH grid, and Counting-Stars' 32 stars
in English or Chinese with the reasoning variant (nick7nlp/Counting-Stars at commit
32e16f2c2d2be9f38d710e782236315e0821a038, ``gen_test_data.ipynb``). Where they need room for the
prompt around the context, ``reserve_tokens`` is taken off ``length`` (RULER's ``max_seq_length``
counts the whole prompt and the answer). What differs from the official generators is listed in
``harness.benchmarks.ruler``, ``.niah`` and ``.counting_stars``. The RULER generators' two styles are
the filler versions: they run offline with no word list or input; LOOMBench-lite pins their lite style.

RULER's own algorithms, call for call on RULER's random streams with wonderwords' word lists, are the
generators ``ruler_niah_upstream``, ``ruler_vt_upstream``, ``ruler_cwe_upstream`` and ``ruler_fwe_upstream``
(``.ruler_upstream``): for the noise, needle and essay haystacks, vt, cwe and fwe they give RULER's rows byte
for byte with the same tokenizer and seed (the seed reaches them as ``params["random_seed"]``); the essay
haystack reads two pinned inputs the user gives, RULER's ``PaulGrahamEssays.json`` and nltk's punkt_tab
model folder (``.ruler_essay``). LOOMBench v1's RULER tasks are these. A length one of them cannot fill with
the tokenizer (its search gives up) is refused with ``Unfillable``; ``unfillable_lengths`` finds those lengths
for a substituted model (``loomctl.substitute``), one sample each.

``nthread`` (``.nthread``) builds NThread's JSON haystacks of UUID pairs from the seed alone; ``nolima``
(``.nolima``) places NoLiMa's needles in a pinned book, from a pinned needle set.

One module per family (``niah``, ``ruler``, ``ruler_upstream``, ``counting_stars``) and ``common`` for what they share;
this module keeps the registry ``GENERATORS`` (name, version, function, default parameters), the
parameter checks and ``generate``.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from harness.data import haystack
from harness.data.synthetic.common import Generator, Sample, TextTokenizer, Unfillable
from harness.data.synthetic.counting_stars import (
    _SIZE_MEASURES,
    _STAR_NEEDLES,
    counting_stars,
)
from harness.data.synthetic.counting_stars_text import counting_stars_text
from harness.data.synthetic.longhealth import longhealth
from harness.data.synthetic.niah import GRIDS, niah_grid
from harness.data.synthetic.niah_essays import (
    FINAL_CONTEXT_LENGTH_BUFFER,
    haystack_sha256,
    niah_essays,
    resolve_haystack_dir,
)
from harness.data.synthetic.nolima import nolima
from harness.data.synthetic.nthread import nthread
from harness.data.synthetic.ruler import (
    _RULER_VALUES,
    common_words,
    frequent_words,
    ruler_niah,
    variable_tracking,
)
from harness.data.synthetic.ruler_essay import punkt_sha256
from harness.data.synthetic.ruler_upstream import (
    ruler_cwe_upstream,
    ruler_fwe_upstream,
    ruler_niah_upstream,
    ruler_vt_upstream,
)
from loomcore.errors import InputError
from loomcore.taskspec import JSONValue

_COMMON_LENGTH = {"lengths": [1024, 2048, 4096, 8192], "samples_per_length": 10, "value_digits": 7}
# RULER's own generators: its lengths count the whole prompt and the answer's tokens_to_generate.
_UPSTREAM = {"lengths": [4096, 8192, 16384], "samples_per_length": 10, "remove_newline_tab": False}
# Their essay haystack's pinned inputs (harness.data.synthetic.ruler_essay), read only for haystack "essay".
_ESSAY_INPUTS = {"essay_path": None, "essay_sha256": None, "punkt_dir": None, "punkt_sha256": None}

GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator("niah", "1", niah_grid, {
        "lengths": [1024, 2048, 4096, 8192], "depths": [0.0, 0.25, 0.5, 0.75, 1.0],
        "samples_per_cell": 2, "value_digits": 7,
        "needle": None, "question": None, "answer": None, "reserve_tokens": 0, "grid": None}),
    Generator("niah_essays", "1", niah_essays, {
        "lengths": [1024, 2048, 4096, 8192], "depths": [0.0, 0.25, 0.5, 0.75, 1.0], "grid": None,
        "needle": None, "question": None, "answer": None, "reserve_tokens": FINAL_CONTEXT_LENGTH_BUFFER,
        "haystack_dir": None, "haystack_sha256": None, "clean_up_tokenization_spaces": False},
        filler=False, paths=("haystack_dir",)),
    Generator("ruler_niah", "1", ruler_niah, {
        **_COMMON_LENGTH, "task": "niah_single", "num_keys": 1, "num_values": 1, "num_queries": 1,
        "style": "lite", "haystack": "essay", "key_type": "words", "value_type": "numbers", "reserve_tokens": 0}),
    Generator("ruler_vt", "1", variable_tracking, {
        **_COMMON_LENGTH, "task": "vt", "num_hops": 4, "style": "lite", "example_tokens": 400, "reserve_tokens": 0}),
    Generator("ruler_cwe", "1", common_words, {
        **_COMMON_LENGTH, "task": "cwe", "num_common": 10, "common_freq": 30, "uncommon_freq": 3,
        "style": "lite", "reserve_tokens": 0}),
    Generator("ruler_fwe", "1", frequent_words, {
        **_COMMON_LENGTH, "task": "fwe", "vocab_size": 800, "word_length": 5, "alpha": 2.0,
        "num_answers": 3, "style": "lite", "reserve_tokens": 0}),
    Generator("ruler_niah_upstream", "1", ruler_niah_upstream, {
        **_UPSTREAM, "task": "niah_single_1", "haystack": "noise", "key_type": "words", "value_type": "numbers",
        "num_keys": 1, "num_values": 1, "num_queries": 1, "tokens_to_generate": 128, **_ESSAY_INPUTS},
        filler=False, paths=("essay_path", "punkt_dir"), upstream_seed=True, may_not_fill=True),
    Generator("ruler_vt_upstream", "1", ruler_vt_upstream, {
        **_UPSTREAM, "task": "vt", "haystack": "noise", "num_chains": 1, "num_hops": 4, "tokens_to_generate": 30,
        **_ESSAY_INPUTS},
        filler=False, paths=("essay_path", "punkt_dir"), upstream_seed=True, may_not_fill=True),
    Generator("ruler_cwe_upstream", "1", ruler_cwe_upstream, {
        **_UPSTREAM, "task": "cwe", "num_common": 10, "common_freq": 30, "uncommon_freq": 3, "num_fewshot": 1,
        "tokens_to_generate": 120},
        filler=False, upstream_seed=True, may_not_fill=True),
    Generator("ruler_fwe_upstream", "1", ruler_fwe_upstream, {
        **_UPSTREAM, "task": "fwe", "alpha": 2.0, "vocab_size": -1, "word_length": 6, "tokens_to_generate": 50},
        filler=False, upstream_seed=True, may_not_fill=True),
    Generator("counting_stars", "1", counting_stars, {
        **_COMMON_LENGTH, "task": "counting_stars", "num_needles": 4,
        "style": "lite", "language": "en", "variant": "acquisition", "reserve_tokens": 0,
        "size_unit": "tokens", "size_scale": 1.0}),
    Generator("counting_stars_text", "1", counting_stars_text, {
        "task": "counting_stars_text", "language": "zh", "variant": "acquisition", "num_needles": 32,
        "num_sizes": 32, "max_context_length": 128000, "size_scale": None, "counts": [], "wrong_counts": [],
        "haystack_path": None, "haystack_sha256": None},
        filler=False, paths=("haystack_path",)),
    Generator("nthread", "1", nthread, {
        "task": "single_needle", "lengths": [1024, 2048, 4096, 8192], "depths": [0.0, 0.5, 1.0],
        "samples_per_length": 10, "num_needles": 4, "conditional_character": "*", "thread_length": 4,
        "num_threads": 2, "direction": "alternate", "reserve_tokens": 0},
        filler=False),
    Generator("nolima", "2", nolima, {
        "lengths": [1000, 2000, 4000, 8000], "depth_min": 0, "depth_max": 100, "depth_intervals": 26,
        "base_seed": 42, "haystack_no": 0, "shift": 0,
        "haystack_path": None, "haystack_sha256": None, "needle_set_path": None, "needle_set_sha256": None},
        filler=False, paths=("haystack_path", "needle_set_path")),
    Generator("longhealth", "1", longhealth, {
        "task": "task1", "prompt_max_len": 16000, "haystack_path": None, "haystack_sha256": None},
        filler=False, paths=("haystack_path",)),
)}

# Parameters that name a choice, with the values each may take.
_CHOICES: dict[str, tuple[str, ...]] = {
    "style": ("lite", "official"), "haystack": ("essay", "noise", "needle"),
    "key_type": tuple(_RULER_VALUES), "value_type": tuple(_RULER_VALUES),
    "language": tuple(sorted({lang for lang, _ in _STAR_NEEDLES})),
    "variant": tuple(sorted({variant for _, variant in _STAR_NEEDLES})),
    "size_unit": ("tokens", *_SIZE_MEASURES),
    "direction": ("forward", "backward", "alternate"),
}


def generator_version(name: str) -> str:
    """Full version: the generator's own and the filler haystack's, since both shape the text; a
    generator over a pinned text (``niah_essays``: its ``haystack_sha256``) has only its own."""
    gen = GENERATORS[name]
    return f"{gen.version}+h{haystack.HAYSTACK_VERSION}" if gen.filler else gen.version


# Bounds on what a generator is asked for: a context of at most 4M tokens (RULER's longest is 1M), at
# most 100,000 samples per cell, other counts at most 4M.
MAX_LENGTH_TOKENS = 4 * 2**20
MAX_COUNT = 100_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_problem(key: str, value: Any) -> str | None:
    item = float if key == "depths" else int
    good = isinstance(value, list) and value and all(
        isinstance(v, (int, float) if item is float else int) and not isinstance(v, bool) for v in value)
    if not good:
        return f"params.{key}: {json.dumps(value)[:60]} is not a non-empty list of " \
               f"{'numbers' if item is float else 'integers'}"
    if key == "depths" and not all(0 <= v <= 1 for v in value):
        return f"params.{key}: depths are fractions of the context, from 0 to 1"
    if key == "lengths" and not all(0 < v <= MAX_LENGTH_TOKENS for v in value):
        return f"params.{key}: context lengths run from 1 to {MAX_LENGTH_TOKENS} tokens"
    return None


def _int_problem(key: str, value: Any) -> str | None:
    top = MAX_COUNT if key.startswith(("samples_per", "num_samples")) else MAX_LENGTH_TOKENS
    # -1 (or 0) is "derive it" for some parameters (vocab_size)
    if not _is_int(value) or not -1 <= value <= top:
        return f"params.{key}: {json.dumps(value)[:60]} is not an integer from -1 to {top}"
    return None


def _float_problem(key: str, value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not 0 <= value <= MAX_COUNT:
        return f"params.{key}: {json.dumps(value)[:60]} is not a number from 0 to {MAX_COUNT}"
    return None


# Numbers whose default None means "the generator's own value".
_OPTIONAL_NUMBERS = ("size_scale",)


def _param_problem(key: str, value: Any, default: Any) -> str | None:
    """One parameter against the type of its default."""
    if default is None and key in _OPTIONAL_NUMBERS:
        return None if value is None else _float_problem(key, value)
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"params.{key}: {json.dumps(value)[:60]} is not true or false"
    if isinstance(default, list):
        return _list_problem(key, value)
    if isinstance(default, int):
        return _int_problem(key, value)
    if isinstance(default, float):
        return _float_problem(key, value)
    if (isinstance(default, str) or default is None) and value is not None and not isinstance(value, str):
        return f"params.{key}: {json.dumps(value)[:60]} is not a string"
    return None


# A path parameter, and the parameter that pins the text it names (``niah_essays.haystack_sha256``).
_PATH_PINS = {"haystack_dir": "haystack_sha256", "haystack_path": "haystack_sha256",
              "needle_set_path": "needle_set_sha256", "essay_path": "essay_sha256", "punkt_dir": "punkt_sha256"}
# How a path parameter's pin is computed, where it is not the sha256 of its text (``haystack_sha256``): a
# punkt model folder is pinned on the model nltk reads from it (``ruler_essay.punkt_sha256``).
_PIN_HASHES = {"punkt_dir": punkt_sha256}
# The pins of generator inputs, which `loomctl validate` lists while null.
INPUT_PIN_KEYS = frozenset(_PATH_PINS.values())


def input_pins(name: str, params: JSONValue, root: Path) -> dict[str, str]:
    """What generator ``name``'s path parameters name, hashed as it is now, by the parameter that pins it
    (``niah_essays``: ``{"haystack_sha256": ...}`` of its ``haystack_dir``, relative to ``root``); ``loomctl
    pin`` writes these before it generates. Empty for a generator that reads no file."""
    gen = GENERATORS.get(name)
    if gen is None or not isinstance(params, dict):
        return {}
    return {_PATH_PINS[key]: _PIN_HASHES.get(key, haystack_sha256)(resolve_haystack_dir(params[key], root, key), key)
            for key in gen.paths if isinstance(params.get(key), str)}


def unfillable_lengths(name: str, version: str, seed: int, params: JSONValue, tokenizer: TextTokenizer,
                       root: Path | None = None) -> dict[int, str]:
    """The lengths of ``params`` that generator ``name`` cannot fill with ``tokenizer`` (RULER's searches give
    up on them), each with the generator's reason: every length tried with one sample, and only for a
    generator that may not fill one (``may_not_fill``); empty for the others. An input whose pin is open is
    read as it is now (the probe pins it, as ``loomctl pin`` would); any other refusal is raised."""
    gen = GENERATORS.get(name)
    if gen is None or not gen.may_not_fill or not isinstance(params, dict):
        return {}
    probe = dict(params)
    for key, value in input_pins(name, {**gen.defaults, **params}, root or Path(".")).items():
        if not probe.get(key):
            probe[key] = value
    lengths = probe.get("lengths", gen.defaults.get("lengths", []))
    found = {}
    for length in lengths if isinstance(lengths, list) else []:
        try:
            generate(name, version, seed, {**probe, "lengths": [length], "samples_per_length": 1}, tokenizer, root)
        except Unfillable as unfillable:
            found[length] = str(unfillable)
    return found


def input_params(name: str) -> dict[str, str]:
    """Generator ``name``'s path parameters, each with the parameter that pins what it names
    (``niah_essays``: ``{"haystack_dir": "haystack_sha256"}``); empty for one that reads no file."""
    gen = GENERATORS.get(name)
    return {key: _PATH_PINS[key] for key in gen.paths} if gen is not None else {}


def param_problems(name: str, params: JSONValue) -> list[str]:
    """``dataset.params`` of generator ``name`` checked against the types of its defaults and sane bounds
    (one ``params.KEY: ... — ...`` line each), so a wrong type is invalid input and a huge request is
    refused before anything is generated."""
    gen = GENERATORS[name]
    if not isinstance(params, dict):
        return ["params: not an object — give the generator's parameters as a JSON object"]
    problems = [f"params: unknown parameter(s) {sorted(set(params) - set(gen.defaults))} — allowed: "
                f"{sorted(gen.defaults)}"] if set(params) - set(gen.defaults) else []
    problems += [problem for key, value in params.items() if key in gen.defaults
                 and (problem := _param_problem(key, value, gen.defaults[key])) is not None]
    for key, allowed in _CHOICES.items():
        if key in params and isinstance(params[key], str) and params[key] not in allowed:
            problems.append(f"params.{key}: {params[key]!r} is not one of {list(allowed)} — use one of them")
    if params.get("grid") is not None:
        if params["grid"] not in GRIDS:
            problems.append(f"params.grid: {params['grid']!r} is not a grid this harness knows — use one of "
                            f"{sorted(GRIDS)}, or give lengths and depths")
        if "lengths" in params or "depths" in params:
            problems.append("params.grid: a named grid sets the lengths and depths — give either grid or "
                            "lengths and depths, not both")
    return problems


def generate(name: str, version: str, seed: int, params: dict[str, Any], tokenizer: TextTokenizer,
             root: Path | None = None) -> list[Sample]:
    """Generate a dataset; refuses a version other than the code's so a pin never silently drifts. A
    parameter that names a file or folder is resolved against ``root`` (the manifest's folder; the
    working directory if None)."""
    if name not in GENERATORS:
        raise InputError(f"dataset.generator: unknown generator {name!r} — use one of {sorted(GENERATORS)}")
    current = generator_version(name)
    if version != current:
        raise InputError(
            f"dataset.generator_version: manifest pins {version!r} but this harness has {name} "
            f"version {current!r} — regenerate the pins with `loomctl pin`, or use the harness "
            f"release that produced the pinned data")
    gen = GENERATORS[name]
    problems = param_problems(name, params)
    if problems:
        raise InputError(*[f"dataset.{problem}" for problem in problems])
    full = {**gen.defaults, **params}
    for key, allowed in _CHOICES.items():
        if key in full and full[key] not in allowed:
            raise InputError(f"dataset.params.{key}: {full[key]!r} is not one of {list(allowed)} for generator "
                             f"{name!r} — use one of them")
    for key in gen.paths:
        if full[key] is not None:
            full[key] = str(resolve_haystack_dir(full[key], root or Path("."), key))
    if gen.upstream_seed:
        full["random_seed"] = seed
    return gen.fn(full, random.Random(f"{name}:{seed}"), tokenizer)
