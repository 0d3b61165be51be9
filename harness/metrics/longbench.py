"""LongBench's scorers, re-implemented from the definitions in THUDM/LongBench ``metrics.py`` and
``eval.py`` (read at commit f6227eb7a25cacbd96310aea2c59af003f8d8925).

Faithful, quirks included, because the published numbers were produced with them:
- ``classification_score`` drops substring matches of the answer from its candidate list while
  iterating over that same list, so the candidate right after a dropped one is never examined; its
  fuzzy fall-back is unreachable upstream (``if em_match_list != 0`` is always true), so a prediction
  naming no class scores 0.
- ``code_sim_score`` keeps the first line without a backtick, '#' or '//' and compares it with
  fuzzywuzzy's ``fuzz.ratio``: ``round(100 * difflib.SequenceMatcher(None, a, b).ratio())`` (the
  pure-Python path; with python-Levenshtein installed upstream would use Levenshtein's ratio instead).
- Chinese F1 and ROUGE segment with jieba (``cut_all=False``). ROUGE-L is ``harness.metrics.text
  .rouge_l``: the ``rouge`` package 1.0.1's ROUGE-L, re-implemented exactly (case-sensitive, sentences
  split at '.', distinct words, 0 where the package raises); 3,000 random pairs and realistic summaries
  give the package's float bit for bit (tests/test_rouge_upstream.py).
- The task scorer takes the best score over the references, and for trec, triviaqa, samsum and lsht
  scores only the first line of the prediction (``FIRST_LINE_TASKS``; applied by the benchmark table).
"""

from __future__ import annotations

import difflib
import re
import string
from collections import Counter

from harness.metrics.text import qa_f1, rouge_l
from loomcore.errors import InputError

FIRST_LINE_TASKS = ("trec", "triviaqa", "samsum", "lsht")
_CN_PUNCTUATION = ("！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟"
                   "〰〾〿–—‘’‛“”„‟…‧﹏.")
_ZH_PUNCTUATION = set(string.punctuation + _CN_PUNCTUATION)


def first_line(prediction: str) -> str:
    return prediction.lstrip("\n").split("\n")[0]


def _share_equal(numbers: list[str], target: str) -> float:
    return 0.0 if not numbers else sum(n == target for n in numbers) / len(numbers)


def count_score(prediction: str, references: list[str]) -> float:
    """passage_count: the share of integers in the prediction equal to the true count."""
    numbers = re.findall(r"\d+", prediction)
    return max(_share_equal(numbers, str(ref)) for ref in references)


def _retrieval(prediction: str, references: list[str], label: str) -> float:
    numbers = re.findall(r"\d+", prediction)
    return max(_share_equal(numbers, re.findall(label + r"(\d+)", ref)[0]) for ref in references)


def retrieval_score(prediction: str, references: list[str]) -> float:
    """passage_retrieval_en: the share of integers in the prediction equal to the answer's 'Paragraph N'."""
    return _retrieval(prediction, references, "Paragraph ")


def retrieval_zh_score(prediction: str, references: list[str]) -> float:
    """passage_retrieval_zh: as ``retrieval_score`` with '段落N'."""
    return _retrieval(prediction, references, "段落")


def fuzz_ratio(a: str, b: str) -> int:
    """fuzzywuzzy ``fuzz.ratio`` on its pure-Python path."""
    return int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))


def code_sim_score(prediction: str, references: list[str]) -> float:
    """lcc, repobench-p: fuzzy similarity of the first code line with the reference line."""
    line = next((candidate for candidate in prediction.lstrip("\n").split("\n")
                 if "`" not in candidate and "#" not in candidate and "//" not in candidate), "")
    return max(fuzz_ratio(line, ref) / 100 for ref in references)


def classification_score(prediction: str, reference: str, all_classes: list[str]) -> float:
    """trec, lsht: 1/k when the answer is among the k class names found in the prediction."""
    matches = [name for name in all_classes if name in prediction]
    index = 0
    while index < len(matches):  # upstream removes from the list it iterates: the next item is skipped
        term = matches[index]
        if term in reference and term != reference:
            matches.pop(index)
            index += 1
            continue
        index += 1
    return 1.0 / len(matches) if reference in matches else 0.0


def _jieba_tokens(text: str) -> list[str]:
    import jieba

    return list(jieba.cut(text, cut_all=False))


def normalize_zh(text: str) -> str:
    """LongBench ``normalize_zh_answer``: lower-case, drop ASCII and CJK punctuation, drop whitespace."""
    return "".join(ch for ch in text.lower() if ch not in _ZH_PUNCTUATION and not ch.isspace())


def _f1(prediction: list[str], reference: list[str]) -> float:
    same = sum((Counter(prediction) & Counter(reference)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction), same / len(reference)
    return 2 * precision * recall / (precision + recall)


def qa_f1_zh(prediction: str, references: list[str]) -> float:
    """multifieldqa_zh, dureader-style QA: token F1 over normalised jieba tokens."""
    def tokens(text: str) -> list[str]:
        return [t for t in (normalize_zh(tok) for tok in _jieba_tokens(text)) if t]

    pred = tokens(prediction)
    return max(_f1(pred, tokens(ref)) for ref in references)


def rouge_l_zh(prediction: str, references: list[str]) -> float:
    """dureader, vcsum: ``rouge_zh_score``: the jieba-joined texts through the ``rouge`` package's ROUGE-L."""
    pred = " ".join(_jieba_tokens(prediction))
    return max(rouge_l(pred, [" ".join(_jieba_tokens(ref))]) for ref in references)


def qa_f1_first_line(prediction: str, references: list[str]) -> float:
    """triviaqa: ``qa_f1`` on the prediction's first line (eval.py scores only that line)."""
    return qa_f1(first_line(prediction), references)


def rouge_l_first_line(prediction: str, references: list[str]) -> float:
    """samsum: ``rouge_l`` on the prediction's first line (eval.py scores only that line)."""
    return rouge_l(first_line(prediction), references)


def classification_first_line(prediction: str, references: list[str], meta: dict) -> float:
    """trec, lsht: ``classification_score`` of the prediction's first line against the sample's
    ``all_classes`` (kept in the record's ``meta``), the best over the references."""
    classes = meta.get("all_classes")
    if not classes:
        raise InputError("meta/all_classes: the record keeps no class list — add 'all_classes' to the "
                         "benchmark's meta_fields and map it in the task's dataset.fields")
    line = first_line(prediction)
    return max(classification_score(line, ref, classes) for ref in references)


METRICS = {
    "longbench_count": count_score,
    "longbench_retrieval": retrieval_score,
    "longbench_retrieval_zh": retrieval_zh_score,
    "longbench_code_sim": code_sim_score,
    "qa_f1_zh": qa_f1_zh,
    "rouge_l_zh": rouge_l_zh,
    "qa_f1_first_line": qa_f1_first_line,
    "rouge_l_first_line": rouge_l_first_line,
}

CONTEXT_METRICS = {"longbench_classification": classification_first_line}
