"""L-CiteEval's scorers: answer correctness per task (judge-free) and citation quality (an NLI judge).

Re-implemented from ZetangForward/L-CITEEVAL ``script/eval_correct.py`` and ``script/eval_citation.py``
(commit 6e493267767adee12eee6e9e4492e3b585dc71c7) as LOOM-Scope 0.8 runs them
(``benchmarks/Faithfulness/L_CiteEval/utils/evaluation/eval_correct.py`` and ``eval_citation.py``;
LOOMBench's L-CiteEval column is ``eval_correct``'s score):

Answer correctness (registered metrics). The answer is the stripped generation up to its first
newline, with citations removed (``remove_citations``: ``[N`` and `` [N`` dropped, then `` |`` and
every ``]``).
- ``l_citeeval_qa_f1`` (narrativeqa, natural_questions, hotpotqa, 2wikimultihopqa, locomo, dialsim):
  SQuAD token F1 (``harness.metrics.text.qa_f1``), best reference.
- ``l_citeeval_rouge_l`` (gov_report, multi_news, qmsum): when 'summary' is in the first 100
  characters the text after the first ':' is kept; ROUGE-L as the ``rouge`` package 1.0.1 computes it
  (``harness.metrics.text.rouge_l``, exact), best reference; empty -> 0.
- ``l_citeeval_niah_rouge1_recall`` (niah): ROUGE-1 recall as the ``rouge`` package (pltrdy) computes
  it: sentences split at '.', words split at single spaces, unigram *sets*, no lower-casing.
- ``l_citeeval_counting_stars_accuracy`` (counting_stars): the JSON object between the first '{' and
  the first '}' of the generation; the share of the true counts (read from the docs, "The little
  penguin counted N ★") among its first len(true) ``little_penguin`` values.
- ``l_citeeval_niah_citation_f1``, ``l_citeeval_counting_stars_citation_f1``: ``eval_citation.py``'s
  judge-free citation F1 for these two tasks (the cited passage ids against the passages holding the
  needle or the counts; at most 3 citations for niah).

Citation quality with the NLI judge (``citation_scores``, not registered; names in the benchmark's
``judge_metrics``): each sentence of the generation is a claim; its citations (at most 3) are joined
as "Passage: ..." premises; recall is the share of sentences the joint premise entails; a citation
is precise unless the sentence is entailed by the other citations without it while not by it
alone; F1 per sample, averaged (LOOM-Scope scores a generation with no sentence 0; upstream skips it).

Not matched exactly:
- A summary that mentions 'summary' early but has no ':' is skipped by LOOM-Scope (left out of the
  mean) and counted 0 by upstream; it scores 0 here.
- An empty or sentence-less niah answer makes upstream index the float 0.0 (a crash in L-CiteEval's
  script, 0 in LOOM-Scope); it scores 0 here.
- Upstream splits sentences with NLTK's Punkt; ``split_sentences`` here splits after '.', '!' or '?'
  followed by whitespace (no abbreviation list). Pass another splitter to ``citation_scores`` to
  match Punkt exactly.
- Upstream's special case for Llama3-ChatQA-2-70B (JSON without braces) is not reproduced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from harness.metrics.text import qa_f1, rouge_l
from loomcore.errors import InputError

_CITATION = re.compile(r"\[\d+")
_SPACED_CITATION = re.compile(r" \[\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PENGUIN = "The little penguin counted"
_PENGUIN_COUNT = re.compile(r"The little penguin counted (\d+) ★")
AT_MOST_CITATIONS = 3

Document = str | dict[str, Any]


def remove_citations(sentence: str) -> str:
    """Upstream ``remove_citations``."""
    return _CITATION.sub("", _SPACED_CITATION.sub("", sentence)).replace(" |", "").replace("]", "")


def answer_line(generation: str) -> str:
    """The stripped generation up to its first newline, as both scripts read answers."""
    return generation.strip().split("\n")[0]


def cited_passages(sentence: str) -> list[int]:
    """0-based passage indices of the ``[N`` citations in ``sentence`` ('[0' gives -1, as upstream)."""
    return [int(match[1:]) - 1 for match in _CITATION.findall(sentence)]


def _doc_text(doc: Document) -> str:
    return doc["text"] if isinstance(doc, dict) else doc


def _docs(meta: dict[str, Any], metric: str) -> list[Document]:
    docs = meta.get("docs")
    if not isinstance(docs, list):
        raise InputError(f"{metric}: the record has no meta.docs list — keep 'docs' in the benchmark's meta_fields")
    return docs


# ---- answer correctness (eval_correct.py)

def answer_f1(prediction: str, references: list[str]) -> float:
    return qa_f1(remove_citations(answer_line(prediction)), references)


def summary_rouge_l(prediction: str, references: list[str]) -> float:
    text = prediction.strip()
    if "summary" in text[:100].lower():
        if ":" not in text:
            return 0.0
        text = text[text.index(":") + 1:].strip()
    text = remove_citations(answer_line(text))
    return rouge_l(text, references) if text else 0.0


def _pltrdy_unigrams(text: str) -> set[tuple[str, ...]] | None:
    """The ``rouge`` package's unigram set of a text, or None where it raises (no sentence)."""
    sentences = [" ".join(part.split()) for part in text.split(".") if len(part) > 0]
    if not sentences:
        return None
    return {(word,) for sentence in sentences for word in sentence.split(" ")}


def rouge1_recall(prediction: str, references: list[str]) -> float:
    hypothesis = _pltrdy_unigrams(remove_citations(answer_line(prediction)))
    best = 0.0
    for ref in references:
        reference = _pltrdy_unigrams(ref)
        if hypothesis is None or not reference:
            continue
        best = max(best, len(hypothesis & reference) / len(reference))
    return best


def _json_answer(generation: str) -> dict[str, Any] | None:
    text = generation.strip()
    try:
        answer = json.loads(text[text.index("{"): text.index("}") + 1])
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def counting_stars_accuracy(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    counts = [int(m.group(1)) for doc in _docs(meta, "l_citeeval_counting_stars_accuracy")
              if _PENGUIN in _doc_text(doc) and (m := _PENGUIN_COUNT.search(_doc_text(doc)))]
    answer = _json_answer(prediction)
    if not counts or answer is None or not isinstance(answer.get("little_penguin"), list):
        return 0.0
    found = sum(1 for value in answer["little_penguin"][:len(counts)] if value in counts)
    return found / len(counts)


# ---- judge-free citation F1 (eval_citation.py: niah, counting_stars)

def niah_citation_f1(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    needle = references[0] if references else ""
    gold = next((i for i, doc in enumerate(_docs(meta, "l_citeeval_niah_citation_f1"))
                 if needle in _doc_text(doc)), None)
    cited = cited_passages(answer_line(prediction))[:AT_MOST_CITATIONS]
    if gold is None or gold not in cited:
        return 0.0
    precision = 1 / len(cited)
    return 2 * precision / (1 + precision)


def counting_stars_citation_f1(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    gold = [i + 1 for i, doc in enumerate(_docs(meta, "l_citeeval_counting_stars_citation_f1"))
            if _PENGUIN in _doc_text(doc)]
    answer = _json_answer(prediction)
    ids = answer.get("passage_id") if answer else None
    if not isinstance(ids, list) or not ids:
        return 0.0
    try:
        ids = list(set(ids))
    except TypeError:  # unhashable ids: upstream raises, nothing here to score
        return 0.0
    correct = sum(1 for passage in ids if passage in gold)
    precision = correct / len(ids)
    recall = correct / len(gold) if gold else 0.0
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


# ---- citation quality with an NLI judge (eval_citation.py compute_autoais)

def split_sentences(text: str) -> list[str]:
    """Sentences end at '.', '!' or '?' before whitespace (upstream uses NLTK Punkt)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def format_document(doc: Document) -> str:
    """Upstream ``_format_document``: the NLI premise for one passage."""
    if isinstance(doc, dict):
        return f"Title: {doc['title']}\nPassage: {doc['text']}"
    return f"Passage: {doc}"


def citation_scores(generation: str, docs: Sequence[Document], entails: Callable[[str, str], bool],
                    at_most_citations: int | None = AT_MOST_CITATIONS,
                    sentences: Callable[[str], list[str]] = split_sentences) -> dict[str, float]:
    """Citation recall, precision and F1 of one generation, ``entails(premise, hypothesis)`` being
    the NLI judge."""
    claims = sentences(generation)
    if not claims:
        return {"recall": 0.0, "precision": 0.0, "f1": 0.0}

    def premise(ids: list[int]) -> str:
        return "\n".join(format_document(docs[i]) for i in ids)

    supported = precise = total_citations = 0
    for sentence in claims:
        claim = remove_citations(sentence).strip()
        cited = cited_passages(sentence)
        if not cited or any(i >= len(docs) for i in cited):
            entailed = False
        else:
            cited = cited[:at_most_citations]
            total_citations += len(cited)
            entailed = bool(entails(premise(cited), claim))
        supported += entailed
        if entailed and len(cited) > 1:
            for passage in cited:
                if entails(format_document(docs[passage]), claim):
                    precise += 1
                    continue
                others = list(cited)
                others.remove(passage)
                precise += not entails(premise(others), claim)
        else:
            precise += entailed
    recall = supported / len(claims)
    precision = precise / total_citations if total_citations else 0.0
    f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    return {"recall": recall, "precision": precision, "f1": f1}


METRICS = {
    "l_citeeval_qa_f1": answer_f1,
    "l_citeeval_rouge_l": summary_rouge_l,
    "l_citeeval_niah_rouge1_recall": rouge1_recall,
}
CONTEXT_METRICS = {
    "l_citeeval_counting_stars_accuracy": counting_stars_accuracy,
    "l_citeeval_niah_citation_f1": niah_citation_f1,
    "l_citeeval_counting_stars_citation_f1": counting_stars_citation_f1,
}
