"""NThread's score as LOOM-Scope computes it (``benchmarks/Retrieve/NThread/utils/evaluation/eval.py``,
``score``; LOOM-Scope 0.8, PyPI ``loom-scope``).

The stored output is the response stripped of surrounding whitespace (``NThread.postprocess``). A
single answer (no ``[`` in the row's ``values``) scores 1 when it is a substring of the output; a list
answer (``values`` a Python list literal) scores 1 when every element is a substring. Case-sensitive,
no normalisation, no extraction of the bracketed list. Here the answers arrive as the list of
references, so one reference is the single case and several the list case; an empty list counts as
all found (upstream ``a == l`` with ``l == 0``). Accuracy is reported x100 per task
(``harness.scoring``, rounded to 2 places upstream).
"""

from __future__ import annotations


def nthread_contains_all(prediction: str, references: list[str]) -> float:
    """1.0 when every reference is a substring of the stripped prediction."""
    output = prediction.strip()
    return float(all(ref in output for ref in references))


METRICS = {"nthread_contains_all": nthread_contains_all}
