"""InfiniteBench's per-task scorers, re-implemented from OpenBMB/InfiniteBench ``src/compute_scores.py``.

Read at commit 88b3daa6989da2fbe0077170d7a3c84c25d5ae58 (``get_score_one_*``), with
``src/eval_utils.py`` (``get_answer``: a multiple-choice label is the option text plus its letter).
Faithful, quirks included, because the published numbers were produced with them:
- passkey, number_string: the first run of ASCII digits in the prediction must equal the answer.
- kv_retrieval: the answer must be one of the words left after ``\\n : " ' . , ? ! { }`` become spaces.
- code_run: the last word (after ``\\n . ` ' " :`` become spaces) read as an integer must equal the
  answer; a last word that is no integer scores 0.
- math_find: the first number (``\\d+\\.\\d+|\\d+``, no sign) compared as an int for an integer answer,
  as a float for a decimal one; a minus sign is never read, so a negative answer never matches.
- code_debug: true only if the prediction starts with "<letter>." / "<letter>:" or, after an
  answer prefix ("answer is:", "is:", "answer:", "correct option is:", first found wins), starts with
  the letter or the function name. A bare "B" scores 0 (the prompt itself ends "The correct option is:").
- longbook_choice_eng: a prediction whose first character is A-D is read as that letter (so an answer
  that starts "But ..." reads as B); else an exact match with the option text or letter; else the text
  after "answer is:" / "answer:" / "answer is" / "option is"; else the first word that is a substring
  of "ABCD" ("AB" is, and then matches nothing).
- longdialogue_qa_eng: the answer (as written, normally upper case) must be one of the upper-cased
  words of the prediction.
- longbook_qa_eng is ``harness.metrics.text.qa_f1`` (the same normalisation and max over answers);
  longbook_qa_chn is an F1 over single characters after LongBench's Chinese normalisation.

Adapted, because the rows here are LOOMBench's (the hub's ``answer`` is a list of strings):
- A label upstream reads as ``label[0]`` is the first reference; an integer answer (code_run,
  math_find) is parsed from its string. kv_retrieval upstream compares a list with words (always
  false on the hub's rows); the first reference is used, as LOOM-Scope does.
- math_find: upstream raises when an integer answer meets a decimal first number (``int("3.5")``);
  here that scores 0.
- Multiple choice needs the row's ``options`` (record ``meta``): the letter is "ABCD"[options.index(
  answer)]; a reference pair [text, letter] is taken as it is. An answer not among the options has no
  letter and can only match as text.

LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Retrieve/InfiniteBench/utils/evaluation/
metrics.py``) changed several of these, so LOOMBench's InfiniteBench column does not come from the
official scorer: code_debug and longbook_choice_eng first take the *last* standalone letter; math_find
compares the number's string with an int (so an integer answer never matches); code_run compares the
hub's string answer with an int (never matches); longdialogue_qa_eng is a substring test. This module
keeps the official definitions.
"""

from __future__ import annotations

import re
from typing import Any

from harness.metrics.longbench import normalize_zh
from harness.metrics.text import _token_f1

_OPTION_LETTERS = "ABCD"
_DIGIT_RUN = re.compile(r"[0-9]+")
_FIRST_NUMBER = re.compile(r"\d+\.\d+|\d+")
_RETRIEVAL_SEPARATORS = ("\n", ":", '"', "'", ".", ",", "?", "!", "{", "}")
_CODE_RUN_SEPARATORS = ("\n", ".", "`", "'", '"', ":")
_CHOICE_SEPARATORS = ("\n", '"', "'", ".", ",", "?", "!", "{", "}")
_CHOICE_PREFIXES = ("answer is:", "answer:", "answer is", "option is")
_DEBUG_SEPARATORS = ("\n", "`", "'", '"', "-", "*", "Option", "option")
_DEBUG_PREFIXES = ("answer is:", "is:", "answer:", "correct option is:")


def _spaced(text: str, separators: tuple[str, ...]) -> str:
    for sep in separators:
        text = text.replace(sep, " ")
    return text


def _single_spaced(text: str) -> str:
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def _as_int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def first_integer(prediction: str, references: list[str]) -> float:
    """passkey, number_string: the first digit run equals the answer (``first_int_match``)."""
    match = _DIGIT_RUN.search(prediction)
    return 1.0 if references and (match.group(0) if match else "") == references[0] else 0.0


