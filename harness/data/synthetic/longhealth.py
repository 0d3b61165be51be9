"""LongHealth's three tasks built from its pinned patient file, as LOOM-Scope 0.8 builds them.

LongHealth (Adams et al. 2024, kbressem/LongHealth) ships 20 fictional patients, each with its discharge
letters (``texts``) and 20 multiple-choice questions (``question``, ``answer_a``..``answer_e``,
``correct``, ``answer_location``); the prompts are built per model, by packing letters into a token
budget. This generator follows LOOM-Scope 0.8 ``benchmarks/Specialization/LongHealth/LongHealth.py``
(``download_data``) and ``utils/tools.py`` (``create_prompt``, upstream's function), step for step:

- task1 (information extraction): per question, 5 rows: the patient's answer letters first, then the
  patient's other letters while they fit, five options A-E, the letters shuffled.
- task2 / task3 (with distractors): per question, 10 draws of 10 letters of *other* patients
  (``random.sample``); odd draws are task2 (answer letters + distractors), even draws task3 (no answer
  letter; the right answer is option F, "Question cannot be answered with provided documents");
  both with the six options A-F.
- ``create_prompt``: token counts of each part with the model's tokenizer; a letter that does not fit
  is cut to the room left (its first tokens) and packing stops (a following distractor is then cut
  to nothing, an empty letter, as upstream); the separator counted is
  "\\n\\n-------------- NEW DOCUMENT --------------\\n\\n" while "\\n\\n--------------\\n\\n" joins them
  (kept); the budget is ``prompt_max_len`` less the system prompt's tokens.

The random stream is ``rng`` (seeded by the manifest), so a seed gives the same rows; LOOM-Scope's is
unseeded (its rows differ from run to run). For task2 / task3 the stream is drawn for every draw
(both parities), so each task's rows equal those a joint build would give.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from harness.data.synthetic.common import Sample, TextTokenizer
from harness.data.synthetic.counting_stars_text import read_text
from harness.data.synthetic.niah_essays import checked_pin
from loomcore.errors import InputError

SEPARATOR = "--------------"
UNANSWERABLE = "Question cannot be answered with provided documents"
TASKS = ("task1", "task2", "task3")
# utils/tools.py's SYSTEM_PROMPT (sent as the system message; its tokens come off the budget) and
# PROMPT_TEMPLATE (its tokens, placeholders included, are counted as the fixed part), byte for byte;
# manifests/templates/longhealth/longhealth.j2 is the same template (tests/test_bench_longhealth.py).
SYSTEM_PROMPT = "\nYou are a highly skilled and detail-oriented assistant, specifically trained to assist medical professionals in interpreting and extracting key information from medical documents. Your primary responsibility will be to analyze discharge letters from hospitals. When you receive one or more of these letters, you will be expected to carefully review the contents and accurately answer multiple-choice questions related to these documents. \n\nYour answers should be:\n1. Accurate: Make sure your answers are based on the information provided in the letters.\n2. Concise: Provide brief and direct answers without unnecessary elaboration.\n3. Contextual: Consider the context and specifics of each question to provide the most relevant information.\n\nRemember, your job is to streamline the physician's decision-making process by providing them with accurate and relevant information from discharge summaries. Efficiency and reliability are key.\n"
PROMPT_TEMPLATE = '\n--------------BEGIN DOCUMENTS--------------\n\n{documents}\n\n--------------END DOCUMENTS--------------\n\n{question_text}\n{options}\n\nPlease answer using the following format:\n1. Begin your answer with the phrase "The correct answer is".\n2. State the letter of the correct option (e.g., A, B, C, D, E).\n3. Follow the letter with a colon and the exact text of the option you chose.\n4. Make sure your answer is a single, concise sentence.\n\nFor example, if the correct answer to a question is option C, and the text for C is \'Acute Bronchitis\', your answer should be: \n\'The correct answer is C: Acute bronchitis.\'\n'


def _options(question: dict[str, Any], labels: str) -> str:
    return "\n".join(label.upper() + ": " + question[f"answer_{label}"] for label in labels)


def _fit(docs: list[tuple[str, int]], total: int, max_len: int, sep: int, tok: TextTokenizer,
         out: list[str]) -> int:
    """Append whole letters while they fit; the first that does not is cut to the room left and
    packing stops (the total is then ``max_len``)."""
    for doc, length in docs:
        if total + length <= max_len:
            out.append(doc)
            total += length + sep
        else:
            out.append(tok.decode(tok.encode(doc)[:max(max_len - total, 0)]))
            return max_len
    return total


def create_prompt(answer_docs: list[str], other_docs: list[str], question: dict[str, Any], labels: str,
                  max_len: int, fixed_tokens: int, tok: TextTokenizer, rng: random.Random) -> tuple[str, str]:
    """``create_prompt``: the documents joined (shuffled) and the options text."""
    options = _options(question, labels)
    sep = len(tok.encode(f"\n\n{SEPARATOR} NEW DOCUMENT {SEPARATOR}\n\n"))
    total = len(tok.encode(question["question"])) + len(tok.encode(options)) + fixed_tokens
    selected: list[str] = []
    total = _fit([(d, len(tok.encode(d))) for d in answer_docs], total, max_len, sep, tok, selected)
    _fit([(d, len(tok.encode(d))) for d in other_docs], total, max_len, sep, tok, selected)
    rng.shuffle(selected)
    return f"\n\n{SEPARATOR}\n\n".join(selected), options


def _row(task: str, index: int, context: str, question: dict[str, Any], options: str, correct: str) -> Sample:
    return {"id": f"longhealth-{task}-{index:05d}", "context": context, "question": question["question"],
            "options": options, "answers": [correct]}


def _task1(data: dict[str, Any], build) -> list[Sample]:
    rows = []
    for patient in data.values():
        for question in patient["questions"]:
            answer = [patient["texts"][tid] for tid in question["answer_location"]]
            others = [text for tid, text in patient["texts"].items() if tid not in question["answer_location"]]
            for _ in range(5):
                context, options = build(answer, others, question, "abcde")
                rows.append(_row("task1", len(rows), context, question, options, question["correct"]))
    return rows


def _distractor_tasks(data: dict[str, Any], task: str, build, rng: random.Random) -> list[Sample]:
    rows = []
    for pid, patient in data.items():
        others = [text for other, p in data.items() if other != pid for text in p["texts"].values()]
        for question in patient["questions"]:
            extended = {**question, "answer_f": UNANSWERABLE}
            for j in range(10):
                distractors = rng.sample(others, min(10, len(others)))
                if (j % 2 == 0) != (task == "task3"):
                    continue
                answer = [] if j % 2 == 0 else [patient["texts"][tid] for tid in question["answer_location"]]
                context, options = build(answer, distractors, extended, "abcdef")
                correct = UNANSWERABLE if j % 2 == 0 else question["correct"]
                rows.append(_row(task, len(rows), context, extended, options, correct))
    return rows


def load_patients(params: dict[str, Any]) -> dict[str, Any]:
    """The pinned patient file (LongHealth's ``benchmark_v5.json``), checked against its pin."""
    if not params["haystack_path"]:
        raise InputError("dataset.params.haystack_path: missing — name LongHealth's patient file "
                         "(kbressem/LongHealth data/benchmark_v5.json) and pin it with haystack_sha256")
    path = Path(params["haystack_path"])
    return json.loads(checked_pin(read_text(path), params["haystack_sha256"], f"the text of {path}"))


def longhealth(params: dict[str, Any], rng: random.Random, tok: TextTokenizer) -> list[Sample]:
    """The rows of ``params["task"]`` (task1, task2 or task3); see the module."""
    if params["task"] not in TASKS:
        raise InputError(f"dataset.params.task: {params['task']!r} is not one of {list(TASKS)}")
    data = load_patients(params)
    max_len = params["prompt_max_len"] - len(tok.encode(SYSTEM_PROMPT))
    fixed = len(tok.encode(PROMPT_TEMPLATE))

    def build(answer, others, question, labels):
        return create_prompt(answer, others, question, labels, max_len, fixed, tok, rng)

    if params["task"] == "task1":
        return _task1(data, build)
    return _distractor_tasks(data, params["task"], build, rng)
