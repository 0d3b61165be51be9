"""LongWriter's scorers: the judge-free length score S_l, and the LLM-judge quality score S_q.

Re-implemented from THUDM/LongWriter ``evaluation/`` at commit
ca6ccd4dec16696d1b8c449b12901c88d4cbf442 (LOOM-Scope 0.8 ``benchmarks/Generation/LongWriter`` uses
the same formulas; LOOMBench's LongWriter column is S_l):

- ``count_words`` (pred.py): CJK ideographs U+4E00-U+9FFF plus ASCII words ``\\b[a-zA-Z]+\\b``;
- S_l (eval_length.py, ``score(x, y)`` with x the required and y the produced length):
  100 * max(0, 1 - (y/x - 1)/3) when y > x, else 100 * max(0, 1 - (x/y - 1)/2); here in [0, 1].
  Upstream divides by zero when the answer has no word; that scores 0 here.
- S_q (eval_quality.py): a judge model reads ``judge.txt`` (``QUALITY_JUDGE_PROMPT``, text kept) and
  answers JSON with six 1-5 scores; a reply is read after cutting a ```json fence and dropping
  newlines; up to 5 tries, counted as upstream's loop counts them: a reply that does not parse costs
  1; a JSON object missing dimensions costs 2 (its first missing dimension sets the scores to None,
  and checking the next one on None raises), or 1 when the first missing one is the last dimension;
  a sample with no valid reply is left out; per dimension
  (mean - 1) * 25, and the total is the mean of the six. The judge model and its sampling
  (gpt-4o-2024-05-13, temperature 0.5 upstream) are the judge's settings, not this module's.

The quality score needs a judge model, so it is not a registered metric: ``quality_scores`` and
``quality_summary`` take the judge as a callable ``judge(prompt) -> reply``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from loomcore.errors import InputError

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"\b[a-zA-Z]+\b")
_JSON_FENCE = re.compile(r"```json\n(.*?)\n```", re.DOTALL)

QUALITY_DIMENSIONS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth", "Reading Experience")
QUALITY_TRIES = 5
QUALITY_JUDGE_PROMPT = """You are an expert in evaluating text quality. Please evaluate the quality of an AI assistant's response to a user's writing request. Be as strict as possible.

You need to evaluate across the following six dimensions, with scores ranging from 1 to 5. The scoring criteria from 5 to 1 for each dimension are as follows:

1. Relevance: From content highly relevant and fully applicable to the user's request to completely irrelevant or inapplicable.

2. Accuracy: From content completely accurate with no factual errors or misleading information to content with numerous errors and highly misleading.

3. Coherence: From clear structure with smooth logical connections to disorganized structure with no coherence.

4. Clarity: From clear language, rich in detail, and easy to understand to confusing expression with minimal details.

5. Breadth and Depth: From both broad and deep content with a lot of information to seriously lacking breadth and depth with minimal information.

6. Reading Experience: From excellent reading experience, engaging and easy to understand content to very poor reading experience, boring and hard to understand content.

Please evaluate the quality of the following response to a user's request according to the above requirements.

<User Request>

$INST$

</User Request>

<Response>

$RESPONSE$

</Response>

Please evaluate the quality of the response. You must first provide a brief analysis of its quality, then give a comprehensive analysis with scores for each dimension. The output must strictly follow the JSON format: {"Analysis": ..., "Relevance": ..., "Accuracy": ..., "Coherence": ..., "Clarity": ..., "Breadth and Depth": ..., "Reading Experience": ...}. You do not need to consider whether the response meets the user's length requirements in your evaluation. Ensure that only one integer between 1 and 5 is output for each dimension score."""


def count_words(text: str) -> int:
    """Upstream ``count_words``: Chinese characters plus English words."""
    return len(_CJK.findall(text)) + len(_ENGLISH_WORD.findall(text))


def length_score(required: int, produced: int) -> float:
    """S_l / 100: over-long answers lose a third per extra multiple, short ones half per missing one."""
    if produced <= 0:
        return 0.0
    if produced > required:
        return max(0.0, 1.0 - (produced / required - 1) / 3)
    return max(0.0, 1.0 - (required / produced - 1) / 2)


def length_metric(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """``longwriter_length_score``: S_l of the answer against the sample's required ``length``."""
    required = meta.get("length")
    if not isinstance(required, (int, float)) or required <= 0:
        raise InputError(f"longwriter_length_score: the record's meta.length is {required!r}, not a positive "
                         "number of words — keep 'length' in the benchmark's meta_fields")
    return length_score(required, count_words(prediction))


def _read_reply(reply: str) -> tuple[dict[str, float] | None, int]:
    """The scores in one judge reply and the tries it costs, as eval_quality.py's ``process_data``
    counts them (``trys``): 1 for a reply that does not parse; for a JSON object missing dimensions,
    1 more for the first missing one (which sets ``scores = None``) and, unless that one was the last
    dimension, 1 more for the ``dim not in None`` TypeError the next check raises — so 2, or 1.

    Not as upstream: a reply that parses to a list or string naming every dimension, or whose scores
    are not numbers, is accepted upstream and then crashes its aggregation (``float(score[dim])``);
    here it costs 1 try, as a reply that does not parse."""
    if "```json" in reply:
        fenced = _JSON_FENCE.search(reply)
        if fenced is None:
            return None, 1
        reply = fenced.group(1)
    try:
        scores = json.loads(reply.replace("\n", ""))
    except ValueError:
        return None, 1
    if not isinstance(scores, dict):
        return None, 1
    missing = [dim for dim in QUALITY_DIMENSIONS if dim not in scores]
    if missing:
        return None, 1 if missing[0] == QUALITY_DIMENSIONS[-1] else 2
    try:
        return {dim: float(scores[dim]) for dim in QUALITY_DIMENSIONS}, 0
    except (ValueError, TypeError):
        return None, 1


def quality_scores(instruction: str, response: str, judge: Callable[[str], str],
                   tries: int = QUALITY_TRIES) -> dict[str, float] | None:
    """The judge's six 1-5 scores for one answer, or None when no reply parses within ``tries``."""
    prompt = QUALITY_JUDGE_PROMPT.replace("$INST$", instruction).replace("$RESPONSE$", response)
    used = 0
    while used < tries:
        scores, cost = _read_reply(judge(prompt))
        if scores is not None:
            return scores
        used += cost
    return None


def quality_summary(per_sample: list[dict[str, float] | None]) -> dict[str, float]:
    """Upstream's S_q (x100): per dimension (mean - 1) * 25 over the judged samples, and ``total``,
    the mean of the six. Samples the judge never scored (None) are left out, as upstream."""
    judged = [s for s in per_sample if s is not None]
    if not judged:
        raise InputError("longwriter quality: the judge scored no sample — check the judge model")
    summary = {dim: (sum(s[dim] for s in judged) / len(judged) - 1) * 25 for dim in QUALITY_DIMENSIONS}
    summary["total"] = sum(summary.values()) / len(QUALITY_DIMENSIONS)
    return summary


CONTEXT_METRICS = {"longwriter_length_score": length_metric}
