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

Data are generated offline (``harness.data.synthetic``, ``style: "official"``) in the official
shape: 32 samples per task, one per nominal size (``length``: 4000, 8000, ... 128000), the haystack
cut to 0.8 x size words (English) or 0.7 x size characters (Chinese) as the official files are.

Not matched exactly:
- The haystacks are generated filler (English and Chinese), not the essays and the novel, and the
  32 right counts are drawn per sample (distinct, below 128) rather than the one fixed list; wrong
  counts are the right ones +-1 as in the official files. The official cut falls mid-sentence; here
  at sentence ends.
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

from harness.benchmarks.base import Benchmark, TaskDef

NUM_STARS = 32
LENGTHS = tuple(4000 * k for k in range(1, 33))  # n = 32 sizes up to max_context_length 128000
# Official cut: English essays by words, Chinese novel by characters (gen_test_data.ipynb ``scalar``).
SIZES = {"en": ("words", 0.8), "zh": ("chars", 0.7)}
ACQUISITION, REASONING = "acquisition", "reasoning"
METRIC = {ACQUISITION: "counting_stars_acquisition", REASONING: "counting_stars_reasoning"}
# LOOM-Scope's task names ("searching" is the paper's acquisition).
TASK_NAME = {ACQUISITION: "searching", REASONING: "reasoning"}


def _task(language: str, variant: str, seed: int) -> TaskDef:
    unit, scale = SIZES[language]
    task_id = f"counting_stars_{language}_{TASK_NAME[variant]}"
    return TaskDef(
        id=task_id,
        dataset={"source": "generator", "generator": "counting_stars", "generator_version": "1+h1", "seed": seed,
                 "params": {"lengths": list(LENGTHS), "samples_per_length": 1, "task": task_id,
                            "style": "official", "num_needles": NUM_STARS, "language": language,
                            "variant": variant, "size_unit": unit, "size_scale": scale}},
        template=f"counting_stars/{language}_{variant}.j2",
        metrics=(METRIC[variant],),
        max_new_tokens=128,
        chat_template=True,
        samples=len(LENGTHS),
        group=variant,
        notes="generated filler haystack; greedy where LOOM-Scope uses 3 beams",
    )


TASKS = tuple(_task(language, variant, seed)
              for seed, (language, variant) in enumerate(
                  [("en", REASONING), ("en", ACQUISITION), ("zh", REASONING), ("zh", ACQUISITION)], start=1))
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
