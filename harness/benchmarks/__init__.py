"""The benchmark registry: every benchmark a manifest may name, with the metrics it allows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    capability: str
    metrics: tuple[str, ...]


_RETRIEVAL = ("string_match_all", "string_match_part", "exact_match")

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("niah", "retrieval", _RETRIEVAL),
    Benchmark("ruler", "general", _RETRIEVAL),
    Benchmark("counting_stars", "reasoning", ("counting_stars_acquisition",)),
    Benchmark("longbench", "general", ("qa_f1", "qa_f1_zh", "rouge_l", "rouge_l_zh", "longbench_count",
                                       "longbench_retrieval", "longbench_retrieval_zh", "longbench_code_sim")),
    Benchmark("longbench_v2", "reasoning", ("multiple_choice_accuracy",)),
    Benchmark("babilong", "reasoning", ("exact_match", "string_match_all")),
    Benchmark("infinitebench", "retrieval", ("exact_match", "string_match_all", "qa_f1", "rouge_l",
                                             "multiple_choice_accuracy")),
    Benchmark("leval", "general", ("exact_match", "qa_f1", "rouge_l", "multiple_choice_accuracy")),
    Benchmark("lveval", "reasoning", ("qa_f1",)),
    Benchmark("l_citeeval", "faithfulness", ("qa_f1", "rouge_l")),
    Benchmark("longwriter", "generation", ("rouge_l",)),
    Benchmark("libra", "specialization", ("exact_match", "qa_f1")),
)}
