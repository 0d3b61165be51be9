"""LongWriter's task table on real components: the fixture (LongBench-Write rows) through the real
loader, template and middle truncation with the shipped tokenizer; the length score S_l on
hand-worked lengths; the quality score S_q with a deterministic judge callable."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, REGISTRY, score
from harness.metrics.longwriter import (
    QUALITY_DIMENSIONS,
    count_words,
    length_score,
    quality_scores,
    quality_summary,
)
from harness.prompts import PromptBuilder
from harness.run import record_meta
from loomcore.errors import InputError
from tests.conftest import ROOT
from tests.helpers import load_samples

TEMPLATES = ROOT / "manifests" / "templates"
LONGWRITER = BENCHMARKS["longwriter"]
(TASK,) = LONGWRITER.tasks


def load_fixture(tok) -> list[dict]:
    path = Path("tests") / "data" / "loombench" / "longwriter" / f"{TASK.id}.jsonl"
    spec = {"source": "local", "path": str(path), "format": "jsonl", "fields": TASK.fields, "sha256": None}
    return load_samples(spec, ROOT, lambda: tok)


def test_table_and_registry():
    assert (TASK.id, TASK.max_new_tokens, TASK.metrics) == (
        "longwriter_longbench_write", 32768, ("longwriter_length_score",))
    assert (TEMPLATES / TASK.template).is_file() and set(TASK.metrics) <= set(ALL_METRICS)
    assert TASK.dataset["data_files"] == "LongWriter/longbench_write.jsonl" and TASK.chat_template
    assert LONGWRITER.meta_fields == ("length", "prompt") and LONGWRITER.judge_metrics == ("longwriter_quality",)
    assert "longwriter_quality" not in REGISTRY


def test_fixture_loads_renders_and_is_cut_in_the_middle(tok):
    samples = load_fixture(tok)
    assert len(samples) == 3
    template = (TEMPLATES / TASK.template).read_text(encoding="utf-8")
    unlimited = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**6,
                              max_new_tokens=TASK.max_new_tokens)
    for sample in samples:
        # the request is the whole prompt
        assert unlimited.build(sample)["text"] == sample["prompt"] == sample["context"]
        out = replace(unlimited, budget_tokens=TASK.max_new_tokens + 20).build(sample)
        assert out["truncated"] and 0 < out["tokens_after"] <= 20
        # (a byte-level cut may split a Chinese character, so only the outer characters are compared)
        assert out["text"][:2] == sample["prompt"][:2] and out["text"][-2:] == sample["prompt"][-2:]
    # the record keeps the required length (S_l) and the request (the quality judge's $INST$)
    assert record_meta("longwriter", samples[0]) == {"length": 300, "prompt": samples[0]["prompt"]}


def test_count_words_counts_chinese_characters_and_english_words():
    # 世, 界 + Hello, It, s (the apostrophe splits "It's"); digits are no word -> 5
    assert count_words("Hello, 世界! It's 2024.") == 5
    assert count_words("") == 0


def test_length_score_is_piecewise_around_the_required_length():
    assert length_score(100, 100) == 1.0
    # too long: 1 - (250/100 - 1)/3 = 0.5; 400 words: 1 - 3/3 = 0
    assert length_score(100, 250) == pytest.approx(0.5)
    assert length_score(100, 400) == 0.0
    # too short: 1 - (100/50 - 1)/2 = 0.5; 25 words: 1 - 3/2 < 0 -> 0
    assert length_score(100, 50) == pytest.approx(0.5)
    assert length_score(100, 25) == 0.0
    assert length_score(100, 0) == 0.0  # upstream divides by zero


def test_length_metric_reads_the_required_length_from_meta():
    # 6 words for 4 required: 1 - (6/4 - 1)/3 = 5/6
    assert score("longwriter_length_score", "one two three four five six", [], {"length": 4}) == pytest.approx(5 / 6)
    # 5 Chinese characters for 10 required: 1 - (10/5 - 1)/2 = 0.5
    assert score("longwriter_length_score", "一二三四五", [], {"length": 10}) == pytest.approx(0.5)
    assert score("longwriter_length_score", "", [], {"length": 10}) == 0.0
    with pytest.raises(InputError, match="meta.length"):
        score("longwriter_length_score", "text", [], {})


def reply(**scores) -> str:
    return "Analysis first.\n```json\n" + json.dumps({"Analysis": "fine", **scores}) + "\n```"


ALL_FIVE = {dim: 5 for dim in QUALITY_DIMENSIONS}


def test_quality_scores_read_the_judges_json_and_retry_as_upstream():
    prompts = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        return reply(**ALL_FIVE)

    assert quality_scores("Write a poem.", "Roses are red.", judge) == {dim: 5.0 for dim in QUALITY_DIMENSIONS}
    assert "<User Request>\n\nWrite a poem.\n\n</User Request>" in prompts[0]
    assert "<Response>\n\nRoses are red.\n\n</Response>" in prompts[0]

    calls = []

    def never_json(prompt: str) -> str:
        calls.append(prompt)
        return "I cannot score this."

    assert quality_scores("a", "b", never_json) is None and len(calls) == 5
    # a reply missing dimensions costs 2 tries (upstream: scores=None, then `dim not in None` raises):
    # 0 -> 2 -> 4 -> 6, three calls, then give up
    partial = {dim: 4 for dim in QUALITY_DIMENSIONS[:3]}
    calls.clear()
    assert quality_scores("a", "b", lambda p: calls.append(p) or reply(**partial)) is None and len(calls) == 3
    # missing only the last dimension costs 1 try: five calls
    calls.clear()
    all_but_last = {dim: 4 for dim in QUALITY_DIMENSIONS[:-1]}
    assert quality_scores("a", "b", lambda p: calls.append(p) or reply(**all_but_last)) is None and len(calls) == 5
    # the case: an analysis alone, then a complete reply: scored (upstream scores it too)
    answers = iter(['{"Analysis": "ok"}', reply(**ALL_FIVE)])
    assert quality_scores("a", "b", lambda p: next(answers))["Clarity"] == 5.0
    answers = iter([reply(**partial), reply(**ALL_FIVE)])
    assert quality_scores("a", "b", lambda p: next(answers))["Clarity"] == 5.0


def test_quality_summary_is_upstreams_scale():
    first = {**{dim: 1.0 for dim in QUALITY_DIMENSIONS}, "Relevance": 5.0}
    second = {dim: 1.0 for dim in QUALITY_DIMENSIONS}
    summary = quality_summary([first, second, None])
    # Relevance mean 3 -> (3-1)*25 = 50; the others mean 1 -> 0; total = 50/6
    assert summary["Relevance"] == 50.0 and summary["Clarity"] == 0.0
    assert summary["total"] == pytest.approx(50 / 6)
    with pytest.raises(InputError, match="no sample"):
        quality_summary([None])
