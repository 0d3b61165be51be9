"""LV-Eval's scorers (keyword-recall-gated F1, plain F1, blacklisted ROUGE-L), from its definitions.

Re-implemented from infinigence/LVEval ``metrics.py``, ``config.py`` (``DATASET_METRIC``) and
``evaluation.py`` (``scorer``), read at commit 63e7ae939bd347c76b2cdb1cebfb216faca26897. Faithful,
quirks included:
- Only the *first* reference is scored (``scorer`` breaks after one ground truth); no reference
  scores 0.
- ``lveval_f1`` (English mixup sets): when the row has answer keywords (``answer_keywords``, kept in
  the record's ``meta``), the recall of the normalised keyword tokens among the prediction's tokens,
  not counting the English blacklist words, must reach 0.2, else the score is 0; then the plain token
  F1 with the reference. The blacklist only gates: the F1 itself counts every word (the README says
  the second stage removes blacklisted words; the code does not).
- ``lveval_f1_zh`` (Chinese mixup sets): the same on normalised jieba tokens with the Chinese
  blacklist and a 0.4 threshold; a row without keywords is gated by the reference itself.
- ``lveval_qa_f1`` / ``lveval_qa_f1_zh`` (factrecall_en / factrecall_zh): the plain F1s
  (``harness.metrics.text.qa_f1`` and ``harness.metrics.longbench.qa_f1_zh``) on the first reference.
- ``lveval_rouge_zh`` (dureader_mixup): jieba tokens of the jieba-joined text (upstream cuts twice),
  each normalised, blacklisted ones dropped, then ROUGE-L as the ``rouge`` package 1.0.1 computes it
  (``harness.metrics.text.rouge_l``, exact).

Not matched exactly:
- Keywords that normalise to no token divide by zero upstream; here the gate is then skipped.
- LOOM-Scope 0.8 (``benchmarks/Reasoning/LVEval``) scores the best over all references instead of
  the first, and reads the keywords from a ``gold_ans`` field that LV-Eval's rows call
  ``answer_keywords``; where its rows lack ``gold_ans`` it skips the English gate and gates Chinese
  sets by the reference. This module keeps the official definitions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.metrics.longbench import _jieba_tokens, normalize_zh, qa_f1_zh
from harness.metrics.text import _token_f1, normalize_answer, qa_f1, rouge_l

# metrics.py ABANDON_WORDS_EN / ABANDON_WORDS_ZH: words that never count towards keyword recall.
BLACKLIST_EN = frozenset((
    "and", "to", "of", "in", "her", "was", "with", "for", "it", "from", "is", "that", "his", "he", "by",
    "she", "they", "or", "at", "because", "be", "on", "are", "their", "what", "as", "had", "were", "about",
    "being", "this", "who", "but", "have", "has", "when", "which", "does"))
BLACKLIST_ZH = frozenset((
    "的", "和", "是", "等", "在", "年", "可以", "为", "与", "‰", "了", "或", "一种", "月", "c", "至", "日", "有",
    "进行", "于", "不", "中", "×", "根据", "小", "由", "亩", "也", "要", "指", "法", "会", "元", "主要", "以及",
    "通过", "首先", "对", "然后", "号", "以", "所", "后", "丁", "包括", "无", "将", "用", "能", "形", "方面",
    "因素", "位于", "而", "从", "到", "一定", "用于", "但", "使用", "让", "具有", "并", "亿元", "万元", "上", "类",
    "基于", "才", "来", "地", "片", "其他", "个", "或者", "变得", "时", "给", "你", "使", "条", "受", "已经", "带",
    "度"))
RECALL_THRESHOLD_EN = 0.2
RECALL_THRESHOLD_ZH = 0.4


def _keywords(meta: dict[str, Any]) -> str:
    value = meta.get("answer_keywords")
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value or ""


def _keyword_recall(prediction: list[str], keywords: list[str], blacklist: frozenset[str]) -> float | None:
    if not keywords:
        return None
    common = Counter(prediction) & Counter(keywords)
    return sum(n for word, n in common.items() if word not in blacklist) / len(keywords)


def _zh_tokens(text: str) -> list[str]:
    return [t for t in (normalize_zh(tok) for tok in _jieba_tokens(text)) if t]


def lveval_f1(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """``qa_f1_score_with_gold_ans``: F1 with the reference once enough answer keywords are present."""
    if not references:
        return 0.0
    pred = normalize_answer(prediction).split()
    keywords = _keywords(meta)
    if keywords:
        recall = _keyword_recall(pred, normalize_answer(keywords).split(), BLACKLIST_EN)
        if recall is not None and recall < RECALL_THRESHOLD_EN:
            return 0.0
    return _token_f1(pred, normalize_answer(references[0]).split())


def lveval_f1_zh(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """``qa_f1_zh_score_with_gold_ans``: the Chinese F1, gated by keyword (else reference) recall."""
    if not references:
        return 0.0
    pred, ref = _zh_tokens(prediction), _zh_tokens(references[0])
    recall = _keyword_recall(pred, _zh_tokens(_keywords(meta) or references[0]), BLACKLIST_ZH)
    if recall is not None and recall < RECALL_THRESHOLD_ZH:
        return 0.0
    return _token_f1(pred, ref)


def lveval_qa_f1(prediction: str, references: list[str]) -> float:
    """factrecall_en: ``qa_f1_score`` on the first reference."""
    return qa_f1(prediction, references[:1]) if references else 0.0


def lveval_qa_f1_zh(prediction: str, references: list[str]) -> float:
    """factrecall_zh: ``qa_f1_zh_score`` on the first reference."""
    return qa_f1_zh(prediction, references[:1]) if references else 0.0


def _blacklisted_zh(text: str) -> str:
    twice_cut = _jieba_tokens(" ".join(_jieba_tokens(text)))
    return " ".join(t for t in (normalize_zh(tok) for tok in twice_cut) if t not in BLACKLIST_ZH)


def lveval_rouge_zh(prediction: str, references: list[str]) -> float:
    """dureader_mixup: ``rouge_zh_score_blacklist`` on the first reference."""
    if not references:
        return 0.0
    return rouge_l(_blacklisted_zh(prediction), [_blacklisted_zh(references[0])])


METRICS = {
    "lveval_qa_f1": lveval_qa_f1,
    "lveval_qa_f1_zh": lveval_qa_f1_zh,
    "lveval_rouge_zh": lveval_rouge_zh,
}

CONTEXT_METRICS = {
    "lveval_f1": lveval_f1,
    "lveval_f1_zh": lveval_f1_zh,
}
