"""Text scorers re-implemented from the official definitions of RULER, LongBench and LOOM-Scope's NIAH."""

from __future__ import annotations

import re
import string
from collections import Counter

_CONTROL = re.compile(r"[\x00-\x1f]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def ruler_postprocess(prediction: str) -> str:
    """RULER ``postprocess_pred`` (scripts/eval/evaluate.py): control characters become newlines,
    then the text is stripped."""
    return _CONTROL.sub("\n", prediction).strip()


def string_match_all(prediction: str, references: list[str]) -> float:
    """RULER ``string_match_all`` (scripts/eval/synthetic/constants.py): the share of references
    found, case-insensitively, as substrings of the prediction."""
    pred = ruler_postprocess(prediction).lower()
    return sum(1.0 for ref in references if ref.lower() in pred) / len(references)


def string_match_part(prediction: str, references: list[str]) -> float:
    """RULER ``string_match_part``: 1 if any reference is a case-insensitive substring."""
    pred = ruler_postprocess(prediction).lower()
    return max(1.0 if ref.lower() in pred else 0.0 for ref in references)


def exact_match(prediction: str, references: list[str]) -> float:
    """1 if the stripped prediction equals any stripped reference (no other normalisation)."""
    pred = prediction.strip()
    return 1.0 if any(pred == ref.strip() for ref in references) else 0.0


def normalize_answer(text: str) -> str:
    """LongBench/SQuAD ``normalize_answer`` (LongBench metrics.py): lower-case, drop punctuation,
    drop the articles a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _token_f1(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    common = Counter(prediction_tokens) & Counter(reference_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


def qa_f1(prediction: str, references: list[str]) -> float:
    """LongBench ``qa_f1_score``: token F1 of the normalised texts, the best over references
    (LongBench's ``scorer`` takes the max over ground truths)."""
    pred = normalize_answer(prediction).split()
    return max(_token_f1(pred, normalize_answer(ref).split()) for ref in references)


def _lcs_length(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


# Python's default recursion limit, and the frames below the ``rouge`` package's recursive LCS
# backtrack when LongBench's eval.py scores (the module, scorer, rouge_score, get_scores,
# _get_avg_scores, the metric lambda, rouge_l_summary_level, _union_lcs, _recon_lcs).
_RECURSION_LIMIT = 1000
_FRAMES_BELOW = 9


class _TooDeep(Exception):
    """Where the ``rouge`` package's backtrack would raise RecursionError (its callers then score 0)."""


def _rouge_sentences(text: str) -> list[str]:
    """The ``rouge`` package's sentences: split at every '.', pieces of length 0 dropped, each
    piece's whitespace runs made one space (a piece of spaces becomes an empty sentence, and kept)."""
    return [" ".join(piece.split()) for piece in text.split(".") if len(piece) > 0]


def _rouge_lcs_words(x: list[str], y: list[str], limit: int | None = _RECURSION_LIMIT) -> set[str]:
    """The words of the one LCS of ``x`` (reference words) and ``y`` (evaluated words) that the
    package's backtrack finds: on a tie it steps back in ``y``. Raises _TooDeep where the package's
    recursion would pass ``limit`` (Python's recursion limit; None: no limit, for a caller that
    raised it)."""
    previous = [0] * (len(y) + 1)
    table = [previous]
    for a in x:
        row = [0]
        for j, b in enumerate(y, 1):
            row.append(previous[j - 1] + 1 if a == b else max(previous[j], row[j - 1]))
        table.append(row)
        previous = row
    i, j, depth, words = len(x), len(y), 1, set()
    while i > 0 and j > 0:
        depth += 1
        if x[i - 1] == y[j - 1]:
            words.add(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    if limit is not None and depth + _FRAMES_BELOW > limit:
        raise _TooDeep
    return words


def rouge_l_score(prediction: str, reference: str) -> float:
    """ROUGE-L F of one prediction against one reference exactly as LongBench's ``rouge_score``
    computes it with the ``rouge`` package 1.0.1 (pltrdy; ``Rouge().get_scores([p], [r], avg=True)
    ["rouge-l"]["f"]``, 0 on any exception): case-sensitive words split on spaces, sentences split
    at every '.', summary-level LCS over *distinct* words (the package's ``exclusive`` default: the
    union of LCS words is a set, and recall and precision divide by the numbers of distinct words),
    F = 2PR / (P + R + 1e-8). Read at pltrdy/rouge 1.0.1 (PyPI), ``rouge/rouge.py`` and
    ``rouge/rouge_score.py``; ``tests/test_rouge_upstream.py`` compares it with the package itself.

    Where the package's recursive LCS backtrack needs more than Python's 1000 frames (a sentence
    pair of about 990 words together, e.g. a prediction without a '.'), it raises and the sample
    scores 0; this function scores 0 there too, at the depth LongBench's eval.py reaches it (a
    caller with a different stack depth moves that threshold by a few words)."""
    hyp, ref = _rouge_sentences(prediction), _rouge_sentences(reference)
    if not hyp or not ref:
        return 0.0  # "Hypothesis is empty." / "Reference is empty."
    ref_words = [w for sentence in ref for w in sentence.split(" ")]
    hyp_words = [w for sentence in hyp for w in sentence.split(" ")]
    union: set[str] = set()
    llcs = 0
    try:
        for ref_sentence in ref:
            before = len(union)
            for hyp_sentence in hyp:
                union |= _rouge_lcs_words(ref_sentence.split(" "), hyp_sentence.split(" "))
            llcs += len(union) - before
    except _TooDeep:
        return 0.0
    r_lcs = llcs / len(set(ref_words))
    p_lcs = llcs / len(set(hyp_words))
    return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))


def rouge_l(prediction: str, references: list[str]) -> float:
    """ROUGE-L as LongBench (``rouge_score``), LV-Eval and L-CiteEval score it with the ``rouge``
    package (see ``rouge_l_score``): the best over the references (0 with none)."""
    return max((rouge_l_score(prediction, ref) for ref in references), default=0.0)


_CHOICE = re.compile(r"\(?\b([A-D])\b\)?")


def multiple_choice_accuracy(prediction: str, references: list[str]) -> float:
    """1 if the first choice letter (A-D) in the prediction (bare or in parentheses) is the reference
    letter. Benchmarks with their own extraction (LongBench-v2's 'The correct answer is (X)') use
    their own metric instead (``harness.metrics.longbench_v2``)."""
    match = _CHOICE.search(prediction)
    return 1.0 if match and match.group(1) in {r.strip() for r in references} else 0.0


def niah_word_recall(prediction: str, references: list[str]) -> float:
    """LOOM-Scope's NIAH score (benchmarks/Retrieve/NIAH/utils/evaluation/eval.py, loom-scope 0.8):
    the share of the reference's distinct words (lower-cased, split on whitespace, punctuation kept)
    found among the prediction's; the best over references. LOOM-Scope reports it x100 rounded to
    2 decimals per sample; it is kept exact here."""
    predicted = set(prediction.lower().split())
    best = 0.0
    for ref in references:
        words = set(ref.lower().split())
        if words:
            best = max(best, len(predicted & words) / len(words))
    return best


def answered(prediction: str, references: list[str]) -> float:
    """1 when the model answered anything visible (no upstream metric): the plain metric of a benchmark
    that only a judge scores (LongCite, LongSafety), which counts in no benchmark, capability or suite
    mean (``Benchmark.judged_only``)."""
    return 1.0 if prediction.strip() else 0.0


METRICS = {
    "answered": answered,
    "exact_match": exact_match,
    "string_match_all": string_match_all,
    "string_match_part": string_match_part,
    "qa_f1": qa_f1,
    "rouge_l": rouge_l,
    "multiple_choice_accuracy": multiple_choice_accuracy,
    "niah_word_recall": niah_word_recall,
}
