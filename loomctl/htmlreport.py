"""The HTML report of a run: one self-contained file (inline SVG figures, no network at view time).

Score table with 95 % intervals, scores by context length, the NIAH depth x length heatmap, the diff
against a golden run as a forest plot, full provenance, and a drill-down per sample (prompt head and
tail, prediction, references, score). ``#sample-<task>-<id>`` in the URL opens that sample.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.records import read_records
from loomcore.rundir import ENVIRONMENT, JUDGE_SCORES, MANIFEST, RunDir
from loomcore.specs import JudgeScores, Scores

Z95 = 1.959963984540054


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    if "<metadata>" in text:  # RDF authoring metadata: nothing a reader needs
        text = text[:text.index("<metadata>")] + text[text.index("</metadata>") + len("</metadata>"):]
    return text


def _figures(scores: Scores, records: dict[str, list], diff: dict[str, Any] | None) -> dict[str, str]:
    """The report's SVG figures: scores by length, the NIAH depth x length grid (when a task has
    depths), the diff's forest plot (when there is a diff)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "loomctl", "font.size": 9})
    figures = {"by_length": _length_figure(plt, scores)}
    cells: dict[tuple[int, float], list[float]] = defaultdict(list)
    for task_records in records.values():
        for r in task_records:
            if r.depth is not None and r.length is not None and r.scores:
                cells[(r.length, r.depth)].append(next(iter(r.scores.values())))
    if cells:
        figures["niah"] = _niah_figure(plt, cells)
    if diff:
        figures["forest"] = _forest_figure(plt, diff)
    return figures


