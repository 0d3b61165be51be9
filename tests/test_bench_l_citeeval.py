"""L-CiteEval's task table on real components: each task's fixture (Jonaszky123/L-CiteEval rows)
through the real loader, ``prepare_sample``, its official one-shot template and middle truncation
with the shipped tokenizer; the answer-correctness and judge-free citation scorers on hand-worked
answers; the NLI citation scorer with a real, deterministic entailment function; the NLI judge
adapter on a tiny real classifier (and on the real NLI model when one is given)."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.benchmarks import BENCHMARKS
from harness.benchmarks.l_citeeval import BENCHMARK, format_passage, prepare_sample
from harness.metrics import ALL_METRICS, REGISTRY, score
from harness.metrics.l_citeeval import (
    citation_scores,
    format_document,
    remove_citations,
)
from harness.prompts import PromptBuilder, render
from harness.run import record_meta
from loomcore.errors import InputError
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.loombench_tasks import fixture_path, fixture_samples

TEMPLATES = ROOT / "manifests" / "templates"
CITEEVAL = BENCHMARKS["l_citeeval"]
TASKS = {t.id.removeprefix("l_citeeval_"): t for t in CITEEVAL.tasks}
ROOM = 24
MARK = "\u0000CONTEXT\u0000"
QA_INSTRUCTION = (
    "Write an accurate, engaging, and concise answer to the given question using only the provided passages "
    "(some of which might be irrelevant). Use an unbiased and journalistic tone. Every sentence must include a "
    "citation at the end, referencing at least one passage and at most three. When citing several passages, use "
    "separate brackets for each index number, like [a][b][c], instead of combining them in one set of brackets, "
    "like [a, b, c]. Here, a, b and c represent different index numbers. If multiple passages support the "
    "sentence, only cite a minimum sufficient subset of the passages.")


def load_prepared(task, tok) -> list[dict]:
    return [BENCHMARK.prepare(sample, task.id) for sample in fixture_samples("l_citeeval", task)]


def template_of(task) -> str:
    return (TEMPLATES / task.template).read_text(encoding="utf-8")


# --- the table --------------------------------------------------------------------------------

def test_table_follows_l_citeevals_configuration():
    assert len(TASKS) == 11
    groups = {}
    for name, task in TASKS.items():
        groups.setdefault(task.group, set()).add(name)
    assert groups == {
        "Single-document QA": {"narrativeqa", "natural_questions"},
        "Multi-document QA": {"hotpotqa", "2wikimultihopqa"},
        "Summarization": {"gov_report", "multi_news", "qmsum"}, "Dialogue understanding": {"locomo", "dialsim"},
        "Synthetic": {"niah", "counting_stars"}}
    # inference_1shot_vllm.py: 200 for QA and dialogue ("narrtiveqa" misspelt, so 800), 128 synthetic, 800 else
    assert {n: t.max_new_tokens for n, t in TASKS.items()} == {
        "narrativeqa": 800, "natural_questions": 200, "hotpotqa": 200, "2wikimultihopqa": 200, "gov_report": 800,
        "multi_news": 800, "qmsum": 800, "locomo": 200, "dialsim": 200, "niah": 128, "counting_stars": 128}
    assert TASKS["hotpotqa"].metrics == ("l_citeeval_qa_f1",)
    assert TASKS["qmsum"].metrics == ("l_citeeval_rouge_l",)
    assert TASKS["niah"].metrics == ("l_citeeval_niah_rouge1_recall", "l_citeeval_niah_citation_f1")
    for name, task in TASKS.items():
        assert (TEMPLATES / task.template).is_file() and (ROOT / fixture_path("l_citeeval", task)).is_file()
        assert set(task.metrics) <= set(ALL_METRICS) and task.chat_template and not task.stop
        assert task.dataset["data_files"] == f"L_CiteEval/L-CiteEval-Data_{name}.jsonl"
    assert set(CITEEVAL.metrics) == {m for t in CITEEVAL.tasks for m in t.metrics}
    assert CITEEVAL.meta_fields == ("docs",)
    for judged in CITEEVAL.judge_metrics:
        assert judged not in REGISTRY


# --- loader, prepare, template, truncation: every task ----------------------------------------

@pytest.mark.parametrize("task", CITEEVAL.tasks, ids=[t.id for t in CITEEVAL.tasks])
def test_fixture_loads_renders_and_is_cut_in_the_middle(task, tok):
    samples = load_prepared(task, tok)
    assert len(samples) == 2
    template = template_of(task)
    unlimited = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**6,
                              max_new_tokens=task.max_new_tokens)
    label = "Conversation" if task.id.endswith(("locomo", "dialsim")) else "Passage"
    for sample in samples:
        assert sample["context"].startswith(f"{label} [1]: ") and f"\n{label} [3]: " in sample["context"]
        budget = unlimited.overhead(sample) + task.max_new_tokens + ROOM
        out = replace(unlimited, budget_tokens=budget).build(sample)
        assert out["truncated"] and out["tokens_after"] <= budget - task.max_new_tokens
        # the demo before the passages and the instruction and question after them are intact
        prefix, suffix = render(template, {**sample, "context": MARK}).split(MARK)
        assert out["text"].startswith(prefix) and out["text"].endswith(suffix)
        assert prefix.endswith("\n\n\n") and suffix.rstrip().endswith(("Answer:", "Summary:"))
        if "question" in sample:
            assert sample["question"] in suffix
        kept = out["text"][len(prefix): len(out["text"]) - len(suffix)]
        assert kept.startswith(f"{label} [1]: ") and len(kept) < len(sample["context"])


def test_hotpotqa_prompt_is_the_official_one_shot_text(tok):
    task = TASKS["hotpotqa"]
    sample = load_prepared(task, tok)[0]
    text = render(template_of(task), sample)
    # the demo's first passage lost its leading title line, as make_doc_prompt does
    assert text.startswith("Passage [1]: The 20th AVN Awards ceremony, presented by Adult Video News (AVN)")
    # demo answer right after the stripped "Answer:", then demo_sep, then the sample's passages
    assert ("\nAnswer:“Young Sheldon” is a spin-off prequel to “The Big Bang Theory,” narrated by Jim Parsons who "
            "also portrays the adult Sheldon Cooper in the original series[3][7].\n\n\nPassage [1]: ") in text
    assert text.endswith(f"{sample['context']}\n\n{QA_INSTRUCTION}\n\nQuestion: {sample['question']}\nAnswer:")


def test_dialsim_names_the_demo_role_then_the_samples(tok):
    task = TASKS["dialsim"]
    text = render(template_of(task), {**load_prepared(task, tok)[0], "role": "Penny"})
    assert text.count("You are Sheldon, a long-term conversation agent") == 1
    assert text.count("You are Penny, a long-term conversation agent") == 1
    assert text.index("You are Sheldon") < text.index("You are Penny")


def test_prepare_sample_numbers_passages_and_strips_a_repeated_title():
    doc = {"title": "Oslo", "text": "Oslo\nOslo is the capital of Norway.\n"}
    assert format_passage(doc, 0, "Passage [{ID}]: {P}\n") == "Passage [1]: Oslo is the capital of Norway.\n"
    sample = prepare_sample({"id": "7", "docs": ["a", "b"]}, "l_citeeval_locomo")
    assert sample["context"] == "Conversation [1]: a\nConversation [2]: b\n"
    with pytest.raises(InputError, match="docs"):
        prepare_sample({"id": "8"}, "l_citeeval_niah")


# --- answer correctness -----------------------------------------------------------------------

def test_remove_citations():
    # " [1" and " [3" go first, then "[2", then every "]"
    assert remove_citations("Paris is in France [1][2]. It is big [3]") == "Paris is in France. It is big"


def test_qa_f1_reads_the_first_line_without_citations():
    pred = "Miss Moppet found it [2].\nThe mouse ran away [3]."
    # first line -> "Miss Moppet found it." -> [miss, moppet, found, it] vs [miss, moppet]:
    # P 2/4, R 1, F1 = 2/3; a second reference matching exactly wins
    assert score("l_citeeval_qa_f1", pred, ["Miss Moppet"], {}) == pytest.approx(2 / 3)
    assert score("l_citeeval_qa_f1", pred, ["Miss Moppet", "Miss Moppet found it"], {}) == 1.0
    assert score("l_citeeval_qa_f1", "", ["Miss Moppet"], {}) == 0.0


def test_summary_rouge_l_drops_a_summary_label():
    pred = "Summary: The board met [1]. It agreed.\nMore."
    # after "Summary:" -> "The board met. It agreed." -> identical to the reference -> 1 (less the
    # rouge package's 1e-8 in the F denominator)
    assert score("l_citeeval_rouge_l", pred, ["The board met. It agreed."], {}) == pytest.approx(1.0, abs=1e-7)
    # sentences [The board met, It agreed] vs [the board met], case-sensitive: LCS words {board, met},
    # 5 distinct words predicted, 3 referenced: P 2/5, R 2/3, F = 0.5
    assert score("l_citeeval_rouge_l", pred, ["the board met"], {}) == pytest.approx(0.5)
    # 'summary' early but no ':' anywhere: upstream skips the sample; 0 here
    assert score("l_citeeval_rouge_l", "In summary the board met", ["the board met"], {}) == 0.0
    assert score("l_citeeval_rouge_l", "", ["the board met"], {}) == 0.0


def test_niah_rouge1_recall_uses_case_sensitive_unigram_sets():
    pred = "The best thing is to eat a sandwich in Dolores Park [1]."
    # unigrams {The, best, ..., Dolores, Park} hold all 6 of the reference's -> 1
    assert score("l_citeeval_niah_rouge1_recall", pred, ["eat a sandwich in Dolores Park"], {}) == 1.0
    # lower-cased "dolores park" misses Dolores and Park: 4/6
    assert score("l_citeeval_niah_rouge1_recall", pred.lower(), ["eat a sandwich in Dolores Park"], {}) == \
        pytest.approx(4 / 6)
    # no sentence at all (the rouge package raises): 0
    assert score("l_citeeval_niah_rouge1_recall", ".", ["eat"], {}) == 0.0
    assert score("l_citeeval_niah_rouge1_recall", "", ["eat"], {}) == 0.0


def test_counting_stars_accuracy_and_citation_f1_read_the_docs(tok):
    sample = load_prepared(TASKS["counting_stars"], tok)[0]
    meta = record_meta("l_citeeval", sample)
    assert set(meta) == {"docs"} and len(meta["docs"]) == 4  # the counts 18 and 42 are in passages 2 and 4
    refs = [str(a) for a in sample["answers"]]
    # the first two counts [18, 40]: 18 is a true count -> 1/2
    assert score("l_citeeval_counting_stars_accuracy", '{"little_penguin": [18, 40], "passage_id": [2, 3]}',
                 refs, meta) == 0.5
    assert score("l_citeeval_counting_stars_accuracy", 'So: {"little_penguin": [42, 18, 7]}', refs, meta) == 1.0
    assert score("l_citeeval_counting_stars_accuracy", "eighteen and forty-two", refs, meta) == 0.0
    # cited {2, 3} vs true {2, 4}: P 1/2, R 1/2, F1 1/2; duplicates collapse: {2, 4} -> 1
    assert score("l_citeeval_counting_stars_citation_f1", '{"little_penguin": [18], "passage_id": [2, 3]}',
                 refs, meta) == 0.5
    assert score("l_citeeval_counting_stars_citation_f1", '{"passage_id": [2, 2, 4]}', refs, meta) == 1.0
    assert score("l_citeeval_counting_stars_citation_f1", '{"little_penguin": [18]}', refs, meta) == 0.0
    with pytest.raises(InputError, match="meta.docs"):
        score("l_citeeval_counting_stars_accuracy", "{}", refs, {})


def test_niah_citation_f1_rewards_citing_the_needles_passage(tok):
    sample = load_prepared(TASKS["niah"], tok)[0]  # the needle is in passage 2
    meta, refs = record_meta("l_citeeval", sample), [sample["answers"]]
    answer = "Eat a sandwich in Dolores Park"
    assert score("l_citeeval_niah_citation_f1", f"{answer} [2].", refs, meta) == 1.0
    # two citations, one right: P 1/2, R 1, F1 = 2*(1/2)/(3/2) = 2/3
    assert score("l_citeeval_niah_citation_f1", f"{answer} [1][2].", refs, meta) == pytest.approx(2 / 3)
    # only the first three citations count: [1][2][3] -> P 1/3, F1 = (2/3)/(4/3) = 1/2
    assert score("l_citeeval_niah_citation_f1", f"{answer} [1][2][3][4].", refs, meta) == pytest.approx(0.5)
    assert score("l_citeeval_niah_citation_f1", f"{answer} [3].", refs, meta) == 0.0
    # the citation must be on the first line
    assert score("l_citeeval_niah_citation_f1", f"{answer}.\n[2]", refs, meta) == 0.0


# --- citation quality with an entailment function ---------------------------------------------

def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def contains_all_words(premise: str, hypothesis: str) -> bool:
    """A real, deterministic stand-in for NLI: entailed when every word of the claim is in the premise."""
    return words(hypothesis) <= words(premise)


DOCS = ["Paris is the capital of France.", "The Seine flows through Paris.", "Berlin is in Germany."]


def test_citation_recall_precision_and_f1_by_hand():
    generation = ("Paris is the capital of France [1]. The Seine flows through Paris [1][2]. "
                  "Berlin is in Germany. Rome is in Italy [3].")
    # s1 cites [1], entailed: recall +1, precision +1 (one citation)
    # s2 cites [1][2], jointly entailed: recall +1; [1] alone fails and [2] alone entails the claim,
    #    so [1] was unnecessary (+0); [2] alone entails (+1)
    # s3 cites nothing: 0; s4 cites [3], not entailed: 0 (one more citation counted)
    # recall 2/4, precision 2/4 citations, F1 0.5
    assert citation_scores(generation, DOCS, contains_all_words) == {"recall": 0.5, "precision": 0.5, "f1": 0.5}


def test_citation_limits_and_out_of_range_ids():
    # citations [2][1][3][1] keep the first three [2][1][3]: jointly entailed (recall 1); [2] is needed,
    # [1] and [3] are not (the others entail without them): precision 1/3, F1 = 2*(1/3)/(4/3) = 0.5
    scores = citation_scores("The Seine flows through Paris [2][1][3][1].", DOCS, contains_all_words)
    assert scores == pytest.approx({"recall": 1.0, "precision": 1 / 3, "f1": 0.5})
    # a citation past the last passage: not entailed, and not counted as a citation
    assert citation_scores("Paris is the capital of France [4].", DOCS, contains_all_words) == {
        "recall": 0.0, "precision": 0.0, "f1": 0.0}
    assert citation_scores("", DOCS, contains_all_words) == {"recall": 0.0, "precision": 0.0, "f1": 0.0}
    assert format_document({"title": "Oslo", "text": "A city."}) == "Title: Oslo\nPassage: A city."
    assert format_document("A city.") == "Passage: A city."


# --- the NLI judge adapter --------------------------------------------------------------------

def tiny_classifier(path: Path, labels: dict[int, str], favoured: int) -> Path:
    """A real 1-layer BERT classifier with the shipped tokenizer whose logits always favour one class."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    tok = PreTrainedTokenizerFast.from_pretrained(SHIPPED_MODEL)
    tok.save_pretrained(path)
    config = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=512, num_labels=len(labels),
                        id2label=labels, label2id={v: k for k, v in labels.items()})
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([5.0 if i == favoured else 0.0 for i in range(len(labels))]))
    model.save_pretrained(path)
    return path


