"""The HTML report rendered by a real headless Chromium: tables, figures, and a sample's drill-down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.helpers import loomctl, small_run

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed in CI (.ci/run installs Debian's chromium)")
        pytest.skip("no chromium; apt-get install chromium")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory, random_model_dir):
    base = tmp_path_factory.mktemp("report")
    run, _ = small_run(base, random_model_dir, tasks=("niah", "vt"), per_length=1)
    html = base / "report.html"
    result = loomctl("report", str(run), "--golden", str(run), "-o", str(html))
    assert result.returncode == 0, result.stderr
    return run, html


def _dom(html, fragment="", tmp=None):
    out = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp}", "--dump-dom",
                          f"file://{html}{fragment}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    return out.stdout


def test_report_is_self_contained(report):
    _, html = report
    text = html.read_text()
    import re

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the report loads something from a network"
    assert "<link" not in text and "@import" not in text
    assert text.count("<svg") == 3  # length curve, NIAH heatmap, forest plot


def test_tables_and_figures_render(report, tmp_path):
    _, html = report
    dom = _dom(html, tmp=tmp_path)
    assert dom.count("<tr>") > 10
    assert '<figure id="fig-length"><svg' in dom and '<figure id="fig-niah"><svg' in dom
    assert '<b id="verdict">PASS</b>' in dom


def test_drill_down_opens_and_shows_the_prediction(report, tmp_path):
    run, html = report
    record = json.loads((run / "samples" / "vt.jsonl").read_text().splitlines()[1])
    dom = _dom(html, f"#sample-vt-{record['id']}", tmp=tmp_path)
    start = dom.index(f'<details id="sample-vt-{record["id"]}"')
    opened = dom[start:dom.index("</details>", start)]
    assert 'open=""' in opened.split(">", 1)[0]
    from html import escape
    assert escape(record["prediction"]).strip()[:20] in opened
