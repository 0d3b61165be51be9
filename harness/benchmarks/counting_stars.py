"""Counting-Stars: multi-evidence acquisition and reasoning in English and Chinese, with 32 stars.

Sources, read here:
- nick7nlp/Counting-Stars at commit 32e16f2c2d2be9f38d710e782236315e0821a038
  (https://github.com/nick7nlp/Counting-Stars): ``gen_test_data.ipynb`` (m = 32 stars in each of
  n = 32 contexts of 4K to 128K in steps of 4K, the context cut to 0.8 x size words of Paul Graham's
  essays in English and 0.7 x size characters of The Story of the Stone in Chinese; the star
  sentences, the second, wrong-then-right sentence of the reasoning variant, and the four
  questions, each after four newlines), ``context_data/{a,r}_stars.txt`` (the right counts lie in
  1..127 and every wrong count is its right count +-1) and ``viz.ipynb`` (the scorers, re-implemented
  in ``harness.metrics.counting_stars``). The prompts are ``manifests/templates/counting_stars/
  {en,zh}_{acquisition,reasoning}.j2``, byte for byte the notebook's context + question.
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Reasoning/Counting_Stars``): the four tasks
  ``counting_stars_{en,zh}_{searching,reasoning}`` read the official 128000_32_32 files unchanged (all
  32 rows each), 128 new tokens, its acquisition and reasoning scores as the official ones.
  LOOMBench's copies are ``Counting_Stars/counting_stars_*.jsonl`` in LCM-Lab/LOOMBench (names seen
  in its README's configs).

Data are generated offline by ``counting_stars_text`` (``harness.data.synthetic.counting_stars_text``), the
notebook's own construction over the official haystacks, which the user places beside the manifest, pinned by
the sha256 of their text: The Story of the Stone (the repository's ``context_data/The_Story_of_the_Stone.txt``)
at ``haystacks/Counting-Stars/The_Story_of_the_Stone.txt`` for Chinese, and the repository's
``context_data/PaulGrahamEssays`` for English, whose text as read is Kamradt's 49 essays (the same sha256 as
NIAH's haystack; one file differs only in its line ends), so English reads NIAH's ``haystacks/PaulGrahamEssays``.
The stars carry the official counts (``context_data/a_stars.txt`` and ``r_stars.txt`` for 32: ``COUNTS``,
``WRONG_COUNTS``), 32 samples per task, one per nominal size (4000 to 128000), the haystack cut to 0.8 x size
words (English) or 0.7 x size characters (Chinese). With The Story of the Stone this gives the two official
Chinese files byte for byte (their git blob ids: see the generator's docstring); a run without the haystacks
stops naming ``haystack_path``.

Not matched exactly:
- English: the notebook joins the essays in ``glob.glob`` order, the file system's, which cannot be
  recovered (the official English files are not in the repository snapshot seen here); the generator joins
  them in name order, so the English contexts are the official construction over another essay order.
- The filler generator (``counting_stars``, ``style: "official"``: filler haystacks, counts drawn per
  sample, stars at sentence ends) stays for a run without the haystacks; no shipped manifest names it, and
  LOOMBench-lite's free-text task keeps its lite style.
- LOOM-Scope decodes with ``num_beams: 3``; the harness decodes greedily (the official runs used
  temperature 0).
- Scores follow LOOM-Scope's scorer point by point (``harness.metrics.counting_stars``); each record
  keeps its task's ``language`` in ``meta``, which picks the answer's key (``little_penguin`` or
  ``小企鹅``), as LOOM-Scope's English and Chinese readers do.
- ``counting_stars_free_text`` is this project's metric for the embedded default's free-text prompt
  (LOOMBench-lite), not an official one.
"""

from __future__ import annotations

from typing import Any

from harness.benchmarks import niah
from harness.benchmarks.base import Benchmark, TaskDef

