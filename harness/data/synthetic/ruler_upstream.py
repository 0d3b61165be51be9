"""RULER's own generators (niah, variable tracking, common and frequent words extraction), re-implemented
call for call so that the same seed, length and tokenizer give RULER's samples byte for byte.

Our own implementation of the algorithms of NVIDIA/RULER at commit c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a
(``scripts/data/synthetic/{niah,variable_tracking,common_words_extraction,freq_words_extraction}.py``, run as
``scripts/data/prepare.py`` runs them: the ``base`` model template, the task's ``template`` followed by its
``answer_prefix`` from ``constants.py``, ``--random_seed`` the manifest's seed, one process per length). Each
length starts from fresh streams seeded with the seed: Python's ``random`` (RULER's module-level
``random.seed``) and numpy's legacy ``RandomState`` (``np.random.seed``), and every draw RULER makes is made
here in the same order, those of its haystack-size searches included, so the streams stay in step:

- niah: keys and values as words (a random choice of wonderwords' sorted adjective-noun pairs, taken by
  index from the adjective and noun lists instead of building the 6.2M strings), 7-digit numbers or uuids;
  the needles shuffled by ``random.Random(seed)``; the ``noise`` haystack (RULER's sentence repeated),
  the ``needle`` one (a distractor needle per line, under keys and values drawn afresh, which may repeat
  a real key as RULER's may) or the ``essay`` one (words of RULER's essays cut into sentences by nltk's
  punkt, the needles between sentences at depths drawn from RULER's 40: ``.ruler_essay``); the haystack
  size searched as RULER searches it (an estimate from 25 lines, 5 below 4096 tokens, 500 essay words,
  then a binary search on the whole prompt plus ``tokens_to_generate``); a sample that does not fit is
  drawn again with a haystack one step smaller.
- vt: the one-shot example built first as RULER builds it (3-letter names, value 12345, whole prompt in
  500 tokens), then each sample's names and value redrawn in the example's text
  (``randomize_icl``: plain text replacement) and the example put before the prompt. Over the ``noise``
  haystack (RULER's default) or its ``essay`` option (the chains' lines interleaved by RULER's
  ``shuffle_sublists_heap``, then placed as niah's needles; steps of 50 words for the example, 500 for
  the samples).
- cwe: wonderwords' nouns, adjectives and verbs, sorted and shuffled by ``random.Random(seed)``; RULER's two
  regimes (below 4096 tokens: 6 and 1 repeats, a 20-word example; else the task's frequencies and a
  40-word example); the word count searched from an estimate on 4096 words.
- fwe: ``vocab_size`` coded words (length // 50 when -1), Zipf counts ``int(N k^-alpha / zeta(alpha))``
  with numpy and ``scipy.special.zeta`` as RULER computes them, N grown from ``length // word_length`` by
  ``length // 32`` until the prompt passes the length, then one step back.

A sample is RULER's row: ``context`` is the whole prompt (RULER's ``input`` followed by its
``answer_prefix``, which a pass-through template such as ``ruler/upstream.j2`` sends as is), ``answers``
its ``outputs``; ``answer_prefix``, ``index``, ``ruler_length`` (RULER's ``length``: prompt tokens plus
``tokens_to_generate``) and, for niah, ``token_position_answer`` keep the rest, so ``upstream_row`` gives
the row RULER writes. ``length`` is the requested length, ``context_tokens`` the prompt's tokens.

Inputs: wonderwords' ``nounlist.txt``, ``adjectivelist.txt`` and ``verblist.txt`` as wonderwords 3.0.1
ships them (the ``ruler`` extra), pinned by sha256 (``WORD_LISTS``); other lists are refused. RULER's
requirements leave wonderwords unpinned, so RULER itself draws other words with another version. The
essay haystack's two inputs are the user's, pinned in the manifest as ``niah_essays``' haystack is
(``essay_path`` + ``essay_sha256``: RULER's ``json/PaulGrahamEssays.json``; ``punkt_dir`` +
``punkt_sha256``: nltk's ``punkt_tab/english`` model folder; ``loomctl pin`` fills both pins, a missing or
different one is refused naming it), and its sentences are nltk 3.10.4's (the ``ruler`` extra; another
nltk is refused). See ``.ruler_essay``.

What still differs from RULER, or is not offered:
- The essay haystack is as reproducible as its file: RULER's ``PaulGrahamEssays.json`` is written by its
  download script from the LLMTest_NeedleInAHaystack essays and then paulgraham.com pages as they are
  that day (RULER pins neither), so two RULER installs may hold other texts; rows are RULER's for the
  pinned file. The proof ran on a stand-in holding the 49 repository essays only (at
  LLMTest_NeedleInAHaystack 7b90d28; RULER's file starts with them, downloaded from that repository's
  main branch). A cell reads only the first words of the haystack, those its search probes included, so
  one whose sizes stay within those essays' 111,876 words should give the same rows from the full file
  if the essays are unchanged there; that is inferred, not checked. RULER's nltk is unpinned: its punkt
  code has changed across nltk releases, and another release may cut sentences elsewhere.
- More needles than RULER's 40 depths on the essay haystack (RULER's ``random.sample`` fails): refused.
- cwe at a length that holds more than 8166 of its words (RULER's search then asks for more words than
  wonderwords has, and samples them from ``json/english_words.json``, a Git LFS file absent from RULER's
  repository snapshot): refused here.
- Token counts: RULER counts ``AutoTokenizer.tokenize(text)``; here the model's ``tokenizer.json`` counts
  without special tokens (the same count for a fast tokenizer). A model whose tokenizer is not a
  ``tokenizer.json`` (RULER's ``nemo`` SentencePiece, ``openai`` tiktoken types) is not offered.
- The draws follow CPython's ``random`` (``sample``, ``shuffle``, ``choice``, ``choices``, ``randint``,
  ``getrandbits``) and numpy's legacy ``RandomState.randint``: the same algorithms RULER runs on, unchanged
  across the versions this project supports, but they are not RULER's code.

Checked against RULER's own scripts run in a scratch folder with the tiny model's tokenizer (the cells and
how: ``tests/test_ruler_upstream.py``).
- Where RULER would loop for ever (a sample that never fits, even at the smallest haystack) or crash
  (a search that cannot start), this refuses after ``MAX_RETRIES`` draws with ``Unfillable``, naming the
  length (the tiny model's tokenizer cannot fit cwe's one-shot example in 4,096 tokens).
- ``model_template_token`` (prepare.py's ``--prepare_for_ns``) and chunked preparation are not offered.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.data.synthetic.common import Sample, TokenCounter, Unfillable, _sample_id
from harness.data.synthetic.ruler import _RULER_NEEDLE, _RULER_NOISE, _RULER_VALUES, _numbered
from harness.data.synthetic.ruler_essay import essay_haystack
from loomcore.errors import InputError

# RULER's task templates (constants.py ``template`` + ``answer_prefix``, joined as prepare.py joins them
# under the ``base`` model template) and the first 10 characters of the answer prefix, which RULER looks
# for (``rfind``) to cut the prefix off its ``input``.
_TEMPLATES = {
    "niah": ("Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. "
             "I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic "
             "{type_needle_v} for {query} mentioned in the provided text?",
             " The special magic {type_needle_v} for {query} mentioned in the provided text are"),
    "vt": ("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
           "Question: Find all variables that are assigned the value {query} in the text above.",
           " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are "
           "assigned the value {query}, they are: "),
    "cwe": ("Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
            "ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?",
            " Answer: The top 10 words that appear most often in the list are:"),
    "fwe": ("Read the following coded text and track the frequency of each coded word. Find the three most "
            "frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore "
            "the dots '....'. What are the three most frequently appeared words in the above coded text?",
            " Answer: According to the coded text above, the three most frequently appeared words are:"),
}

# wonderwords 3.0.1's lists (sha256 of the files as shipped).
WORD_LISTS = {
    "nounlist.txt": "8d88b3ebc2e2969ed92ebe49cdb0c8a87c2ad3b27493d7afdff608f2e51c5bc9",
    "adjectivelist.txt": "66814d46b7e292c83e839d12fe2fa083c8f66779b14b294e1be4e1342c5d4131",
    "verblist.txt": "9fbf5e4e69b8869aebd88e6d545312ff9f878a747327ede5f6dbbba5c27b08ad",
}
WONDERWORDS = "wonderwords==3.0.1"

# Draws of one sample at its smallest haystack before giving up, where RULER retries for ever.
MAX_RETRIES = 1000

_ICL_VALUE = "12345"


class _TooLong(Exception):
    """A drawn sample over the length (RULER's failed ``assert``)."""


class _GaveUp(Exception):
    """No sample of the task (``args[0]``) fits at the smallest haystack after ``MAX_RETRIES`` draws."""


@dataclass
class _Streams:
    """One length's random streams, as RULER's script has them after ``random.seed`` / ``np.random.seed``."""

    seed: int
    py: random.Random
    np: Any

    @classmethod
    def seeded(cls, seed: int) -> _Streams:
        import numpy as np

        return cls(seed, random.Random(seed), np.random.RandomState(seed))

    def shuffled(self, items: list) -> list:
        """``random.Random(seed).shuffle(items)``: RULER reshuffles with a fresh generator each time."""
        random.Random(self.seed).shuffle(items)
        return items


def word_list(name: str) -> list[str]:
    """A wonderwords list as ``wonderwords.random_word._get_words_from_text_file`` reads it, checked
    against its pin."""
    try:
        from importlib.resources import files

        data = files("wonderwords.assets").joinpath(name).read_bytes()
    except ModuleNotFoundError:
        raise InputError(f"dataset.generator: RULER's word lists come from {WONDERWORDS}, which is not installed "
                         f"— pip install '{WONDERWORDS}' (the loomctl[ruler] extra)") from None
    if hashlib.sha256(data).hexdigest() != WORD_LISTS[name]:
        raise InputError(f"dataset.generator: wonderwords' {name} is not the pinned list of {WONDERWORDS} — "
                         f"install {WONDERWORDS}")
    return [line.rstrip() for line in data.decode("utf-8").splitlines(keepends=True)]


class _AdjectiveNoun(Sequence):
    """niah's ``sorted(set(f"{adj}-{noun}"))`` by index, without building its 6.2M strings. The pairs sort by
    ``adj + "-"`` and then by noun, except where one adjective's ``adj-`` begins another's ("well-" and
    "well-known-"): such a family of adjectives is one block, its pairs sorted explicitly."""

    def __init__(self, adjectives: list[str], nouns: list[str]):
        self._nouns = sorted(set(nouns))
        families: list[list[str]] = []
        for key in sorted({a + "-" for a in adjectives}):
            if families and key.startswith(families[-1][0]):
                families[-1].append(key)
            else:
                families.append([key])
        # each block: an adjective's key (its nouns in order) or a family's pairs, sorted
        self._blocks = [f[0] if len(f) == 1 else sorted({k + n for k in f for n in self._nouns}) for f in families]
        sizes = [len(self._nouns) if isinstance(b, str) else len(b) for b in self._blocks]
        self._starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self._len = sum(sizes)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index):  # random.choice asks for one int index
        block = bisect.bisect_right(self._starts, index) - 1
        offset = index - self._starts[block]
        found = self._blocks[block]
        return found + self._nouns[offset] if isinstance(found, str) else found[offset]


