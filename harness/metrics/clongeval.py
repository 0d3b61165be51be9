"""CLongEval's scorers, re-implemented from its definitions.

Read at zexuanqiu/CLongEval commit 81ba789bdbf83b88579c0a0ae780fa04090899cd: ``metrics.py``,
``post_processing_for_stacked_tasks.py`` and ``eval.py`` (``dataset2metric``; a task's score is the
mean over its samples x100, ``harness.scoring``); LOOM-Scope 0.8 carries the same files under
``benchmarks/Specialization/CLongEval/utils/evaluation``. Each row has one reference (``answer``).

- ``clongeval_qa_f1_zh`` (1-1 long story QA, 1-2 long conversation memory): ``qa_f1_zh_score``: the
  prediction stripped, cut to its first line and before the first "问题：", then the token F1 of the
  normalised jieba tokens (``normalize_zh_answer`` = LongBench's: lower-case, ASCII and CJK punctuation
  and whitespace dropped; empty tokens dropped).
- ``clongeval_rouge_l_zh`` (2-1 summarization): ``rouge_zh_score``: 0 for an empty prediction, else
  ROUGE-L F (``rouge`` package 1.0.1) of the jieba-joined texts (``harness.metrics.text.rouge_l_score``).
- ``clongeval_news_labeling`` (3-1): the (news number, label) pairs the prediction's lines give by the
  first of three patterns that matches a line; the reference's lines by ``新闻\\s(\\d+)[：](\\w+)``;
  score = distinct shared pairs / reference lines.
- ``clongeval_typo_detection`` (3-2): each prediction line (cut at "（") by the first of six patterns
  gives (paragraph, wrong char, correct char); where the prediction has a blank line, only those
  triples that the two block patterns also find *in the last line* survive (upstream's code searches
  the loop's last ``cur_typo``, not each block, and one line never holds their newlines: a prediction
  with a blank line scores 0, upstream as here). Prediction and reference lines are compared on
  paragraph id and wrong character; score = distinct shared / reference lines.
- ``clongeval_edit_score`` (4-1 key-passage retrieval): the prediction cut before "键："; both texts
  without punctuation; 1 - Levenshtein distance / the longer length.
- ``clongeval_table_match`` (4-2 table querying): 1 if the reference without punctuation is a
  substring of the prediction without punctuation (an empty reference matches anything).

Not matched exactly (upstream raises; here a score):
- ``rouge_zh_score`` raises on a prediction of whitespace only and ``retrieval_zh_edit_score`` when
  both texts are empty after dropping punctuation: 0 here. A news reference line the pattern does
  not match raises upstream; here it counts as a reference line no prediction can match.
- ROUGE-L: CLongEval's eval.py raises Python's recursion limit to 10000; ``rouge_l_score`` models
  LongBench's limit of 1000 frames, so a pair of more than about 990 jieba words together scores 0
  here where upstream scores it.
- Upstream's eval.py rewrites the typo-detection reference for its own non-GPT-4 inference files
  (an ad-hoc fix tied to their format); LOOM-Scope does not and neither does this module.
"""

from __future__ import annotations

import re

from harness.metrics.longbench import _ZH_PUNCTUATION, _jieba_tokens, normalize_zh
from harness.metrics.text import _token_f1, rouge_l_score


def _remove_punc(text: str) -> str:
    return "".join(ch for ch in text if ch not in _ZH_PUNCTUATION)


def _zh_tokens(text: str) -> list[str]:
    return [t for t in (normalize_zh(tok) for tok in _jieba_tokens(text)) if t]


def clongeval_qa_f1_zh(prediction: str, references: list[str]) -> float:
    """``qa_f1_zh_score``: first line, cut before 问题：, then the jieba token F1."""
    if not references:
        return 0.0
    prediction = prediction.strip()
    if "\n" in prediction:
        prediction = prediction.split("\n")[0]
    if "问题：" in prediction:
        prediction = prediction[:prediction.find("问题：")]
    return _token_f1(_zh_tokens(prediction), _zh_tokens(references[0]))


def clongeval_rouge_l_zh(prediction: str, references: list[str]) -> float:
    """``rouge_zh_score``: ROUGE-L F of the jieba-joined prediction and reference."""
    if not references or prediction == "":
        return 0.0
    return rouge_l_score(" ".join(_jieba_tokens(prediction)), " ".join(_jieba_tokens(references[0])))


_NEWS_PATTERNS = tuple(re.compile(p) for p in (
    r"新闻(\d+)，类别名：(\w+)", r"新闻(\d+)，类别名\d+：(\w+)", r"新闻\s?(\d+)[，：](\w+)"))