def _length_figure(plt, scores: Scores) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for task_id, task in scores.tasks.items():
        points = sorted((int(k), v.score) for k, v in task.by_length.items() if v.score is not None)
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=task_id)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (model tokens)")
    ax.set_ylabel("score")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=7, ncol=2, loc="best")
    ax.set_title("Scores by context length")
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _niah_figure(plt, cells: dict[tuple[int, float], list[float]]) -> str:
    lengths = sorted({k[0] for k in cells})
    depths = sorted({k[1] for k in cells})
    grid = [[100 * sum(cells[(n, d)]) / len(cells[(n, d)]) if cells.get((n, d)) else float("nan")
             for n in lengths] for d in depths]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{round(100 * d)}%" for d in depths])
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value == value:  # not NaN: a cell with samples
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xlabel("context length (model tokens)")
    ax.set_ylabel("needle depth")
    ax.set_title("NIAH: score by depth and length")
    fig.colorbar(image, ax=ax)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _forest_figure(plt, diff: dict[str, Any]) -> str:
    rows = [r for r in diff["tasks"] if r["delta"] is not None]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    colours = {"PASS": "tab:green", "WARN": "tab:orange", "FAIL": "tab:red"}
    for i, r in enumerate(rows):
        ax.errorbar(r["delta"], i, xerr=[[r["delta"] - r["ci_low"]], [r["ci_high"] - r["delta"]]],
                    fmt="o", color=colours[r["verdict"]])
    if rows:
        ax.axvline(0, color="grey", lw=0.8)
        ax.axvline(-rows[0]["margin"], color="tab:red", lw=0.8, ls="--")
    ax.set_yticks(range(len(rows)), [r["task"] for r in rows])
    ax.set_xlabel("new - golden (points), 95% interval; dashed: non-inferiority margin")
    ax.set_title(f"Diff against golden: {diff['verdict']}")
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _table(scores: Scores) -> str:
    lengths = sorted({int(k) for t in scores.tasks.values() for k in t.by_length})
    head = "".join(f"<th>{n}</th>" for n in lengths)
    rows = []
    for task_id, task in scores.tasks.items():
        interval = "" if task.stderr is None else \
            f"[{task.score - Z95 * task.stderr:.1f}, {task.score + Z95 * task.stderr:.1f}]"
        cells = "".join(f"<td>{task.by_length[str(n)].score:.1f}</td>" if str(n) in task.by_length
                        else "<td></td>" for n in lengths)
        score = "-" if task.score is None else f"{task.score:.2f}"
        rows.append(f"<tr><td>{escape(task.benchmark)}</td><td>{escape(task_id)}</td><td>{escape(task.metric)}"
                    f"</td><td class=num>{score}</td><td>{interval}</td><td class=num>{esc(task.n)}</td>{cells}</tr>")
    for name, bench in scores.benchmarks.items():
        rows.append(f"<tr class=total><td>{escape(name)}</td><td colspan=2>benchmark mean</td>"
                    f"<td class=num>{bench.score:.2f}</td><td></td><td></td>{'<td></td>' * len(lengths)}</tr>")
    return (f"<table id=scores><thead><tr><th>benchmark</th><th>task</th><th>metric</th><th>score</th>"
            f"<th>95% interval</th><th>n</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _judge_table(judged: JudgeScores) -> str:
    """judge_scores.json (``loomctl judge``): each judged task's judge metrics, and each judge's pins."""
    rows = []
    for task_id, task in judged.tasks.items():
        for metric, entry in task.metrics.items():
            score = "-" if entry.summary.score is None else f"{entry.summary.score:.2f}"
            rows.append(f"<tr><td>{escape(task.benchmark)}</td><td>{escape(task_id)}</td><td>{escape(metric)}</td>"
                        f"<td>{escape(entry.judge)}</td><td class=num>{score}</td>"
                        f"<td class=num>{esc(entry.n_judged)} / {esc(entry.n)}</td></tr>")
    judges = "".join(f"<tr><th>{escape(name)}</th><td><code>{escape(str(spec.get('id')))} · revision "
                     f"{escape(str(spec.get('revision')))} · weights {escape(str(spec.get('weights_sha256')))}"
                     f"</code></td></tr>" for name, spec in judged.judges.items())
    return (f"<table id=judge-scores><thead><tr><th>benchmark</th><th>task</th><th>judge metric</th><th>judge</th>"
            f"<th>score</th><th>judged / n</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<table id=judges>{judges}</table>")


def _samples(records: dict[str, list]) -> str:
    parts = []
    for task_id, task_records in records.items():
        items = []
        for r in task_records:
            score = ", ".join(f"{esc(k)} {v:.2f}" for k, v in r.scores.items()) or ("skipped" if r.skipped else "-")
            items.append(
                f"<details id=\"sample-{escape(task_id)}-{escape(r.id)}\"><summary>{escape(r.id)} · length {esc(r.length)}"
                f" · {score}</summary><dl><dt>prompt (head … tail)</dt><dd><pre>{escape(r.prompt_head or '')}\n…\n"
                f"{escape(r.prompt_tail or '')}</pre></dd><dt>prediction</dt><dd class=prediction><pre>"
                f"{escape(r.prediction or '')}</pre></dd><dt>references</dt><dd><pre>{escape(json.dumps(r.references))}"
                f"</pre></dd><dt>tokens</dt><dd>input {esc(r.input_tokens_before)} → {esc(r.input_tokens)}"
                f"{' (truncated)' if r.truncated else ''}, output {esc(r.output_tokens)} ({esc(r.finish_reason)})</dd></dl>"
                f"</details>")
        parts.append(f"<h3>{escape(task_id)}</h3>{''.join(items)}")
    return "".join(parts)


def _provenance(manifest: dict[str, Any], environment: dict[str, Any]) -> str:
    rows = [("manifest digest", manifest["manifest_digest"]), ("model", manifest["model"]["id"]),
            ("weights sha256", manifest["model"]["weights_sha256"]),
            ("engine", json.dumps(manifest["engine"])), ("accelerator", json.dumps(manifest["accelerator"])),
            ("image", json.dumps(manifest["image"])), ("runtime", json.dumps(manifest["runtime"])),
            ("limit", str(manifest.get("limit")))]
    rows += [(f"environment: {k}", json.dumps(v)) for k, v in environment.items()]
    rows += [(f"task {t['id']}", f"data {t['dataset'].get('sha256')} · template {t['prompt'].get('sha256')} · "
              f"truncation {json.dumps(t['truncation'])}") for t in manifest["tasks"]]
    return "<table id=provenance>" + "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>"
                                             for k, v in rows) + "</table>"


