"""NoLiMa over a pinned book haystack and a pinned needle set, the needle placed as NoLiMa places it.

Our own implementation of the test building of LOOM-Scope 0.8 (PyPI ``loom-scope``,
``benchmarks/Retrieve/NoLiMa/NoLiMa.py`` ``download_data`` and ``utils/book_haystack.py``), which follow
adobe-research/NoLiMa at commit 7532e4eebf095c5540dc256900a63968da58a9d0 (``evaluation/run_tests.py``,
``data/book_haystack.py``):

1. each experiment of the needle set (a JSON list), each of its question types and each of its tests
   gives one test: the needle and the question with the test's ``input_args`` put in for ``{1}``,
   ``{2}``..., the gold answers, the seed ``base_seed + int(id[:4]) + haystack_no``;
2. per test, numpy's legacy random state is seeded with that seed; for each depth of
   ``np.linspace(depth_min, depth_max, depth_intervals) / 100`` a needle with ``{CHAR}`` gets
   ``str(np.random.choice(character_set))`` (then the answer is that character), and a question with
   ``{CHAR}`` gets the first depth's character (upstream replaces it once, then keeps the text);
3. per context length L: the book is encoded; the "valid positions" are 0 and every token whose
   own decode holds a newline; the first one whose ``(position - shift) / (L + 1) - depth`` is not
   negative (the first, if none) is the needle's line end; the window is the L tokens from that
   position minus ``round(L * depth)``; the text before the line end, cut at its last newline, then a
   space, the needle, a newline and the text after the line end up to the window's end.

Each sample carries its experiment's ``system_prompt`` (empty when the needle set gives none), which
LOOM-Scope's ``process_data`` sends as the system message when it is not empty (the task's
``prompt.system_field``). Version 2 added that field; version 1's samples lacked it.

Pinned inputs, refused when missing or different, never replaced: ``haystack_path`` (a book, e.g.
NoLiMa's ``haystack/rand_shuffle/rand_book_1.txt``) with ``haystack_sha256``, and ``needle_set_path``
(e.g. ``needlesets/needle_set.json``) with ``needle_set_sha256`` (sha256 of its text). What differs from
upstream is listed in ``harness.benchmarks.nolima``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from harness.data.synthetic.common import Sample, TextTokenizer
from harness.data.synthetic.niah_essays import checked_pin, read_text
from loomcore.errors import InputError
from loomcore.hashing import sha256_text


def needle_tests(needle_set: list[dict[str, Any]], base_seed: int, haystack_no: int) -> list[dict[str, Any]]:
    """The tests of a needle set in upstream order (``download_data``'s first loop)."""
    tests = []
    for exp in needle_set:
        if "distractors" in exp:
            raise InputError(f"dataset.params.needle_set_path: experiment {exp.get('id')!r} has distractors — "
                             "needle sets with distractors are not supported here; use needle_set.json")
        if not isinstance(exp.get("system_prompt", ""), str):
            raise InputError(f"dataset.params.needle_set_path: experiment {exp.get('id')!r} has a system_prompt that "
                             "is not text — give it as NoLiMa's needle set does (a string, empty for none)")
        for qtype, question in exp["questions"].items():
            for test_id, test in exp["tests"].items():
                needle, full_question = exp["needle"], question
                for no, arg in enumerate(test["input_args"]):
                    mark = "{" + str(no + 1) + "}"
                    if mark in question:  # upstream replaces in the original each time: the last mark wins
                        full_question = question.replace(mark, arg)
                    needle = needle.replace(mark, arg)
                tests.append({"name": f"{exp['id']}_{test_id}_{qtype}", "needle": needle, "question": full_question,
                              "gold_answers": test.get("gold_answers", ""),
                              "character_set": exp.get("character_set", ""),
                              "system_prompt": exp.get("system_prompt", ""),
                              "seed": base_seed + int(exp["id"][:4]) + haystack_no})
    return tests


class BookHaystack:
    """The book's tokens and the positions of its newline tokens (``BookHaystack`` upstream)."""

    def __init__(self, text: str, tok: TextTokenizer):
        import numpy as np

        self.tok = tok
        self.ids = tok.encode(text)
        pieces: dict[int, str] = {}
        newlines = [i for i, t in enumerate(self.ids) if "\n" in pieces.setdefault(t, tok.decode([t]))]
        self.valid = np.array([0, *newlines])

    def place(self, needle: str, length: int, depth: float, shift: int) -> str:
        import numpy as np

        delta = (self.valid - shift) / (length + 1) - depth
        delta[delta < 0] = np.inf
        at = int(self.valid[int(np.argmin(delta))])
        start = at - int(np.round(length * depth))
        end = start + length
        if start < 0 or end > len(self.ids):
            raise InputError(f"dataset.params.lengths: {length} tokens at depth {depth:.2f} do not fit the book "
                             f"({len(self.ids)} tokens) — use a longer book or shorter lengths")
        pre = self.tok.decode(self.ids[start:at + 1])
        pre = pre[:max(pre.rfind("\n"), 0)]
        post = self.tok.decode(self.ids[at + 1:end])
        return pre + " " + needle + "\n" + post


def _needle_set(params: dict[str, Any]) -> list[dict[str, Any]]:
    if not params["needle_set_path"]:
        raise InputError("dataset.params.needle_set_path: missing — name NoLiMa's needle set (needle_set.json) "
                         "and pin its text with needle_set_sha256")
    text = read_text(Path(params["needle_set_path"]), "needle_set_path")
    actual = sha256_text(text)
    if params["needle_set_sha256"] != actual:
        raise InputError(f"dataset.params.needle_set_sha256: pinned {params['needle_set_sha256']} but the needle "
                         f"set hashes to {actual} — restore the pinned needle set, or pin this one")
    return json.loads(text)


def _book(params: dict[str, Any]) -> str:
    if not params["haystack_path"]:
        raise InputError("dataset.params.haystack_path: missing — name the book (NoLiMa's rand_book_1.txt) and "
                         "pin its text with haystack_sha256")
    path = Path(params["haystack_path"])
    return checked_pin(read_text(path, "haystack_path"), params["haystack_sha256"], f"the book {path}")


def _test_samples(test: dict[str, Any], book: BookHaystack, params: dict[str, Any]) -> list[Sample]:
    import numpy as np

    state = np.random.RandomState(test["seed"])
    question = test["question"]
    samples = []
    depths = np.linspace(params["depth_min"], params["depth_max"], params["depth_intervals"])
    for d_no, percent in enumerate(depths):
        depth = float(percent / 100)
        needle, answers = test["needle"], test["gold_answers"]
        if "{CHAR}" in needle:
            if not isinstance(test["character_set"], list):
                raise InputError(f"dataset.params.needle_set_path: {test['name']} has no character_set")
            char = str(state.choice(test["character_set"]))
            needle, answers = needle.replace("{CHAR}", char), [char]
            question = question.replace("{CHAR}", char)
        for length in params["lengths"]:
            samples.append({"id": f"{test['name']}-{length}-d{d_no:02d}", "context": book.place(
                needle, length, depth, params["shift"]), "query": question, "answers": list(answers),
                "length": length, "depth": depth, "needle": needle, "system_prompt": test["system_prompt"]})
    return samples


def nolima(params: dict[str, Any], rng: random.Random, tok: TextTokenizer) -> list[Sample]:
    """Every test of the needle set at every depth and length, on one pinned book."""
    tests = needle_tests(_needle_set(params), params["base_seed"], params["haystack_no"])
    book = BookHaystack(_book(params), tok)
    return [s for test in tests for s in _test_samples(test, book, params)]