_NEWS_REFERENCE = re.compile(r"新闻\s(\d+)[：](\w+)")


def _first_match(patterns: tuple[re.Pattern[str], ...], line: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(line)
        if match:
            return "，".join(match.groups())
    return None


def news_labels(prediction: str) -> list[str]:
    """``news_labeling_pattern_match``: "number，label" of each line the patterns match."""
    found = (_first_match(_NEWS_PATTERNS, line) for line in prediction.split("\n"))
    return [pair for pair in found if pair is not None]


def clongeval_news_labeling(prediction: str, references: list[str]) -> float:
    """``news_labeling_zh_score``: distinct (number, label) pairs shared / reference lines."""
    if not references:
        return 0.0
    predicted = news_labels(prediction.strip())
    if not predicted:
        return 0.0
    lines = references[0].split("\n")
    gold = set()
    for line in lines:
        match = _NEWS_REFERENCE.search(line)
        if match:
            gold.add("，".join(match.groups()))
    return len(set(predicted) & gold) / len(lines)


_TYPO_PATTERNS = tuple(re.compile(p) for p in (
    r"段落ID：(\d+)[，,]错别字\d+，(\w+)[，,]正确字\d+，(\w+)",
    r"段落ID：(\d+)[，,]错别字，(\w+)[，,]正确字，(\w+)",
    r"段落ID：(\d+)[，,]错别字：(\w+)[，,]正确字：(\w+)",
    r"段落ID：(\d+)[，,]错别字\d+，(\w+)[，,](\w+)",
    r"段落ID：(\d+)[，,](\w+)[，,](\w+)",
    r"(\d+)[，,](\w+)[，,](\w+)",
))
_TYPO_BLOCK_PATTERNS = tuple(re.compile(p) for p in (
    r"段落ID：(\d+)\n错别字：(\w)\n正确字：(\w)", r"段落ID：(\d+)\n错别字：(\w)，正确字：(\w)"))


def typo_triples(prediction: str) -> list[str]:
    """``typo_detection_pattern_match``: "paragraph，wrong，correct" per line (see the module doc)."""
    found, line = [], ""
    for line in prediction.split("\n"):
        if line.find("（") != -1:
            line = line[:line.find("（")]
        triple = _first_match(_TYPO_PATTERNS, line)
        if triple is not None:
            found.append(triple)
    if len(prediction.split("\n\n")) == 1:
        return found
    block = _first_match(_TYPO_BLOCK_PATTERNS, line)  # upstream searches the last line only
    return list(set(found) & ({block} if block is not None else set()))


def _id_and_wrong(triple: str) -> str:
    return "".join(triple.split("，")[0:2])


def clongeval_typo_detection(prediction: str, references: list[str]) -> float:
    """``typo_detection_zh_score``: distinct (paragraph, wrong character) shared / reference lines."""
    if not references:
        return 0.0
    predicted = typo_triples(prediction.strip())
    if not predicted:
        return 0.0
    gold = [_id_and_wrong(line) for line in references[0].strip().split("\n")]
    return len({_id_and_wrong(t) for t in predicted} & set(gold)) / len(gold)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute, each 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a):
        current = [i + 1]
        for j, y in enumerate(b):
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x != y)))
        previous = current
    return previous[-1]


def clongeval_edit_score(prediction: str, references: list[str]) -> float:
    """``retrieval_zh_edit_score``: 1 - edit distance / longer length, punctuation dropped."""
    if not references:
        return 0.0
    if "键：" in prediction:
        prediction = prediction[:prediction.find("键：")]
    pred, ref = _remove_punc(prediction), _remove_punc(references[0])
    longest = max(len(pred), len(ref))
    return 1.0 - levenshtein(pred, ref) / longest if longest else 0.0


def clongeval_table_match(prediction: str, references: list[str]) -> float:
    """``table_querying_match_score``: the reference (punctuation dropped) inside the prediction."""
    if not references:
        return 0.0
    return 1.0 if _remove_punc(references[0]) in _remove_punc(prediction) else 0.0


METRICS = {
    "clongeval_qa_f1_zh": clongeval_qa_f1_zh,
    "clongeval_rouge_l_zh": clongeval_rouge_l_zh,
    "clongeval_news_labeling": clongeval_news_labeling,
    "clongeval_typo_detection": clongeval_typo_detection,
    "clongeval_edit_score": clongeval_edit_score,
    "clongeval_table_match": clongeval_table_match,
}