NUM_STARS = 32
# n = 32 sizes up to max_context_length 128000 (gen_test_data.ipynb), nominal sizes 4000, 8000, ... 128000.
NUM_SIZES, MAX_CONTEXT_LENGTH = 32, 128000
ACQUISITION, REASONING = "acquisition", "reasoning"
METRIC = {ACQUISITION: "counting_stars_acquisition", REASONING: "counting_stars_reasoning"}
# LOOM-Scope's task names ("searching" is the paper's acquisition).
TASK_NAME = {ACQUISITION: "searching", REASONING: "reasoning"}
# The official right and wrong counts for 32 stars (context_data/a_stars.txt and r_stars.txt, key "32").
COUNTS = (15, 117, 42, 69, 58, 107, 9, 49, 113, 66, 26, 102, 81, 94, 77, 61, 5, 19, 109, 3, 35, 54, 86, 89, 127, 21,
          46, 122, 38, 97, 74, 29)
WRONG_COUNTS = (16, 116, 43, 70, 59, 106, 8, 48, 112, 67, 25, 101, 82, 93, 76, 62, 6, 18, 108, 4, 34, 53, 85, 90, 126,
                22, 45, 121, 39, 96, 75, 30)
# Where the user places each language's haystack beside the manifest, and the sha256 of its text as read.
HAYSTACKS = {
    "zh": ("haystacks/Counting-Stars/The_Story_of_the_Stone.txt",
           "f0926800cc9ed9aa3fa2ee16ca6ebacfa1e4d15203256a2d33dabcce1e099595"),
    "en": (niah.HAYSTACK_DIR, niah.HAYSTACK_SHA256),  # the same text as NIAH's essays: the same input
}


def _task(language: str, variant: str) -> TaskDef:
    task_id = f"counting_stars_{language}_{TASK_NAME[variant]}"
    path, sha256 = HAYSTACKS[language]
    return TaskDef(
        id=task_id,
        dataset={"source": "generator", "generator": "counting_stars_text", "generator_version": "1", "seed": 0,
                 "params": {"task": task_id, "language": language, "variant": variant, "num_needles": NUM_STARS,
                            "num_sizes": NUM_SIZES, "max_context_length": MAX_CONTEXT_LENGTH,
                            "counts": list(COUNTS),
                            **({"wrong_counts": list(WRONG_COUNTS)} if variant == REASONING else {}),
                            "haystack_path": path, "haystack_sha256": sha256}},
        template=f"counting_stars/{language}_{variant}.j2",
        metrics=(METRIC[variant],),
        max_new_tokens=128,
        chat_template=True,
        samples=NUM_SIZES,
        group=variant,
        notes="the official haystack, beside the manifest" + ("; essays in name order, not upstream's glob order"
                                                              if language == "en" else "")
              + "; greedy where LOOM-Scope uses 3 beams",
    )


TASKS = tuple(_task(language, variant) for language, variant in
              [("en", REASONING), ("en", ACQUISITION), ("zh", REASONING), ("zh", ACQUISITION)])
# Each official task's language: the scorer reads the answer's key by it (record ``meta``).
LANGUAGE = {task.id: task.dataset["params"]["language"] for task in TASKS}


def with_language(sample: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The sample with its task's language, for the scorer; a task of another name (the embedded
    default's free-text task) is left as it is."""
    return {**sample, "language": LANGUAGE[task_id]} if task_id in LANGUAGE else sample


BENCHMARK = Benchmark(
    name="counting_stars", title="Counting-Stars", capability="reasoning",
    metrics=("counting_stars_acquisition", "counting_stars_reasoning", "counting_stars_free_text"),
    tasks=TASKS,
    meta_fields=("wrong_counts", "language"),
    prepare=with_language,
    source="https://github.com/nick7nlp/Counting-Stars/tree/32e16f2c2d2be9f38d710e782236315e0821a038; "
           "LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/Reasoning/Counting_Stars",
)
