"""LV-Eval's table, fixtures, prompts and keyword-recall scorers, on the real loader, templates and tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.metrics.lveval import (
    lveval_f1,
    lveval_f1_zh,
    lveval_qa_f1,
    lveval_qa_f1_zh,
    lveval_rouge_zh,
)
from harness.run import record_meta
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples

BENCH = BENCHMARKS["lveval"]
TASKS = {t.id: t for t in BENCH.tasks}
DATASETS = ("hotpotwikiqa_mixup", "loogle_SD_mixup", "loogle_CR_mixup", "loogle_MIR_mixup", "multifieldqa_en_mixup",
            "multifieldqa_zh_mixup", "factrecall_en", "factrecall_zh", "cmrc_mixup", "lic_mixup", "dureader_mixup")


def test_table_is_eleven_datasets_at_four_levels_with_templates_and_registered_metrics():
    assert sorted(TASKS) == sorted(f"lveval_{d}_{level}" for d in DATASETS for level in ("16k", "32k", "64k", "128k"))
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.dataset["data_files"] == f"LVEval/{task.id.removeprefix('lveval_')}.jsonl"
        assert task.group in DATASETS
    assert TASKS["lveval_factrecall_en_16k"].max_new_tokens == 16
    assert TASKS["lveval_cmrc_mixup_128k"].max_new_tokens == 64


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("lveval", task)
    assert 2 <= len(samples) <= 3
    assert len({s["id"] for s in samples}) == len(samples)  # no id field upstream: numbered in file order
    for sample in samples:
        text = check_cut_prompt(task, sample, tok)
        assert text.endswith(sample["input"] + ("\nAnswer:" if sample["language"] == "en" else "\n回答："))


def test_keyword_gate_then_f1_in_english():
    meta = {"answer_keywords": "Hester Vale"}
    refs = ["Hester Vale, the engineer"]
    # pred tokens [it was hester vale]; keywords [hester vale] all found: recall 1 >= 0.2; then F1 with
    # the reference [hester vale engineer]: 2 shared, P = 2/4, R = 2/3, F1 = 4/7
    assert lveval_f1("It was Hester Vale.", refs, meta) == pytest.approx(4 / 7)
    # no keyword in [engineer of bridge]: recall 0 < 0.2 -> 0, although "engineer" is in the reference
    assert lveval_f1("The engineer of the bridge", refs, meta) == 0.0
    # blacklisted words never count: keywords [bridge of tamsk]; "of" alone gives recall 0
    gate = {"answer_keywords": "the bridge of Tamsk"}
    assert lveval_f1("of", ["the bridge of Tamsk"], gate) == 0.0
    # "bridge": keyword recall 1/3 >= 0.2 passes; F1 with [bridge of tamsk]: P 1, R 1/3 -> 0.5
    assert lveval_f1("bridge", ["the bridge of Tamsk"], gate) == pytest.approx(0.5)
    assert lveval_f1("", refs, meta) == 0.0
    # only the first reference is scored: F1("a baker", "Ruth Ames") = 0 though the second matches
    assert lveval_f1("a baker", ["Ruth Ames", "a baker"], {}) == 0.0
    assert lveval_qa_f1("herring", ["smoked herring", "herring"]) == pytest.approx(2 / 3)  # P 1, R 1/2


def test_keyword_gate_then_f1_in_chinese():
    refs = ["工程师何静"]  # jieba: [工程师, 何静]
    # pred [是, 何静, 设计, 的]; keyword [何静] found: recall 1 >= 0.4; F1: 1 shared, P 1/4, R 1/2 -> 1/3
    assert lveval_f1_zh("是何静设计的", refs, {"answer_keywords": "何静"}) == pytest.approx(1 / 3)
    # no keywords: the reference gates: [工程师, 何静] vs pred, recall 1/2 = 0.5 >= 0.4 -> same F1
    assert lveval_f1_zh("是何静设计的", refs, {}) == pytest.approx(1 / 3)
    # keywords [是, 何静] vs pred [是, 工程师]: only the blacklisted 是 is shared, recall 0 -> 0,
    # although the F1 with the reference would be 0.5
    assert lveval_f1_zh("是工程师", refs, {"answer_keywords": "是何静"}) == 0.0
    assert lveval_f1_zh("", refs, {}) == 0.0
    # factrecall_zh: pred [是, 熏, 鲱鱼] ("。" dropped) vs [熏, 鲱鱼]: P 2/3, R 1, F1 = 0.8
    assert lveval_qa_f1_zh("是熏鲱鱼。", ["熏鲱鱼"]) == pytest.approx(0.8)


def test_dureader_rouge_drops_blacklisted_words():
    # pred [灯会 是 面包师 周安 创办 的] minus 是, 的 -> [灯会 面包师 周安 创办]; reference
    # [面包师 周安 创办 了 灯会] minus 了 -> [面包师 周安 创办 灯会]; LCS 3: P = R = 3/4, F = 0.75
    assert lveval_rouge_zh("灯会是面包师周安创办的", ["面包师周安创办了灯会"]) == pytest.approx(0.75)
    assert lveval_rouge_zh("", ["面包师周安创办了灯会"]) == 0.0


def test_answer_keywords_reach_the_scorer_through_record_meta():
    task = TASKS["lveval_hotpotwikiqa_mixup_16k"]
    sample = fixture_samples("lveval", task)[0]
    meta = record_meta("lveval", sample)
    assert meta == {"answer_keywords": "Hester Vale"}
    refs = [str(a) for a in sample["answers"]]
    assert score(task.metrics[0], "Hester Vale", refs, meta) == pytest.approx(4 / 5)  # P 1, R 2/3
    assert score(task.metrics[0], "the engineer", refs, meta) == 0.0  # gated out