@lru_cache(maxsize=1)
def _niah_words() -> _AdjectiveNoun:
    return _AdjectiveNoun(word_list("adjectivelist.txt"), word_list("nounlist.txt"))


@lru_cache(maxsize=1)
def _cwe_words() -> tuple[str, ...]:
    """cwe's words before RULER's shuffle: nouns, adjectives and verbs, without repeats, sorted."""
    return tuple(sorted(set(word_list("nounlist.txt") + word_list("adjectivelist.txt") + word_list("verblist.txt"))))


def _count(tok: TokenCounter, text: str) -> int:
    return tok.count_many([text])[0]


def _largest_fitting(total_tokens: Callable[[int], int], lower: int, upper: int, limit: int) -> int | None:
    """RULER's binary search: the largest size from ``lower`` to ``upper`` whose prompt fits ``limit``
    (each probe draws a whole sample, as RULER's does), None if none does."""
    best = None
    while lower <= upper:
        mid = (lower + upper) // 2
        if total_tokens(mid) <= limit:
            best, lower = mid, mid + 1
        else:
            upper = mid - 1
    return best


def _fitted(draw: Callable[[int], Any], size: int, step: int, what: str) -> Any:
    """RULER's sample loop: draw at ``size``; a draw that fails (too long, or RULER's own exception) is
    drawn again ``step`` smaller, down to ``step``, where RULER retries for ever and this gives up."""
    tries = 0
    while True:
        try:
            return draw(size)
        except (_TooLong, IndexError, ValueError):
            if size > step:
                size -= step
            else:
                tries += 1
                if tries >= MAX_RETRIES:
                    raise _GaveUp(what) from None


