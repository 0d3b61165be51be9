"""Size limits on the code (radon): no function or method in loomctl/, loomcore/ or harness/ over 60
lines or over cyclomatic complexity 15. A function that grows past them is split into named steps."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
MAX_COMPLEXITY = 15


def _flat(blocks):
    """Functions and methods (radon lists a class's methods beside it; the class itself is checked
    method by method) and the functions nested in them."""
    for block in blocks:
        if block.letter != "C":
            yield block
            yield from _flat(block.closures)


def _blocks():
    for package in ("loomctl", "loomcore", "harness"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for block in _flat(cc_visit(path.read_text())):
                yield path.relative_to(ROOT), block


def test_no_function_is_more_complex_than_the_limit():
    over = [f"{path}:{b.lineno} {b.fullname} complexity {b.complexity}" for path, b in _blocks()
            if b.complexity > MAX_COMPLEXITY]
    assert over == []


def test_no_function_is_longer_than_the_limit():
    over = [f"{path}:{b.lineno} {b.fullname} {b.endline - b.lineno + 1} lines" for path, b in _blocks()
            if b.endline - b.lineno + 1 > MAX_LINES]
    assert over == []


def test_the_limits_bite():
    """The check itself: a method, and a function nested in it, past both limits are found."""
    branches = "".join(f"            if x == {i}:\n                return {i}\n" for i in range(40))
    source = f"class A:\n    def big(self, x):\n        def inner(x):\n{branches}            return -1\n" \
             "        return inner(x)\n"
    names = {b.name: b for b in _flat(cc_visit(source))}
    assert set(names) == {"big", "inner"}
    inner = names["inner"]
    assert inner.complexity > MAX_COMPLEXITY and inner.endline - inner.lineno + 1 > MAX_LINES
