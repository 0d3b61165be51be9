"""Counting-Stars' scorers: multi-evidence acquisition and reasoning, English and Chinese.

Re-implemented from the definition in nick7nlp/Counting-Stars (commit
32e16f2c2d2be9f38d710e782236315e0821a038, ``viz.ipynb``: ``get_data_EN``/``get_data_ZH``,
``reduce_duplicate``, ``get_reasoning_score``), which LOOM-Scope 0.8 runs unchanged for LOOMBench
(``benchmarks/Reasoning/Counting_Stars/utils/evaluation/metrics.py``, PyPI ``loom-scope``):

- the model's answer is a JSON object whose ``little_penguin`` (English) or ``小企鹅`` (Chinese) key
  holds the list of counts, possibly inside a ```json fence; of that list the first m entries are
  kept (m = the number of stars) and repeats dropped;
- acquisition: the share of the m true counts found in the list;
- reasoning: per star, 1 if only the right count is listed, 0.5 if both the right and the stated wrong
  count are, 0.25 if only the wrong one is, 0 if neither; the mean over the m stars. The wrong counts
  are the sample's ``wrong_counts`` (record ``meta``).

Where this differs from the official scorer:
- the list is read with a pattern, not with ``json_repair``: the numbers between the key's ``[`` and
  the next ``]`` (or the end of a cut-off answer, which json_repair also completes); numbers match by
  value, so a quoted "15" counts (json_repair would keep it a string, never equal to 15);
- an answer with no such key scores 0 officially; here the numbers of the whole answer stand in for
  the list, so free-text answers (the LOOMBench-lite prompt asks for none) are still scored. For
  JSON answers, as LOOMBench's prompts ask, the two agree;
- LOOM-Scope rounds each sample's score to 2 decimals; scores are kept exact here.
"""

from __future__ import annotations

import re
from typing import Any

from loomcore.errors import InputError

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# The penguin's key in either language, then its list up to the closing bracket or the end.
_KEYED_LIST = re.compile(r"[\"'](?:little_penguin|小企鹅)[\"']\s*:\s*\[([^\]]*)")


def predicted_counts(prediction: str, m: int) -> set[float]:
    """The counts the answer lists: its first ``m`` numbers (the official ``reduce_duplicate``),
    repeats dropped."""
    keyed = _KEYED_LIST.search(prediction)
    text = keyed.group(1) if keyed else prediction
    return {float(n) for n in _NUMBER.findall(text)[:m]}


def _value(count: str) -> float | None:
    try:
        return float(count)
    except ValueError:
        return None


def counting_stars_acquisition(prediction: str, references: list[str]) -> float:
    """Counting-Stars multi-evidence acquisition: the share of the true counts (``references``)
    found in the model's list."""
    if not references:
        return 0.0
    listed = predicted_counts(prediction, len(references))
    return sum(1.0 for ref in references if _value(ref) in listed) / len(references)


# (right count listed, wrong count listed) -> the star's reasoning score (get_reasoning_score).
_REASONING_SCORE = {(True, False): 1.0, (True, True): 0.5, (False, True): 0.25, (False, False): 0.0}


def counting_stars_reasoning(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """Counting-Stars multi-evidence reasoning: per star, 1 / 0.5 / 0.25 / 0 as the model lists the
    right count alone / both / the wrong one alone / neither; the mean over the stars."""
    wrong = meta.get("wrong_counts")
    if not isinstance(wrong, list) or len(wrong) != len(references):
        raise InputError("metrics: counting_stars_reasoning needs each sample's wrong_counts (one per reference) "
                         "in the record meta — use it on Counting-Stars reasoning data, or use "
                         "counting_stars_acquisition")
    if not references:
        return 0.0
    listed = predicted_counts(prediction, len(references))
    return sum(_REASONING_SCORE[(_value(right) in listed, _value(miss) in listed)]
               for right, miss in zip(references, wrong)) / len(references)


METRICS = {"counting_stars_acquisition": counting_stars_acquisition}
CONTEXT_METRICS = {"counting_stars_reasoning": counting_stars_reasoning}