def _flattened(text: str) -> str:
    """``--remove_newline_tab``: newlines and tabs as spaces, runs of white space as one."""
    return " ".join(text.replace("\n", " ").replace("\t", " ").strip().split())


def _row(p: dict[str, Any], length: int, index: int, text: str, answers: list[str], tokens: int, family: str,
         **extra: Any) -> Sample:
    """A sample from RULER's whole prompt ``text`` (answer prefix included) and its token count."""
    if p["remove_newline_tab"]:
        text = _flattened(text)
    cut = text.rfind(_TEMPLATES[family][1][:10])
    return {"id": _sample_id(p["task"], length, index), "context": text, "answers": answers,
            "answer_prefix": text[cut:], "index": index, **extra, "ruler_length": tokens + p["tokens_to_generate"],
            "length": length, "context_tokens": tokens}


def upstream_row(sample: Sample) -> dict[str, Any]:
    """The row RULER's script writes for a sample of these generators (its keys, in its order)."""
    prefix = sample["answer_prefix"]
    row = {"index": sample["index"], "input": sample["context"][:len(sample["context"]) - len(prefix)],
           "outputs": sample["answers"], "length": sample["ruler_length"],
           "length_w_model_temp": sample["ruler_length"], "answer_prefix": prefix}
    if "token_position_answer" in sample:
        row["token_position_answer"] = sample["token_position_answer"]
    return row


