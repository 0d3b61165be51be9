"""NoLiMa's score (``contains``), as adobe-research/NoLiMa scores it (``evaluation/async_evaluate.py``
``_evaluate_response`` at commit 7532e4eebf095c5540dc256900a63968da58a9d0) and LOOM-Scope 0.8 copies it
(PyPI ``loom-scope``, ``benchmarks/Retrieve/NoLiMa/utils/evaluation/eval.py``).

``contains`` (the metric of every official run config, ``evaluation/run_config/*.yaml``): 1 when any gold
answer is a substring of the raw response (not stripped, case-sensitive, no normalisation); the gold
answer of a ``{CHAR}`` needle is the character's name drawn for it. No gold answer scores 0. Accuracy is
reported x100 per task (``harness.scoring``; LOOM-Scope rounds to 2 places). The other upstream metrics
(``EM``, ``lastline_EM``, ``lastline_contains``) are used by no official run config and are not here.
"""

from __future__ import annotations


def nolima_contains(prediction: str, references: list[str]) -> float:
    """1.0 when any reference is a substring of the prediction."""
    return float(any(ref in prediction for ref in references))


METRICS = {"nolima_contains": nolima_contains}