STYLE = """body{font:14px system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.num{text-align:right}.total{font-weight:bold;background:#f4f4f4}pre{white-space:pre-wrap;margin:0}
details{border-bottom:1px solid #eee;padding:2px 0}summary{cursor:pointer}figure{margin:1em 0}
#provenance code{font-size:12px;word-break:break-all}"""
SCRIPT = """function openFromHash(){var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);
if(el&&el.tagName==='DETAILS'){el.open=true;el.scrollIntoView();}}
window.addEventListener('hashchange',openFromHash);document.addEventListener('DOMContentLoaded',openFromHash);"""
# Only the report's own script runs (by its hash); styles inline; images inline; nothing is fetched.
CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
       "img-src data:; script-src 'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
       + "'\">")


def esc(value: Any) -> str:
    """Any value as HTML text: str() of it, escaped (numbers from a received file may be anything)."""
    return escape(str(value))


def render(run_dir: Path, golden: Path | None = None) -> str:
    """The report of ``run_dir`` (against ``golden``). Everything in a run directory may come from
    someone else: every field is escaped, scripts other than the report's own are forbidden by its
    Content-Security-Policy, and a file that is not what ``loomctl run`` writes is refused (exit 2)."""
    try:
        return _render(run_dir, golden)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{run_dir}: not a run directory loomctl can report ({type(exc).__name__}: "
                         f"{str(exc)[:120]}) — it is damaged or was edited; pass one written by `loomctl run`") from None


def _render(run_dir: Path, golden: Path | None) -> str:
    run = RunDir(run_dir)
    manifest, scores, environment = run.read(MANIFEST), run.scores(), run.read_optional(ENVIRONMENT, {})
    records = read_records(run_dir)
    diff = None
    if golden is not None:
        from loomctl.compare import compare

        diff = compare(run_dir, golden)
    figures = _figures(scores, records, diff)
    average = "-" if scores.average is None else f"{scores.average:.2f}"
    sections = [f"<h1>{escape(manifest['suite']['name'])} · {escape(manifest['model']['id'])}</h1>",
                f"<p>average <b>{average}</b> · manifest <code>{esc(manifest['manifest_digest'])[:16]}</code>"
                + (f" · gate <b id=verdict>{esc(diff['verdict'])}</b> against <code>{escape(str(golden))}</code>" if diff else "")
                + "</p>", "<h2>Scores</h2>", _table(scores),
                "<h2>By context length</h2>", f"<figure id=fig-length>{figures['by_length']}</figure>"]
    if "niah" in figures:
        sections += ["<h2>Needle in a haystack</h2>", f"<figure id=fig-niah>{figures['niah']}</figure>"]
    if "forest" in figures:
        pins = "".join(f"<li>{escape(p)}</li>" for p in diff["pin_differences"]) or "<li>none</li>"
        sections += ["<h2>Diff against golden</h2>", f"<figure id=fig-forest>{figures['forest']}</figure>",
                     f"<p>Pins that differ:</p><ul id=pins>{pins}</ul>"]
    if run.has(JUDGE_SCORES):
        sections += ["<h2>Judge metrics</h2><p>Scored by pinned judge models (<code>loomctl judge</code>), "
                     "apart from the judge-free scores above.</p>",
                     _judge_table(run.judge_scores())]
    sections += ["<h2>Provenance</h2>", _provenance(manifest, environment), "<h2>Samples</h2>", _samples(records)]
    return (f"<!doctype html><html><head><meta charset=utf-8>{CSP}<title>loomctl report</title><style>{STYLE}</style>"
            f"<script>{SCRIPT}</script></head><body>{''.join(sections)}</body></html>\n")
