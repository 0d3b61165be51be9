"""CLongEval's table, fixtures, prompts and scorers, on the real loader, templates and tokenizer; expected
scores worked by hand from zexuanqiu/CLongEval ``metrics.py`` and ``post_processing_for_stacked_tasks.py``."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.metrics.clongeval import (
    clongeval_edit_score,
    clongeval_news_labeling,
    clongeval_qa_f1_zh,
    clongeval_rouge_l_zh,
    clongeval_table_match,
    clongeval_typo_detection,
    levenshtein,
)
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["clongeval"]
TASKS = {t.id: t for t in BENCH.tasks}
# upstream task, its folder, config/dataset2maxlen.json
UPSTREAM = (
    ("long_story_qa", "1-1_long_story_qa", 100),
    ("long_conversation_memory", "1-2_long_conversation_memory", 100),
    ("long_story_summarization", "2-1_long_story_summarization", 400),
    ("stacked_news_labeling", "3-1_stacked_news_labeling", 800),
    ("stacked_typo_detection", "3-2_stacked_typo_detection", 800),
    ("key_passage_retrieval", "4-1_key_passage_retrieval", 400),
    ("table_querying", "4-2_table_querying", 50),
)
SIZES = ("small", "medium", "large")
# how each prompt ends after the question (or the context, for the tasks without a query)
ENDINGS = {
    "long_story_qa": "\n\n请尽可能简洁地回答下列问题，不要提供任何解释。\n问题：{input}\n答案：",
    "long_conversation_memory": "{input}\n答案：",
    "long_story_summarization": "\n\n摘要：",
    "stacked_news_labeling": "\n\n每个新闻的所属类别依次为：\n",
    "stacked_typo_detection": "\n\n所有的错别字为：\n",
    "key_passage_retrieval": "\n\n键：{input}\n值：",
    "table_querying": "。\n\n问题：{input}\n答案：",
}


def test_table_is_seven_tasks_at_three_sizes_with_upstream_files_budgets_and_metrics():
    assert sorted(TASKS) == sorted(f"clongeval_{name}_{size}" for name, _, _ in UPSTREAM for size in SIZES)
    assert BENCH.capability == "specialization"
    for name, folder, budget in UPSTREAM:
        for size in SIZES:
            task = TASKS[f"clongeval_{name}_{size}"]
            assert task.dataset["repo"] == "zexuanqiu22/CLongEval"
            assert task.dataset["data_files"] == f"{folder}/{size}.jsonl"
            assert len(task.dataset["revision"]) == 40
            assert task.max_new_tokens == budget
            assert task.group == name
            assert (ROOT / "manifests" / "templates" / task.template).is_file()
            assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS)
            assert task.stop == ("<|im_end|>", "<|endoftext|>", "<|im_start|>, </s>")
    assert TASKS["clongeval_table_querying_large"].metrics == ("clongeval_table_match",)
    assert TASKS["clongeval_long_conversation_memory_small"].metrics == ("clongeval_qa_f1_zh",)


def test_templates_keep_the_official_prompt_text():
    qa = template_text(TASKS["clongeval_long_story_qa_small"])
    assert qa == ("下面是一部小说的节选。请阅读该小说节选，并尽可能用简洁的短语（或短句）回答给定的问题，不要提供任何解释。\n"
                  "小说节选如下：\n\n{{ context }}\n\n请尽可能简洁地回答下列问题，不要提供任何解释。\n问题：{{ input }}\n答案：\n")
    memory = template_text(TASKS["clongeval_long_conversation_memory_small"])
    assert memory.endswith("对话记录由多天的对话组成：\n\n{{ context }}{{ input }}\n答案：\n")
    for name in ("long_story_summarization", "stacked_news_labeling", "stacked_typo_detection"):
        assert "{{ input }}" not in template_text(TASKS[f"clongeval_{name}_small"]), name


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("clongeval", task)
    assert 2 <= len(samples) <= 3
    assert len({s["id"] for s in samples}) == len(samples)
    for sample in samples:
        text = check_cut_prompt(task, sample, tok)
        assert text.endswith(ENDINGS[task.group].format(input=sample.get("input", "")))


def test_qa_f1_first_line_cut_before_question_then_jieba_f1():
    assert clongeval_qa_f1_zh("工程师何静。\n问题：还有别的吗", ["工程师何静。"]) == 1.0
    # cut before 问题：, punctuation and case do not count
    assert clongeval_qa_f1_zh("何静问题：柳镇", ["何静"]) == 1.0
    assert clongeval_qa_f1_zh("  ABC！", ["abc"]) == 1.0
    # [何静] vs [工程师, 何静]: P 1, R 1/2 -> 2/3
    assert clongeval_qa_f1_zh("何静", ["工程师何静"]) == pytest.approx(2 / 3)
    # only the first line counts: the right answer on line 2 scores 0
    assert clongeval_qa_f1_zh("我不知道\n工程师何静", ["工程师何静"]) == 0.0
    assert clongeval_qa_f1_zh("", ["工程师何静"]) == 0.0


def test_summary_rouge_l_on_jieba_words():
    # [面包师 周安 创办 了 灯会] vs [灯会 是 面包师 周安 创办 的]: LCS 3; P 3/5, R 3/6 -> F = 6/11
    assert clongeval_rouge_l_zh("面包师周安创办了灯会", ["灯会是面包师周安创办的"]) == pytest.approx(6 / 11, abs=1e-6)
    assert clongeval_rouge_l_zh("灯会是面包师周安创办的", ["灯会是面包师周安创办的"]) == pytest.approx(1.0, abs=1e-6)
    assert clongeval_rouge_l_zh("", ["灯会是面包师周安创办的"]) == 0.0


def test_news_labeling_pairs_over_reference_lines():
    gold = ["新闻 1：体育\n新闻 2：家居\n新闻 3：体育\n新闻 4：家居"]
    # pairs {1 体育, 2 财经, 3 体育}: 2 of the 4 reference lines
    assert clongeval_news_labeling("新闻1，体育\n新闻2，财经\n新闻 3：体育", gold) == 0.5
    # "类别名：" form: the first pattern gives label 体育, not 类别名
    assert clongeval_news_labeling("新闻1，类别名：体育", ["新闻 1：体育"]) == 1.0
    assert clongeval_news_labeling("新闻1，类别名2：体育", ["新闻 1：体育"]) == 1.0
    # a repeated pair counts once
    assert clongeval_news_labeling("新闻1，体育\n新闻1，体育", ["新闻 1：体育\n新闻 2：体育"]) == 0.5
    assert clongeval_news_labeling("体育\n家居", gold) == 0.0
    assert clongeval_news_labeling("", gold) == 0.0


def test_typo_detection_matches_paragraph_and_wrong_character():
    gold = ["0，阶，介\n1，澾，他\n4，亥，还\n5，厬，闺"]
    pred = "段落ID：1，错别字：澾，正确字：潭\n4，亥，气\n5，厬，闺（原文如此）\n7，燁，也"
    # (1, 澾), (4, 亥), (5, 厬) are right whatever the correction; (7, 燁) is not a reference line: 3/4
    assert clongeval_typo_detection(pred, gold) == 0.75
    assert clongeval_typo_detection("0，阶，介", gold) == 0.25
    # a blank line switches to the block patterns, searched in the last line only: nothing survives
    assert clongeval_typo_detection("0，阶，介\n\n1，澾，他", gold) == 0.0
    assert clongeval_typo_detection("没有错别字", gold) == 0.0
    assert clongeval_typo_detection("", gold) == 0.0


def test_key_passage_edit_score():
    assert levenshtein("kitten", "sitting") == 3
    # punctuation dropped: 柳镇灯会 vs 柳镇的灯会: one insertion over 5 characters -> 0.8
    assert clongeval_edit_score("柳镇灯会。", ["柳镇的灯会"]) == pytest.approx(0.8)
    # cut before 键：, the newline kept: one deletion over 6 -> 5/6
    assert clongeval_edit_score("柳镇的灯会\n键：K001", ["柳镇的灯会"]) == pytest.approx(5 / 6)
    assert clongeval_edit_score("", ["柳镇的灯会"]) == 0.0
    assert clongeval_edit_score("柳镇的灯会", ["柳镇的灯会"]) == 1.0


def test_table_querying_substring_after_punctuation():
    assert clongeval_table_match("答案是$434.59。", ["$434.59"]) == 1.0
    assert clongeval_table_match("434", ["$434.59"]) == 0.0
    assert clongeval_table_match("best actress", ["Best Actress"]) == 0.0  # case-sensitive
    assert clongeval_table_match("", ["柳镇"]) == 0.0


def test_string_answer_reaches_the_scorer_as_one_reference():
    task = TASKS["clongeval_table_querying_small"]
    sample = fixture_samples("clongeval", task)[0]
    assert isinstance(sample["answers"], str)
    assert score(task.metrics[0], f"答案：{sample['answers']}", [sample["answers"]], {}) == 1.0
