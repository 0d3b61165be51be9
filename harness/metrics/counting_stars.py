"""Counting-Stars' scorers: multi-evidence acquisition and reasoning, English and Chinese.

The LOOMBench numbers come from LOOM-Scope 0.8 (PyPI ``loom-scope``,
``benchmarks/Reasoning/Counting_Stars/utils/evaluation/metrics.py``: ``get_data_EN``/``get_data_ZH``,
``reduce_duplicate``, ``get_reasoning_score``), which carries the definition of nick7nlp/Counting-Stars
(commit 32e16f2c2d2be9f38d710e782236315e0821a038, ``viz.ipynb``). ``counting_stars_acquisition`` and
``counting_stars_reasoning`` follow LOOM-Scope point by point (re-implemented here, not copied):

- the reply is read with ``json_repair.loads`` (LOOM-Scope requires json_repair unpinned; this
  project pins it, locks/host.txt and the image locks): a reply that contains ```````` first has every
  ```````` and every ``json`` removed and is stripped; a cut-off reply is completed by the repair in both
  languages. The list is the value of the sample language's key only: ``little_penguin`` (English)
  or ``小企鹅`` (Chinese); a reply keyed in the other language, or that is not an object with the key
  once repaired, lists nothing and scores 0;
- of that value the first m items are kept (m = the number of stars) and repeats dropped
  (``reduce_duplicate``): an item that is not a number still takes one of the m slots; a value that
  cannot be de-duplicated (a list holding a list) lists nothing; a string value is its characters;
- a star's true count (an integer) is found when it is ``in`` that list: 15 and 15.0 match, "15" does not;
- acquisition: one point per true count found; reasoning: per star 1 if only the right count is
  listed, 0.5 if both the right and the stated wrong count are, 0.25 if only the wrong one is, 0 if
  neither. The wrong counts are the sample's ``wrong_counts`` (record ``meta``); LOOM-Scope reads the
  same lists from ``context_data/r_stars.txt``, the file its data were built from;
- a sample's score is its points / 32, rounded to 2 decimals (Python's ``round``) as LOOM-Scope
  writes it. Upstream divides by 32 whatever m is; here by m, the same for every official file
  (m = 32 in all four).

The sample's language comes from its task (``harness.benchmarks.counting_stars``, record ``meta``).
``counting_stars_free_text`` is this project's, not an official metric: for the embedded default's
free-text prompt (``manifests/templates/counting_stars.j2``), the share of true counts among the
reply's first m numbers, exact (not rounded).
"""

from __future__ import annotations

import re
from typing import Any

from loomcore.errors import InputError

# The key of the counts in a reply, by the sample's language (LOOM-Scope's get_data_EN / get_data_ZH).
KEYS = {"en": "little_penguin", "zh": "小企鹅"}
# (right count listed, wrong count listed) -> the star's reasoning points (get_reasoning_score).
_REASONING_POINTS = {(True, False): 1.0, (True, True): 0.5, (False, True): 0.25, (False, False): 0.0}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def listed_counts(reply: str, language: str, m: int) -> list[Any]:
    """What the reply lists, as LOOM-Scope reads it: its repaired JSON's value under the language's
    key, cut to the first ``m`` items and de-duplicated; [] where that fails at any step."""
    import json_repair

    text = reply.replace("```", "").replace("json", "").strip() if "```" in reply else reply
    try:
        value = json_repair.loads(text)[KEYS[language]]
    except Exception:  # upstream's bare except: anything that is not an object with the key lists nothing
        return []
    try:
        return list(set(value[:m] if len(value) > m else value))
    except Exception:  # no length, not sliceable, or unhashable items (reduce_duplicate returns [])
        return []


def _count(reference: str) -> int:
    try:
        return int(reference)
    except ValueError:
        raise InputError(f"metrics: Counting-Stars reference {reference!r} is not a whole number — the data's "
                         "counts are integers; check the dataset's answers field") from None


def _language(meta: dict[str, Any], metric: str) -> str:
    language = meta.get("language")
    if language not in KEYS:
        raise InputError(f"metrics: {metric} needs the sample's language (en or zh) in the record meta — use it "
                         "on a Counting-Stars task of harness.benchmarks.counting_stars, or use "
                         "counting_stars_free_text")
    return language


def counting_stars_acquisition(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """Counting-Stars multi-evidence acquisition (LOOM-Scope): the true counts found in the reply's
    list, over the number of stars, rounded to 2 decimals."""
    language = _language(meta, "counting_stars_acquisition")
    if not references:
        return 0.0
    listed = listed_counts(prediction, language, len(references))
    return round(sum(_count(ref) in listed for ref in references) / len(references), 2)


def counting_stars_reasoning(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """Counting-Stars multi-evidence reasoning (LOOM-Scope): per star 1 / 0.5 / 0.25 / 0 as the reply
    lists the right count alone / both / the wrong one alone / neither; over the stars, rounded to 2."""
    language = _language(meta, "counting_stars_reasoning")
    wrong = meta.get("wrong_counts")
    if not isinstance(wrong, list) or len(wrong) != len(references):
        raise InputError("metrics: counting_stars_reasoning needs each sample's wrong_counts (one per reference) "
                         "in the record meta — use it on Counting-Stars reasoning data, or use "
                         "counting_stars_acquisition")
    if not references:
        return 0.0
    listed = listed_counts(prediction, language, len(references))
    points = sum(_REASONING_POINTS[(_count(right) in listed, _count(miss) in listed)]
                 for right, miss in zip(references, wrong))
    return round(points / len(references), 2)


def counting_stars_free_text(prediction: str, references: list[str]) -> float:
    """This project's free-text reading (not an official metric): the share of the true counts among
    the reply's first m numbers, wherever they stand."""
    if not references:
        return 0.0
    listed = {float(n) for n in _NUMBER.findall(prediction)[:len(references)]}
    return sum(1.0 for ref in references if _value(ref) in listed) / len(references)


def _value(count: str) -> float | None:
    try:
        return float(count)
    except ValueError:
        return None


METRICS = {"counting_stars_free_text": counting_stars_free_text}
CONTEXT_METRICS = {"counting_stars_acquisition": counting_stars_acquisition,
                   "counting_stars_reasoning": counting_stars_reasoning}
