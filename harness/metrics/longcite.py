"""LongBench-Cite's scorers (LongCite): the context in numbered sentences, the answer read back into
statements with cited sentence spans, and an LLM judge's correctness and citation recall/precision/F1.

Re-implemented from THUDM/LongCite ``LongBench-Cite/`` at commit d7d772e39fb15357749f54a2fe1e2dce77df5255:
``pred_one_shot.py`` (``process``: the context split by ``utils/retrieve.py``'s
``text_split_by_punctuation`` and numbered ``<C{i}>``; ``postprocess``/``get_citations``: statements and
their cited ``[s-e]`` spans, merged when adjacent, at most 3 per statement), ``eval_correct.py``
(correctness) and ``eval_cite.py`` + ``auto_scorer.py`` (citations):

- ``split_sentences``: upstream runs NLTK's untrained ``PunktSentenceTokenizer``, then splits after
  。；！？, falls back to paragraphs ('\\n\\n') when that leaves one piece, strips and drops empty
  pieces; each chunk runs from its sentence's start to the next one's.
- Correctness (``correctness_score``): the prediction without ``<cite>...</cite>`` and statement tags;
  per dataset one judge prompt: ``QA_PROMPT`` (multifieldqa_en/zh, hotpotqa, dureader; rating 1-3 ->
  (r - 1) / 2), ``SUMM_PROMPT`` (gov_report; 1-5 -> (r - 1) / 4), ``FEWSHOT_PROMPT`` (longbench-chat:
  the three scored example answers, the prediction on one line; 1-10 -> r / 10); the rating is the
  first number in the last ``[[...]]``; up to 5 tries (2 for longbench-chat), 0.5 when none parses;
  the best over the reference answers.
- Citations (``citation_scores``, at most 40 statements): recall is the mean over statements of the
  judge's support of the statement by its cited text (Fully 1, Partially 0.5, else 0), or for a
  statement without citation 1 - "needs citation" (Yes 1, else 0); precision is the mean over all
  citations of "relevant" (1 unless the rating says "unrelevant"); an empty list scores 0; F1 of the
  two. Every judge reply is read from the first ``[[...]]`` of letters, up to 5 tries; a judgment that
  never parses makes upstream raise and drop the sample: here the sample is left unjudged.

Not matched exactly:
- NLTK is not a dependency here: ``split_sentences`` splits after '.', '?' or '!' (with any closing
  quotes or brackets) before whitespace, which is what an untrained Punkt does but for its
  orthographic rules (Punkt keeps e.g. an initial followed by a lower-case word together).
- The judge is one pinned model with one generation setting: upstream asks the citation judge for
  10 tokens, stopping at "Analysis:", at temperature 0 then 1 on retries, and the correctness judge
  at temperature 0 with a system message ("You're a good assistant at evaluating the quality of
  texts.", dropped here: the LLM judge sends one user message) and, for longbench-chat, a stop at
  '\\n\\n'. A greedy judge repeats its reply, so its retries change nothing.
- longbench-chat's three example answers are shuffled by upstream (unseeded); kept in file order here.
- A rating that is not an integer ("[[2.5]]") makes upstream's ``int()`` raise; here it does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Judge = Callable[[str], str]

_SENTENCE_END = re.compile(r"(?<=[.?!])[\"')\]}]*(?=\s)")
_ZH_PUNCT = re.compile(r"([。；！？])")
_CITE_BLOCK = re.compile(r"<cite>(.*?)</cite>", re.DOTALL)
_SPAN = re.compile(r"\[([0-9]+\-[0-9]+)\]", re.DOTALL)
_RATING = re.compile(r"\[\[([^\]]+)\]\]")
_NUMBER = re.compile(r"\d+\.\d+|\d+")
_LEVEL = re.compile(r"\[\[([ /a-zA-Z]+)\]\]")
MAX_CITATIONS = 3
MAX_STATEMENTS = 40

# ---- the context in sentences (utils/retrieve.py text_split_by_punctuation)


def _punkt_like(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def split_sentences(text: str) -> list[str]:
    """Upstream's sentences of ``text`` (see the module docstring for the Punkt stand-in)."""
    separated = sum((_ZH_PUNCT.split(s) for s in _punkt_like(text)), [])
    for i in range(1, len(separated)):
        if _ZH_PUNCT.fullmatch(separated[i]):
            separated[i - 1] += separated[i]
            separated[i] = ""
    separated = [s for s in separated if s != ""]
    if len(separated) == 1:
        separated = text.split("\n\n")
    return [s.strip() for s in separated if s.strip() != ""]


