"""Renderings of a golden diff for people and CI systems: table, markdown, JSON, JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr


def _num(x: Any, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _ci(row: dict[str, Any]) -> str:
    return "-" if row["ci_low"] is None else f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]"


def _pins(diff: dict[str, Any]) -> list[str]:
    return diff["pin_differences"] or ["(none: the two sides share every pin)"]


def _rows(diff: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's row first (where both sides have records), then every task's."""
    return ([diff["suite"]] if diff.get("suite") else []) + diff["tasks"]


def table(diff: dict[str, Any]) -> str:
    head = f"{'task':<18}{'bucket':>7}{'golden':>9}{'new':>9}{'delta':>8}  {'95% CI of delta':<18}{'p(holm)':>9}{'margin':>7}  verdict"
    lines = [f"golden: {diff['golden']}", f"new:    {diff['new']}", head, "-" * len(head)]
    buckets: dict[str, list] = {}
    for b in diff["buckets"]:
        buckets.setdefault(b["task"], []).append(b)
    for row in _rows(diff):
        lines.append(f"{row['task']:<18}{'all':>7}{_num(row['golden']):>9}{_num(row['new']):>9}"
                     f"{_num(row['delta'], '{:+.2f}'):>8}  {_ci(row):<18}{_num(row['p_holm'], '{:.4f}'):>9}"
                     f"{_num(row['margin'], '{:.1f}'):>7}  {row['verdict']}  {row['test']}")
        for b in buckets.get(row["task"], []):
            lines.append(f"{'':<18}{b['bucket']:>7}{_num(b['golden']):>9}{_num(b['new']):>9}"
                         f"{_num(b['delta'], '{:+.2f}'):>8}  {_ci(b):<18}")
        for note in row["notes"]:
            lines.append(f"{'':<18}note: {note}")
    lines += ["", "pins that differ (why scores may differ):"] + [f"  {p}" for p in _pins(diff)]
    lines += ["", f"verdict: {diff['verdict']}"]
    return "\n".join(lines)


def markdown(diff: dict[str, Any]) -> str:
    icon = {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌"}
    lines = [f"### loomctl diff: {icon[diff['verdict']]} {diff['verdict']}", "",
             f"golden `{diff['golden']}` · new `{diff['new']}` · alpha {diff['tolerance']['alpha']} (Holm)", "",
             "| task | golden | new | delta | 95% CI | p (Holm) | margin | verdict |",
             "|---|---:|---:|---:|---|---:|---:|---|"]
    for row in _rows(diff):
        lines.append(f"| {row['task']} | {_num(row['golden'])} | {_num(row['new'])} | {_num(row['delta'], '{:+.2f}')} "
                     f"| {_ci(row)} | {_num(row['p_holm'], '{:.4f}')} | {_num(row['margin'], '{:.1f}')} "
                     f"| {icon[row['verdict']]} {row['verdict']} |")
    lines += ["", "**Pins that differ**", ""] + [f"- {p}" for p in _pins(diff)]
    return "\n".join(lines) + "\n"


def junit(diff: dict[str, Any]) -> str:
    rows = _rows(diff)
    failures = sum(r["verdict"] == "FAIL" for r in rows)
    cases = []
    for row in rows:
        body = (f"golden {_num(row['golden'])} new {_num(row['new'])} delta {_num(row['delta'], '{:+.2f}')} "
                f"CI {_ci(row)} p_holm {_num(row['p_holm'], '{:.4f}')} margin {_num(row['margin'], '{:.1f}')} "
                f"({row['test']})")
        inner = ""
        if row["verdict"] == "FAIL":
            inner = f"<failure message={quoteattr('below the non-inferiority margin')}>{escape(body)}</failure>"
        elif row["verdict"] == "WARN":
            inner = f"<system-out>{escape('inconclusive: ' + body)}</system-out>"
        cases.append(f'  <testcase classname="loomctl.diff" name={quoteattr(row["task"])}>{inner}</testcase>')
    props = "".join(f"<property name=\"pin_difference\" value={quoteattr(p)}/>" for p in diff["pin_differences"])
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="loomctl diff" tests="{len(rows)}" '
            f'failures="{failures}" errors="0">\n  <properties>{props}</properties>\n' + "\n".join(cases) + "\n</testsuite>\n")


FORMATS = {"table": table, "markdown": markdown, "junit": junit,
           "json": lambda diff: json.dumps(diff, indent=2, sort_keys=True)}