def kv_retrieval(prediction: str, references: list[str]) -> float:
    """kv_retrieval: the value is one of the prediction's words."""
    return 1.0 if references and references[0] in _spaced(prediction, _RETRIEVAL_SEPARATORS).split() else 0.0


def code_run(prediction: str, references: list[str]) -> float:
    """code_run: the prediction's last word is the integer the function returns."""
    words = _spaced(prediction.strip(), _CODE_RUN_SEPARATORS).split()
    label = _as_int(references[0]) if references else None
    if not words or label is None:
        return 0.0
    return 1.0 if _as_int(words[-1]) == label else 0.0


def math_find(prediction: str, references: list[str]) -> float:
    """math_find: the prediction's first number equals the answer (int or float, by the answer's type)."""
    if not references:
        return 0.0
    match = _FIRST_NUMBER.search(prediction)
    if match is None:
        return 0.0
    found, label = match.group(0), references[0].strip()
    if _as_int(label) is not None:
        return 1.0 if _as_int(found) == int(label) else 0.0  # "3.5" is no int: 0, where upstream raises
    try:
        return 1.0 if float(found) == float(label) else 0.0
    except ValueError:
        return 0.0


def choice_label(references: list[str], options: list[str]) -> list[str]:
    """``get_answer``: the option text and its letter, from the answer and the row's options. A
    [text, letter] pair is taken as it is only when its second item is one of the letters (upstream
    tests membership in the list ['A', 'B', 'C', 'D'], so '' or 'AB' is no letter)."""
    if len(references) == 2 and references[1] in tuple(_OPTION_LETTERS):
        return list(references)
    answer = references[0]
    return [answer, _OPTION_LETTERS[options.index(answer)]] if answer in options[:4] else [answer]


def longbook_choice(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """longbook_choice_eng: the option chosen, read from free text as upstream reads it."""
    if not references:
        return 0.0
    label = choice_label(references, list(meta.get("options") or []))
    pred = prediction.strip()
    if pred == "":
        return 0.0
    if pred[0] in _OPTION_LETTERS:
        return 1.0 if pred[0] in label else 0.0
    if pred in label:
        return 1.0
    pred = _single_spaced(_spaced(pred, _CHOICE_SEPARATORS))
    for prefix in _CHOICE_PREFIXES:
        index = pred.find(prefix)
        if index == -1:
            continue
        after = pred[index + len(prefix) + 1:]
        return 1.0 if after and any(after.startswith(s) for s in label) else 0.0
    for word in pred.split():
        if word in _OPTION_LETTERS:  # a substring test upstream: "AB" passes, then matches nothing
            return 1.0 if word in label else 0.0
    return 0.0


def code_debug(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """code_debug: the option letter or function name right after an answer prefix."""
    if not references:
        return 0.0
    label = choice_label(references, list(meta.get("options") or []))
    fn_name, letter = label[0], (label[1] if len(label) > 1 else None)
    pred = prediction.strip()
    if letter is not None and pred[:2] in (f"{letter}.", f"{letter}:"):
        return 1.0
    pred = _single_spaced(_spaced(pred, _DEBUG_SEPARATORS))
    for prefix in _DEBUG_PREFIXES:
        index = pred.find(prefix)
        if index == -1:
            continue
        after = pred[index + len(prefix) + 1:]
        candidates = [s for s in (letter, fn_name) if s]
        return 1.0 if after and any(after.startswith(s) for s in candidates) else 0.0
    return 0.0


def longdialogue(prediction: str, references: list[str]) -> float:
    """longdialogue_qa_eng: the masked name is one of the prediction's upper-cased words."""
    words = [w.upper() for w in _spaced(prediction.strip(), _RETRIEVAL_SEPARATORS).split()]
    return 1.0 if references and references[0] in words else 0.0


def qa_f1_zh_chars(prediction: str, references: list[str]) -> float:
    """longbook_qa_chn: F1 over characters of the normalised texts, the best over answers."""
    pred = list(normalize_zh(prediction))
    return max((_token_f1(pred, list(normalize_zh(ref))) for ref in references), default=0.0)


METRICS = {
    "infinitebench_first_integer": first_integer,
    "infinitebench_kv_retrieval": kv_retrieval,
    "infinitebench_code_run": code_run,
    "infinitebench_math_find": math_find,
    "infinitebench_longdialogue": longdialogue,
    "infinitebench_qa_f1_zh_chars": qa_f1_zh_chars,
}

CONTEXT_METRICS = {
    "infinitebench_choice": longbook_choice,
    "infinitebench_code_debug": code_debug,
}
