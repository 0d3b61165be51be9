"""LIBRA's scorers: Russian-lemmatised containment, F1 and number counting, less a negative-answer penalty.

Re-implemented from LOOM-Scope 0.8 ``benchmarks/Specialization/LIBRA/utils/evaluation/metrics.py``
and ``eval.py`` (the scorer LOOMBench's numbers come from), which follow ai-forever/LIBRA
``evaluation/metrics.py`` and ``eval.py`` (commit 94dcac03119b108297a4fd33c7e0d116961ea510):

- normalisation: each whitespace word is lower-cased, stripped of every character outside
  ``[a-zа-яй0-9_]`` (so 'ё' and punctuation go), and replaced by pymorphy's first normal form; the
  words are joined by one space (a word that was only punctuation leaves an empty word, so two
  spaces, as upstream);
- ``libra_exact_match``: 1 if the normalised reference is a substring of the normalised answer
  (an empty normalised reference is therefore always found, as upstream);
- ``libra_f1``: token F1 of the normalised texts (ru_qasper);
- ``libra_count_score``: the share of the answer's integers equal to the reference (LongBench's
  count score, ``harness.metrics.longbench.count_score``);
- each takes the best reference (``positive_outputs``), then the sample's ``negative_outputs``
  (record meta) found verbatim in the raw answer cost 1/len(negatives) each, all of them found -> 0,
  never below 0.

Not matched exactly: upstream lemmatises with pymorphy2 and its 2020 dictionaries (pymorphy2 does
not import on Python 3.11); here pymorphy3 with pymorphy3-dicts-ru 2.4.417150 (a 2022 rebuild of the
same OpenCorpora dictionary), so a rare word may get a different normal form. ai-forever/LIBRA's own
GitHub ``exact_match_score`` (94dcac03) does no normalisation at all (``ground_truth in prediction``);
LOOM-Scope's normalised version is the one kept.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from harness.metrics.longbench import count_score
from harness.metrics.text import _token_f1
from loomcore.errors import InputError

_NOT_RUSSIAN_WORD = re.compile(r"[^a-zа-яй0-9_]+")


@cache
def _analyzer():
    try:
        import pymorphy3
    except ImportError:
        raise InputError("libra metrics: Russian lemmatisation needs pymorphy3 — pip install pymorphy3 "
                         "pymorphy3-dicts-ru") from None
    return pymorphy3.MorphAnalyzer()


@cache
def _lemma(word: str) -> str:
    return _analyzer().parse(word)[0].normal_form.lower()


def normalize_ru(text: str) -> str:
    """Upstream ``normalize_answer``: per word, keep ``[a-zа-яй0-9_]``, then its normal form."""
    return " ".join(_lemma(_NOT_RUSSIAN_WORD.sub("", word.lower())) for word in text.split())


def penalise_negatives(score: float, prediction: str, negatives: list[str] | None) -> float:
    """LIBRA ``eval.py``: each negative answer found verbatim costs 1/len(negatives); all of them -> 0."""
    if not negatives:
        return score
    found = sum(1 for negative in negatives if negative in prediction)
    if found == len(negatives):
        return 0.0
    return max(0.0, score - found / len(negatives))


def _best(scorer, prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    if not references:
        raise InputError("libra: the sample has no positive_outputs — map 'answers' to 'positive_outputs'")
    best = max(scorer(prediction, ref) for ref in references)
    return penalise_negatives(float(best), prediction, meta.get("negative_outputs"))


def _contains(prediction: str, reference: str) -> float:
    return 1.0 if normalize_ru(reference) in normalize_ru(prediction) else 0.0


def _f1(prediction: str, reference: str) -> float:
    return _token_f1(normalize_ru(prediction).split(), normalize_ru(reference).split())


def _count(prediction: str, reference: str) -> float:
    return count_score(prediction, [reference])


def exact_match(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    return _best(_contains, prediction, references, meta)


def f1(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    return _best(_f1, prediction, references, meta)


def count(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    return _best(_count, prediction, references, meta)


CONTEXT_METRICS = {
    "libra_exact_match": exact_match,
    "libra_f1": f1,
    "libra_count_score": count,
}