def _per_length(params: dict[str, Any], make: Callable[[dict[str, Any], _Streams, TokenCounter, int], list[Sample]],
                tok: TokenCounter) -> list[Sample]:
    """One RULER run per length, each from freshly seeded streams."""
    samples = []
    for length in params["lengths"]:
        try:
            samples += make(params, _Streams.seeded(params["random_seed"]), tok, length)
        except _GaveUp as gave_up:
            raise Unfillable(length, f"dataset.params.lengths: no {gave_up.args[0]} sample fits {length} tokens "
                                     f"after {MAX_RETRIES} draws at the smallest haystack, with this tokenizer — "
                                     "use a longer length") from None
    return samples


# --- niah ---------------------------------------------------------------------------------------------------

def _niah_value(streams: _Streams, kind: str) -> str:
    """A key or value: an adjective-noun pair, or a 7-digit number or uuid drawn as the filler version draws
    them (``random.randint(10**6, 10**7 - 1)``, ``uuid.UUID(int=random.getrandbits(128), version=4)``)."""
    return streams.py.choice(_niah_words()) if kind == "words" else _RULER_VALUES[kind](streams.py)


def _niah_template(p: dict[str, Any]) -> tuple[str, str]:
    """The template with RULER's singular wording when one value is asked, and the value kind it names."""
    template, kind = "".join(_TEMPLATES["niah"]), p["value_type"]
    if p["num_queries"] * p["num_values"] == 1:
        for old, new in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
            template = template.replace(old, new)
        kind = kind[:-1]
    return template, kind


