"""Metrics: pure per-sample scorers (prediction, references) -> score in [0, 1], by name.

Each scorer re-implements a benchmark's official scorer from its definition and cites it; scores are
reported x100 by the aggregation in ``harness.scoring``, as the official scripts do.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.metrics.longbench import (
    code_sim_score,
    count_score,
    qa_f1_zh,
    retrieval_score,
    retrieval_zh_score,
    rouge_l_zh,
)
from harness.metrics.text import (
    counting_stars_acquisition,
    exact_match,
    multiple_choice_accuracy,
    qa_f1,
    rouge_l,
    string_match_all,
    string_match_part,
)

Metric = Callable[[str, list[str]], float]

METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "string_match_all": string_match_all,
    "string_match_part": string_match_part,
    "qa_f1": qa_f1,
    "rouge_l": rouge_l,
    "multiple_choice_accuracy": multiple_choice_accuracy,
    "counting_stars_acquisition": counting_stars_acquisition,
    "longbench_count": count_score,
    "longbench_retrieval": retrieval_score,
    "longbench_retrieval_zh": retrieval_zh_score,
    "longbench_code_sim": code_sim_score,
    "qa_f1_zh": qa_f1_zh,
    "rouge_l_zh": rouge_l_zh,
}
