"""LongHealth's scorer as LOOM-Scope 0.8 runs it (``benchmarks/Specialization/LongHealth/utils/evaluation/
eval.py``): 1 if the row's ``correct`` answer text occurs in the response (Python ``in``: exact, case- and
space-sensitive), else 0; the task score is the mean x100 (``harness.scoring``).

Not matched exactly: nothing known. (Upstream LongHealth's own evaluation, not readable here, may parse
the "The correct answer is X:" format instead; LOOM-Scope's substring test is the one used.)
"""

from __future__ import annotations


def longhealth_accuracy(prediction: str, references: list[str]) -> float:
    """1.0 if the correct option's text is a substring of the prediction."""
    return 1.0 if references and references[0] in prediction else 0.0


METRICS = {"longhealth_accuracy": longhealth_accuracy}