def _niah_prompt(p: dict[str, Any], streams: _Streams, num_haystack: int) -> tuple[str, list[str]]:
    """niah.py's ``generate_input_output``: the whole prompt and the answers."""
    kind_k, kind_v = p["key_type"], p["value_type"]
    num_keys = max(p["num_keys"], p["num_queries"])
    keys, values, needles = [], [], []
    for _ in range(num_keys):
        keys.append(_niah_value(streams, kind_k))
        values.append([])
        for _ in range(p["num_values"]):
            values[-1].append(_niah_value(streams, kind_v))
            needles.append(_RULER_NEEDLE.format(type_needle_v=kind_v, key=keys[-1], value=values[-1][-1]))
    streams.shuffled(needles)
    context = _niah_context(p, streams, num_haystack, needles)
    queried = streams.py.sample(range(num_keys), p["num_queries"])
    names = [keys[i] for i in queried]
    query = ", ".join(names[:-1]) + ", and " + names[-1] if len(names) > 1 else names[0]
    template, kind = _niah_template(p)
    return template.format(type_needle_v=kind, context=context, query=query), [v for i in queried for v in values[i]]


def _niah_context(p: dict[str, Any], streams: _Streams, num_haystack: int, needles: list[str]) -> str:
    """The haystack of ``num_haystack`` (words of the essay, or lines) with the needles in it."""
    if p["haystack"] == "essay":
        return p["_essay"].with_needles(streams.py, num_haystack, needles, repeat=True)
    kind_k, kind_v = p["key_type"], p["value_type"]
    if p["haystack"] == "noise":
        lines = [_RULER_NOISE] * num_haystack
    else:
        lines = [_RULER_NEEDLE.format(type_needle_v=kind_v, key=_niah_value(streams, kind_k),
                                value=_niah_value(streams, kind_v)) for _ in range(num_haystack)]
    for position, text in zip(sorted(streams.py.sample(range(num_haystack), len(needles)), reverse=True), needles):
        lines.insert(position, text)
    return "\n".join(lines)


def _niah_length(p: dict[str, Any], streams: _Streams, tok: TokenCounter, length: int) -> list[Sample]:
    """niah.py's ``generate_samples`` for one ``max_seq_length``."""
    step = 500 if p["haystack"] == "essay" else 5 if length < 4096 else 25
    budget = length - p["tokens_to_generate"]
    per_line = _count(tok, _niah_prompt(p, streams, step)[0]) / step
    size = _largest_fitting(lambda n: _count(tok, _niah_prompt(p, streams, n)[0]), step,
                            max(int((length / per_line) * 3), step * 2), budget) or step

    def draw(n: int) -> tuple[str, list[str], int]:
        text, answers = _niah_prompt(p, streams, n)
        tokens = _count(tok, text)
        if tokens > budget:
            raise _TooLong
        return text, answers, tokens

    samples = []
    for _ in range(p["samples_per_length"]):
        text, answers, tokens = _fitted(draw, size, step, "niah")
        sample = _row(p, length, 0, text, answers, tokens, "niah")
        prompt = text[:len(text) - len(sample["answer_prefix"])]
        # RULER's row index is where the first answer sits in the prompt (its loop variable is reused)
        position = prompt.find(answers[0])
        samples.append({**sample, "id": _sample_id(p["task"], length, len(samples)), "index": position,
                        "token_position_answer": _count(tok, prompt[:position])})
    return samples


def _with_essay(p: dict[str, Any], needles: int, counted_by: str) -> dict[str, Any]:
    """``p`` with ``_essay``: the pinned essay haystack (``.ruler_essay``) if ``haystack`` is ``essay``."""
    return {**p, "_essay": essay_haystack(p, needles, counted_by) if p["haystack"] == "essay" else None}