def test_nli_judge_maps_the_entailment_label(tmp_path):
    from harness.judges import NLIJudge, load_nli_judge

    labels = {0: "ENTAILMENT", 1: "neutral", 2: "contradiction"}
    yes = NLIJudge(tiny_classifier(tmp_path / "yes", labels, favoured=0))
    assert yes.entails("Paris is in France.", "Paris is in Europe.") is True
    no = load_nli_judge({"id": "tiny", "path": "no", "dtype": "float32"},
                        tiny_classifier(tmp_path / "no", labels, favoured=2).parent)
    assert no("Paris is in France.", "Paris is in Europe.") is False
    # the adapter plugs into the citation scorer: an always-entailing judge makes every cited sentence
    # supported and every single citation precise
    assert citation_scores("Paris [1]. Berlin [3].", DOCS, yes.entails) == {"recall": 1.0, "precision": 1.0, "f1": 1.0}
    with pytest.raises(InputError, match="entailment"):
        NLIJudge(tiny_classifier(tmp_path / "bad", {0: "positive", 1: "negative"}, favoured=0))
    with pytest.raises(InputError, match="config.json"):
        NLIJudge(tmp_path / "missing")


NLI_MODEL = os.environ.get("LOOMCTL_NLI_MODEL")


@pytest.mark.skipif(not (NLI_MODEL and Path(NLI_MODEL, "config.json").is_file()),
                    reason="set LOOMCTL_NLI_MODEL to a local tasksource/deberta-base-long-nli to run")
def test_real_nli_model_judges_entailment():
    from harness.judges import NLIJudge

    judge = NLIJudge(NLI_MODEL)
    assert judge.entails("Passage: A man is playing a guitar on stage.", "A man is playing an instrument.")
    assert not judge.entails("Passage: A man is playing a guitar on stage.", "Nobody is playing music.")
