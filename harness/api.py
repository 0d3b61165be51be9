"""The harness's public entry points: all the host (loomctl) may use of the harness, and all it may
import from it (``tests/test_import_graph.py`` enforces both).

Names are resolved on first use (``module:attr``, imported then, as ``harness.registry`` resolves
every table's entries), so importing this module imports nothing else of the harness: ``loomctl
--help`` stays light, and which harness module the host reaches for is written down here, once.
"""

from __future__ import annotations

from typing import Any

from harness.registry import resolve

ENTRY_POINTS = {
    # validation of a manifest (loomctl validate, run)
    "BENCHMARKS": "harness.benchmarks:BENCHMARKS",
    "ALL_METRICS": "harness.metrics:ALL_METRICS",
    # task-level metrics, whose per-sample values are not scores (loomctl diff does not pair them)
    "CORPUS_METRICS": "harness.metrics:CORPUS_METRIC_NAMES",
    "GENERATORS": "harness.data.synthetic:GENERATORS",
    "INPUT_PIN_KEYS": "harness.data.synthetic:INPUT_PIN_KEYS",
    "generator_param_problems": "harness.data.synthetic:param_problems",
    "engine_args_problems": "harness.engines:args_problems",
    "ENGINES": "harness.engines:ENGINES",
    "acceleration_problems": "harness.accel:spec_problems",
    # data and prompts (loomctl pin, verify, substitutions)
    "load_samples": "harness.data.loaders:load_samples",
    "generator_input_pins": "harness.data.synthetic:input_pins",
    "generator_input_params": "harness.data.synthetic:input_params",
    "generator_unfillable_lengths": "harness.data.synthetic:unfillable_lengths",
    "GRIDS": "harness.data.grids:GRIDS",
    "select": "harness.data.loaders:select",
    "prepared_samples": "harness.benchmarks:prepared",
    "transform_samples": "harness.accel:transform_samples",
    "builder_for_task": "harness.prompts:builder_for_task",
    "chat_template_text": "harness.prompts:chat_template_text",
    "template_floor_tokens": "harness.prompts:template_floor_tokens",
    "prompt_budget": "harness.prompts:prompt_budget",
    # scoring (loomctl score, verify)
    "score_sample": "harness.scoring:score_sample",
    "capability_scores": "harness.scoring:capability_scores",
    "suite_scores": "harness.scoring:suite_scores",
    "score_run": "harness.run:score_run",
    # the judge pass's arguments (loomctl judge)
    "parse_judge_dirs": "harness.judge_run:parse_judge_dirs",
    "version": "harness:__version__",
}

__all__ = sorted(ENTRY_POINTS)


def __getattr__(name: str) -> Any:
    target = ENTRY_POINTS.get(name)
    if target is None:
        raise AttributeError(f"harness.api has no entry point {name!r} (it has: {', '.join(__all__)})")
    value = resolve(target)
    globals()[name] = value
    return value