def ruler_niah_upstream(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER's niah.py over the ``noise``, ``needle`` or pinned ``essay`` haystack (see the module
    docstring); ``rng`` is not used, RULER's streams are seeded with the manifest's seed."""
    needles = max(params["num_keys"], params["num_queries"]) * params["num_values"]
    return _per_length(_with_essay(params, needles, "num_keys x num_values"), _niah_length, tok)


# --- variable tracking ---------------------------------------------------------------------------------------

def _vt_chains(streams: _Streams, num_chains: int, num_hops: int, icl: bool) -> tuple[list[list[str]], list[list[str]]]:
    """variable_tracking.py's ``generate_chains``: names (3 letters in the example) and assignment lines. A
    repeated name makes RULER's loop build a short extra chain, which fails (IndexError) as RULER's does."""
    letters, hops = (3, min(10, num_hops)) if icl else (5, num_hops)
    needed = (hops + 1) * num_chains

    def name() -> str:
        return "".join(streams.py.choices(string.ascii_uppercase, k=letters)).upper()

    names = [name() for _ in range(needed)]
    while len(set(names)) < needed:
        names.append(name())
    groups, chains = [], []
    for start in range(0, len(names), hops + 1):
        group = names[start:start + hops + 1]
        groups.append(group)
        value = _ICL_VALUE if icl else str(streams.np.randint(10000, 99999))
        chains.append([f"VAR {group[0]} = {value}"] + [f"VAR {group[j + 1]} = VAR {group[j]} " for j in range(hops)])
    return groups, chains


def _heap_shuffled(streams: _Streams, chains: list[list[str]]) -> list[str]:
    """``shuffle_sublists_heap``: the chains' lines interleaved by random priorities, each chain in order."""
    heap: list[tuple[float, int, int]] = []
    for i in range(len(chains)):
        heapq.heappush(heap, (streams.py.random(), i, 0))
    lines = []
    while heap:
        _, chain, line = heapq.heappop(heap)
        lines.append(chains[chain][line])
        if line + 1 < len(chains[chain]):
            heapq.heappush(heap, (streams.py.random(), chain, line + 1))
    return lines


def _vt_prompt(p: dict[str, Any], streams: _Streams, num_noises: int, icl: bool) -> tuple[str, list[str]]:
    """variable_tracking.py's ``generate_input_output`` on the noise or the essay haystack."""
    groups, chains = _vt_chains(streams, p["num_chains"], p["num_hops"], icl)
    value = chains[0][0].split("=")[-1].strip()
    if p["_essay"] is not None:
        lines = [line.strip() + "." for line in _heap_shuffled(streams, chains)]
        context = p["_essay"].with_needles(streams.py, num_noises, lines, repeat=False)
    else:
        noise = [_RULER_NOISE] * num_noises
        for chain in chains:
            for offset, position in enumerate(sorted(streams.py.sample(range(len(noise)), len(chain)))):
                noise.insert(position + offset, chain[offset])
        context = "\n".join(noise)
    context = context.replace(". \n", ".\n")
    return "".join(_TEMPLATES["vt"]).format(context=context, query=value, num_v=p["num_hops"] + 1), groups[0]


def _vt_randomized(p: dict[str, Any], streams: _Streams, example: str) -> str:
    """``randomize_icl``: the example's names and value replaced, as text, by new draws."""
    for item in example.strip().split()[-p["num_hops"] - 1:]:
        example = example.replace(item, "".join(streams.py.choices(string.ascii_uppercase, k=len(item))).upper())
    return example.replace(_ICL_VALUE, str(streams.np.randint(10000, 99999)))


def _vt_run(p: dict[str, Any], streams: _Streams, tok: TokenCounter, length: int, samples: int,
            example: str | None) -> list[tuple[str, list[str], int]]:
    """``sys_vartrack_w_noise_random``: the example's run (``example`` None, 500 tokens) or the samples'."""
    new_tokens = p["tokens_to_generate"] if example is not None else 0
    if p["_essay"] is not None:
        step = 50 if example is None else 500
    else:
        step = 5 if example is None or p["main_length"] < 4096 else 10
    example_tokens = _count(tok, example) if example is not None else 0
    icl = example is None

    def tokens(n: int) -> int:
        return _count(tok, _vt_prompt(p, streams, n, icl)[0]) + example_tokens + new_tokens

    per_line = _count(tok, _vt_prompt(p, streams, step, icl)[0]) / step
    size = _largest_fitting(tokens, step, max(int((length / per_line) * 3), step * 2), length) or step

    def draw(n: int) -> tuple[str, list[str], int]:
        text, answers = _vt_prompt(p, streams, n, icl)
        if example is not None:
            cut = text.index(_TEMPLATES["vt"][0][:20])
            text = text[:cut] + _vt_randomized(p, streams, example) + "\n" + text[cut:]
        if p["remove_newline_tab"]:
            text = _flattened(text)
        count = _count(tok, text)
        if count + new_tokens > length:
            raise _TooLong
        return text, answers, count

    return [_fitted(draw, size, step, "vt") for _ in range(samples)]