def chunks(context: str) -> list[dict[str, Any]]:
    """Each sentence as upstream's ``postprocess`` chunks it: from its start to the next one's."""
    found, pos = [], 0
    for sentence in split_sentences(context):
        start = context.find(sentence, pos)
        found.append({"start": start, "end": start + len(sentence)})
        pos = start + len(sentence)
    for k, chunk in enumerate(found):
        end = found[k + 1]["start"] if k < len(found) - 1 else chunk["end"]
        chunk.update(end=end, content=context[chunk["start"]:end])
    return found


def numbered_context(context: str) -> str:
    """The ``<<context>>`` of the prompt: every sentence after its ``<C{i}>`` tag (pred_one_shot.py)."""
    parts = chunks(context)
    return "".join(f"<C{i}>" + context[c["start"]:(parts[i + 1]["start"] if i < len(parts) - 1 else len(context))]
                   for i, c in enumerate(parts))


# ---- statements with citations (pred_one_shot.py postprocess / get_citations)


def _citations(statement: str, sents: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    spans = sum((_SPAN.findall(block) for block in _CITE_BLOCK.findall(statement)), [])
    statement = _CITE_BLOCK.sub("", statement)
    merged: list[dict[str, Any]] = []
    for span in spans:
        st, ed = (int(x) for x in span.split("-"))
        if st > len(sents) - 1 or ed < st:
            continue
        st, ed = max(0, st), min(ed, len(sents) - 1)
        if merged and st == merged[-1]["ed_sent"] + 1:
            merged[-1].update(ed_sent=ed, cite="".join(x["content"] for x in sents[merged[-1]["st_sent"]:ed + 1]))
        else:
            merged.append({"st_sent": st, "ed_sent": ed, "cite": "".join(x["content"] for x in sents[st:ed + 1])})
    return statement, merged[:MAX_CITATIONS]


def statements(answer: str, context: str) -> list[dict[str, Any]]:
    """The answer's statements, each with its citations' text (``cite``); text outside
    ``<statement>`` tags longer than 5 characters is a statement without citation."""
    answer = as_stored(answer)
    sents, out, pos = chunks(context), [], 0
    while True:
        st = answer.find("<statement>", pos)
        if st == -1:
            st = len(answer)
        ed = answer.find("</statement>", st)
        outside = answer[pos:st]
        if len(outside.strip()) > 5:
            out.append({"statement": outside.strip(), "citation": []})
        if ed == -1:
            return out
        inside = answer[st + len("<statement>"):ed]
        if len(inside.strip()) > 0:
            text, cited = _citations(inside, sents)
            out.append({"statement": text.strip(), "citation": cited})
        pos = ed + len("</statement>")


def as_stored(prediction: str) -> str:
    """The prediction as upstream stores it: an answer starting "statement>" gets its '<' back."""
    return "<" + prediction if prediction.startswith("statement>") else prediction


def plain_answer(prediction: str) -> str:
    """The stored prediction without citations and statement tags (both judges read it so)."""
    return _CITE_BLOCK.sub("", as_stored(prediction)).replace("<statement>", "").replace("</statement>", "")


# ---- judge prompts (eval_correct.py, auto_scorer.py), text kept

QA_PROMPT = (
    "You are asked to evaluate the quality of the AI assistant's answer to user questions as an impartial judge, and your evaluation should take into account factors including correctness (high priority), and comprehensiveness (whether the assistant's answer covers all points).\n"
    'Read the AI assistant\'s answer and compare against the reference answer, and give an overall integer rating in 1, 2, 3 (1 = wrong or irrelevant, 2 = partially correct, 3 = correct and comprehensive) based on the above principles, strictly in the following format:"[[rating]]", e.g. "[[2]]".\n'
    '\n'
    '[Question]\n'
    '$Q$\n'
    '[Reference answer]\n'
    '$A$\n'
    "[Assistant's answer]\n"
    '$P$\n'
    'Rating:')

SUMM_PROMPT = (
    "You are asked to evaluate the quality of the AI assistant's generated summary as an impartial judge, and your evaluation should take into account factors including correctness (high priority), comprehensiveness (whether the assistant's summary covers all points), and coherence.\n"
    'Read the AI assistant\'s summary and compare against the reference summary, and give an overall integer rating in on a scale of 1 to 5, where 1 is the lowest and 5 is the highest based on the evaluation criteria, strictly in the following format:"[[rating]]", e.g. "[[3]]".\n'
    '\n'
    '[Reference summary]\n'
    '$A$\n'
    "[Assistant's summary]\n"
    '$P$\n'
    'Rating:')

FEWSHOT_PROMPT = (
    '[Instruction]\n'
    "You are asked to evaluate the quality of the AI assistant's answers to user questions as an impartial judge, and your evaluation should take into account factors including correctness (high priority), helpfulness, accuracy, and relevance. The scoring principles are as follows:\n"
    "1. Read the AI assistant's answer and compare the assistant's answer with the reference answer.\n"
    "2. Identify all errors in the AI Assistant's answers and consider how much they affect the answer to the question.\n"
    "3. Evaluate how helpful the AI assistant's answers are in directly answering the user's questions and providing the information the user needs. \n"
    "4. Examine any additional information in the AI assistant's answer to ensure that it is correct and closely related to the question. If this information is incorrect or not relevant to the question, points should be deducted from the overall score.\n"
    '\n'
    'Please give an overall integer rating from 1 to 10 based on the above principles, strictly in the following format:"[[rating]]", e.g. "[[5]]".\n'
    '\n'
    '[Question]\n'
    '{}\n'
    '\n'
    '[Reference answer begins]\n'
    '{}\n'
    '[Reference answer ends]\n'
    '\n'
    "Below are several assistants' answers and their ratings:\n"
    '\n'
    "[Assistant's answer begins]\n"
    '{}\n'
    "[Assistant's answer ends]\n"
    '\n'
    'Rating: [[{}]]\n'
    '\n'
    "[Assistant's answer begins]\n"
    '{}\n'
    "[Assistant's answer ends]\n"
    '\n'
    'Rating: [[{}]]\n'
    '\n'
    "[Assistant's answer begins]\n"
    '{}\n'
    "[Assistant's answer ends]\n"
    '\n'
    'Rating: [[{}]]\n'
    '\n'
    'Please rate the following assistant answers based on the scoring principles and examples above:\n'
    '\n'
    "[Assistant's answer begins]\n"
    '{}\n'
    "[Assistant's answer ends]\n"
    '\n'
    'Rating: ')

NEED_CITATION_PROMPT = (
    "You are an expert in evaluating text quality. You will receive a user's question regarding their uploaded document (due to the length of the document, it is not shown to you), an AI assistant's response based on the document, and a sentence from the response. Your task is to determine whether this sentence is a factual statement made based on the information in the document that requires citation, rather than an introductory sentence, transition sentence, or a summary, reasoning, or inference based on the previous response.\n"
    'Ensure that you do not use any other external information during your evaluation. \n'
    'Please first provide your judgment (answer with [[Yes]] or [[No]]), then provide your analysis in the format "Need Citation: [[Yes/No]] Analysis: ...".\n'
    '\n'
    '{}\n')

SUPPORT_PROMPT = (
    "You are an expert in evaluating text quality. You will receive a user's question about an uploaded document, a factual statement from an AI assistant's response based on that document, and a snippet from the document (since the document is too long to display in full). Your task is to carefully assess whether this statement is supported by the snippet. Please use the following scale to generate your rating:\n"
    '- [[Fully supported]] - Most information in the statement is supported by or extracted from the snippet. This applies only to cases where the statement and parts of the snippet are almost identical. \n'
    '- [[Partially supported]] - More than half of the content in the statement is supported by the snippet, but a small portion is either not mentioned or contradicts the snippet. For example, if the statement has two key points and the snippet supports only one of them, it should be considered [Partially supported].\n'
    '- [[No support]] - The statement is largely unrelated to the snippet, or most key points in the statement do not align with the content of the snippet.\n'
    'Ensure that you do not use any information or knowledge outside of the snippet when evaluating. \n'
    'Please provide the rating first, followed by the analysis, in the format "Rating: [[...]] Analysis: ...". \n'
    '\n'
    '{}')

RELEVANT_PROMPT = (
    "You are an expert in evaluating text quality. You will receive a user's question about an uploaded document, a factual statement from an AI assistant's response based on that document, and a snippet from the document (since the document is too long to display in full). Your task is to carefully assess whether the snippet contains some key information of the statement. Please use the following grades to generate the rating:\n"
    '- [[Relevant]] - Some key points of the statement are supported by the snippet or extracted from it.\n'
    '- [[Unrelevant]] - The statement is almostly unrelated to the snippet, or all key points of the statement are inconsistent with the snippet content.\n'
    'Ensure that you do not use any information or knowledge outside of the snippet when evaluating. \n'
    'Please provide the rating first, followed by the analysis, in the format "Rating: [[...]] Analysis: ...". \n'
    '\n'
    '{}')

SYSTEM_PROMPT = "You're a good assistant at evaluating the quality of texts."  # upstream's; not sent (see above)
CORRECTNESS_TRIES = {"longbench-chat": 2}
TRIES = 5

# ---- correctness (eval_correct.py)


def read_rating(reply: str) -> int | None:
    """The first number in the reply's last ``[[...]]``, when it is an integer."""
    found = _RATING.findall(reply)
    numbers = _NUMBER.findall(found[-1]) if found else []
    if not numbers or not numbers[0].isdigit():
        return None
    return int(numbers[0])


def _rate(prompt: str, judge: Judge, tries: int) -> int | None:
    for _ in range(tries):
        rating = read_rating(judge(prompt))
        if rating is not None:
            return rating
    return None


def _fewshot_prompt(query: str, reference: str, prediction: str, few_shot: list[dict[str, Any]]) -> str:
    shots = [str(x) for shot in few_shot for x in (shot["answer"], shot["score"])]
    return FEWSHOT_PROMPT.format(query, reference, *shots, prediction.replace("\n", " ").strip())


def correctness_score(dataset: str, query: str, prediction: str, references: list[str],
                      few_shot: list[dict[str, Any]], judge: Judge) -> float:
    """The sample's correctness in [0, 1]: the best over its references (0 without any)."""
    answer = plain_answer(prediction)
    best = 0.0
    for reference in references:
        if dataset == "longbench-chat":
            rating = _rate(_fewshot_prompt(query, reference, answer, few_shot), judge, CORRECTNESS_TRIES[dataset])
            value = 0.5 if rating is None else rating / 10
        elif dataset == "gov_report":
            rating = _rate(SUMM_PROMPT.replace("$A$", reference).replace("$P$", answer), judge, TRIES)
            value = 0.5 if rating is None else (rating - 1) / 4
        else:
            prompt = QA_PROMPT.replace("$Q$", query).replace("$A$", reference).replace("$P$", answer)
            rating = _rate(prompt, judge, TRIES)
            value = 0.5 if rating is None else (rating - 1) / 2
        best = max(best, value)
    return best


# ---- citations (auto_scorer.py)


def _level(reply: str) -> str | None:
    found = _LEVEL.findall(reply)
    return found[0].lower() if found else None


def support_score(reply: str) -> float | None:
    level = _level(reply)
    if level is None:
        return None
    return 1.0 if "fully" in level else 0.5 if "partially" in level else 0.0


def need_citation_score(reply: str) -> float | None:
    level = _level(reply)
    return None if level is None else float("yes" in level)


def relevant_score(reply: str) -> float | None:
    level = _level(reply)
    return None if level is None else float("unrelevant" not in level)


def _ask(prompt: str, read: Callable[[str], float | None], judge: Judge) -> float:
    for _ in range(TRIES):
        value = read(judge(prompt))
        if value is not None:
            return value
    raise ValueError("the judge's reply never parsed")


def _block(tag: str, text: str) -> str:
    return f"<{tag}>\n{text.strip()}\n</{tag}>"


def _recall(query: str, answer: str, found: list[dict[str, Any]], judge: Judge) -> float:
    scores = []
    for item in found:
        cited = [c["cite"] for c in item["citation"]]
        if cited:
            snippet = "\n\n".join(cited).strip()
            if snippet == "":
                scores.append(0.0)
                continue
            prompt = SUPPORT_PROMPT.format("\n\n".join((_block("question", query), _block("statement", item["statement"]),
                                                         _block("snippet", snippet))) + "\n\n")
            scores.append(_ask(prompt, support_score, judge))
        else:
            prompt = NEED_CITATION_PROMPT.format("\n\n".join((_block("question", query), _block("response", answer),
                                                               _block("sentence", item["statement"]))))
            scores.append(1 - _ask(prompt, need_citation_score, judge))
    return sum(scores) / len(scores) if scores else 0.0


def _precision(query: str, found: list[dict[str, Any]], judge: Judge) -> float:
    scores = [_ask(RELEVANT_PROMPT.format("\n\n".join((_block("question", query), _block("statement", item["statement"]),
                                                        _block("snippet", c["cite"]))) + "\n\n"), relevant_score, judge)
              for item in found for c in item["citation"]]
    return sum(scores) / len(scores) if scores else 0.0


def citation_scores(query: str, prediction: str, context: str, judge: Judge) -> dict[str, float] | None:
    """Citation recall, precision and F1 of one answer, or None when a judgment never parsed
    (upstream raises and drops the sample)."""
    found = statements(prediction, context)[:MAX_STATEMENTS]
    try:
        recall = _recall(query, plain_answer(prediction), found, judge)
        precision = _precision(query, found, judge)
    except ValueError:
        return None
    f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    return {"recall": recall, "precision": precision, "f1": f1}


# ---- upstream's report (eval_correct.py / eval_cite.py: per dataset, then the mean over datasets)

SUMMARY_DATASETS = ("longbench-chat", "multifieldqa_en", "multifieldqa_zh", "multifieldqa", "hotpotqa", "dureader",
                    "gov_report")
SUMMARY_METRICS = {"longcite_correctness": "correctness", "longcite_citation_recall": "citation_recall",
                   "longcite_citation_precision": "citation_precision", "longcite_citation_f1": "citation_f1"}


def dataset_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Upstream's per-dataset means x100 of each judge metric over the judged rows (a dataset name
    matches as a substring, so "multifieldqa" is the union of _en and _zh), and ``average``, their
    mean over the datasets but multifieldqa_en/_zh. A dataset without a judged row is left out (upstream
    counts 0 for correctness and NaN for citations)."""
    per: dict[str, dict[str, float]] = {}
    for dataset in SUMMARY_DATASETS:
        part = [r for r in rows if dataset in str(r.get("dataset"))]
        for metric, name in SUMMARY_METRICS.items():
            values = [r["scores"][metric] for r in part if metric in r.get("scores", {})]
            if values:
                per.setdefault(dataset, {})[name] = round(100 * sum(values) / len(values), 6)
    average = {}
    for name in SUMMARY_METRICS.values():
        values = [v[name] for d, v in per.items() if d not in ("multifieldqa_en", "multifieldqa_zh") and name in v]
        if values:
            average[name] = round(sum(values) / len(values), 6)
    return {"datasets": per, "average": average}