def _vt_length(p: dict[str, Any], streams: _Streams, tok: TokenCounter, length: int) -> list[Sample]:
    p = {**p, "main_length": length}
    [(example, answers, _)] = _vt_run(p, streams, tok, 500, 1, None)
    example = example + " " + " ".join(answers) + "\n"
    rows = _vt_run(p, streams, tok, length, p["samples_per_length"], example)
    return [_row(p, length, i, text, answers, tokens, "vt") for i, (text, answers, tokens) in enumerate(rows)]


def ruler_vt_upstream(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER's variable_tracking.py over the noise or the pinned essay haystack with its one-shot example
    (see the module docstring); ``rng`` is not used."""
    if params["haystack"] == "needle":
        raise InputError("dataset.params.haystack: RULER's variable tracking has no 'needle' haystack — use "
                         "'noise' or 'essay'")
    needles = (params["num_hops"] + 1) * params["num_chains"]
    return _per_length(_with_essay(params, needles, "num_chains x (num_hops + 1)"), _vt_length, tok)


# --- common words extraction ---------------------------------------------------------------------------------

def _cwe_example(p: dict[str, Any], streams: _Streams, words: list[str], num_words: int, common_repeats: int,
                 uncommon_repeats: int) -> tuple[str, list[str]]:
    """``get_example``: a numbered list of ``num_words`` words, the first ``num_common`` repeated more."""
    if num_words > len(words):
        raise InputError(f"dataset.params.lengths: RULER's cwe asks for {num_words} words, more than wonderwords' "
                         f"{len(words)}; it would take them from json/english_words.json (Git LFS, not in RULER's "
                         "repository) — use a shorter length")
    chosen = streams.py.sample(words, num_words)
    common, uncommon = chosen[:p["num_common"]], chosen[p["num_common"]:]
    return _numbered(streams.shuffled(common * common_repeats + uncommon * uncommon_repeats)), common


def _cwe_prompt(p: dict[str, Any], streams: _Streams, words: list[str], length: int, num_words: int) \
        -> tuple[str, list[str]]:
    """``generate_input_output``: the one-shot examples (with their answers) then the task."""
    short = length < 4096
    shape = (20, 3, 1) if short else (40, 10, 3)
    shots = [_cwe_example(p, streams, words, *shape) for _ in range(p["num_fewshot"])]
    context, answers = _cwe_example(p, streams, words, num_words, *((6, 1) if short else
                                                                    (p["common_freq"], p["uncommon_freq"])))
    template = "".join(_TEMPLATES["cwe"])
    examples = "\n".join(template.format(num_cw=p["num_common"], context=c, query="") + " " + _numbered(a)
                         for c, a in shots)
    return examples + "\n" + template.format(num_cw=p["num_common"], context=context, query=""), answers


def _cwe_length(p: dict[str, Any], streams: _Streams, tok: TokenCounter, length: int) -> list[Sample]:
    """``sys_word_pair_random`` for one ``max_seq_length``."""
    words = streams.shuffled(list(_cwe_words()))
    budget = length - p["tokens_to_generate"]
    per_word = _count(tok, _cwe_prompt(p, streams, words, length, 4096)[0]) / 4096
    size = _largest_fitting(lambda n: _count(tok, _cwe_prompt(p, streams, words, length, n)[0]), 10,
                            max(int(length // per_word) * 2, 20), budget) or 10

    def draw(n: int) -> tuple[str, list[str], int]:
        text, answers = _cwe_prompt(p, streams, words, length, n)
        tokens = _count(tok, text)
        if tokens > budget:
            raise _TooLong
        return text, answers, tokens

    rows = [_fitted(draw, size, 10, "cwe") for _ in range(p["samples_per_length"])]
    return [_row(p, length, i, text, answers, tokens, "cwe") for i, (text, answers, tokens) in enumerate(rows)]


def ruler_cwe_upstream(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER's common_words_extraction.py with wonderwords' words (see the module docstring); ``rng`` is not
    used."""
    return _per_length(params, _cwe_length, tok)


# --- frequent words extraction -------------------------------------------------------------------------------

def _zeta(alpha: float) -> float:
    try:
        from scipy.special import zeta
    except ModuleNotFoundError:
        raise InputError("dataset.generator: RULER's fwe divides by scipy.special.zeta; scipy is not installed — "
                         "pip install scipy (the loomctl[ruler] extra)") from None
    return zeta(alpha)


def _fwe_vocab(p: dict[str, Any], streams: _Streams, vocab_size: int) -> list[str]:
    def word() -> str:
        return "".join(streams.py.choices(string.ascii_lowercase, k=p["word_length"]))

    vocab = [word() for _ in range(vocab_size)]
    while len(set(vocab)) < vocab_size:
        vocab.append(word())
    vocab = streams.shuffled(sorted(set(vocab)))
    vocab[0] = "..."  # the top rank is noise
    return vocab


def _fwe_text(p: dict[str, Any], streams: _Streams, vocab: list[str], num_words: int) -> str:
    """``gen_text``: each word ``int(N k^-alpha / zeta(alpha))`` times, shuffled, in the template."""
    import numpy as np

    ranks = np.arange(1, len(vocab) + 1)
    counts = (num_words * (ranks ** -p["alpha"]) / _zeta(p["alpha"])).astype(int)
    words = streams.shuffled([w for w, n in zip(vocab, counts) for _ in range(n)])
    return "".join(_TEMPLATES["fwe"]).format(context=" ".join(words), query="")


def _fwe_prompt(p: dict[str, Any], streams: _Streams, tok: TokenCounter, budget: int, vocab_size: int,
                num_words: int) -> tuple[str, list[str], int]:
    """``generate_input_output``: a new vocabulary, and N searched (-1) or lowered until the prompt fits."""
    vocab = _fwe_vocab(p, streams, vocab_size)
    step = budget // 32
    if num_words > 0:
        text = _fwe_text(p, streams, vocab, num_words)
        while _count(tok, text) > budget:
            num_words -= step
            text = _fwe_text(p, streams, vocab, num_words)
    else:
        num_words = budget // p["word_length"]
        while _count(tok, _fwe_text(p, streams, vocab, num_words)) < budget:
            num_words += step
        num_words -= step
    return _fwe_text(p, streams, vocab, num_words), vocab[1:4], num_words


def _fwe_length(p: dict[str, Any], streams: _Streams, tok: TokenCounter, length: int) -> list[Sample]:
    """``sys_kwext`` for one ``max_seq_length``."""
    budget = length - p["tokens_to_generate"]
    if budget < 32:
        raise Unfillable(length, f"dataset.params.lengths: {length} tokens leave RULER's fwe no room — use a longer "
                                 "length")
    vocab_size = budget // 50 if p["vocab_size"] == -1 else p["vocab_size"]
    _, _, num_words = _fwe_prompt(p, streams, tok, budget, vocab_size, -1)
    samples = []
    for index in range(p["samples_per_length"]):
        text, answers, _ = _fwe_prompt(p, streams, tok, budget, vocab_size, num_words)
        samples.append(_row(p, length, index, text, answers, _count(tok, text), "fwe"))
    return samples


def ruler_fwe_upstream(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """RULER's freq_words_extraction.py (see the module docstring); ``rng`` is not used."""
    if params["alpha"] <= 1:
        raise InputError(f"dataset.params.alpha: {params['alpha']} — the Zipf exponent must be over 1")
    return _per_length(params, _fwe_length, tok)
