"""LIBRA's task table on real components: each task's fixture (ai-forever/LIBRA rows, in Russian)
through the real loader, its official template and middle truncation with the shipped tokenizer, and
the lemmatised scorers (real pymorphy3) on hand-worked answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.prompts import PromptBuilder, render
from harness.run import record_meta
from loomcore.errors import InputError
from tests.conftest import ROOT
from tests.loombench_tasks import fixture_path, fixture_samples

TEMPLATES = ROOT / "manifests" / "templates"
LIBRA = BENCHMARKS["libra"]
ROOM = 24
MARK = "\u0000CONTEXT\u0000"


@pytest.fixture(scope="module")
def morph():
    pytest.importorskip("pymorphy3", reason="LIBRA's metrics lemmatise with pymorphy3 (pip install pymorphy3)")


def load_fixture(task, tok) -> list[dict]:
    return fixture_samples("libra", task)


def test_table_follows_libras_configuration():
    tasks = {t.id.removeprefix("libra_"): t for t in LIBRA.tasks}
    assert len(tasks) == 18
    groups = {}
    for name, task in tasks.items():
        groups.setdefault(task.group.split(".")[0], set()).add(name)
    assert {g: len(n) for g, n in groups.items()} == {"I": 2, "II": 6, "III": 8, "IV": 2}
    # datasets_config.json: max_new_tokens and metric
    assert (tasks["matreshka_yes_no"].max_new_tokens, tasks["passkey"].max_new_tokens,
            tasks["ru_sci_passage_count"].max_new_tokens, tasks["ru_gsm100"].max_new_tokens) == (4, 16, 8, 32)
    assert {n for n, t in tasks.items() if t.metrics == ("libra_count_score",)} == {"ru_sci_passage_count"}
    assert all(t.metrics == ("libra_exact_match",) for n, t in tasks.items() if n != "ru_sci_passage_count")
    for name, task in tasks.items():
        assert (TEMPLATES / task.template).is_file() and (ROOT / fixture_path("libra", task)).is_file()
        assert set(task.metrics) <= set(ALL_METRICS) and set(task.metrics) <= set(LIBRA.metrics)
        assert task.dataset["data_files"] == f"LIBRA/{name}.jsonl" and task.chat_template
    assert LIBRA.meta_fields == ("negative_outputs",)


@pytest.mark.parametrize("task", LIBRA.tasks, ids=[t.id for t in LIBRA.tasks])
def test_fixture_loads_renders_and_is_cut_in_the_middle(task, tok):
    samples = load_fixture(task, tok)
    assert 2 <= len(samples) <= 3
    template = (TEMPLATES / task.template).read_text(encoding="utf-8")
    unlimited = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**6,
                              max_new_tokens=task.max_new_tokens)
    for sample in samples:
        assert sample["answers"] == sample["positive_outputs"] and sample["id"] in ("000000", "000001")
        budget = unlimited.overhead(sample) + task.max_new_tokens + ROOM
        out = replace(unlimited, budget_tokens=budget).build(sample)
        assert out["truncated"] and out["tokens_after"] <= budget - task.max_new_tokens
        prefix, suffix = render(template, {**sample, "context": MARK}).split(MARK)
        assert out["text"].startswith(prefix) and out["text"].endswith(suffix)
        assert sample["input"] in suffix and suffix.endswith("\nОтвет:")
        kept = out["text"][len(prefix): len(out["text"]) - len(suffix)]
        assert 0 < len(kept) < len(sample["context"]) and kept[:5] == sample["context"][:5]


def test_passkey_prompt_is_the_official_text(tok):
    task = next(t for t in LIBRA.tasks if t.id == "libra_passkey")
    sample = load_fixture(task, tok)[0]
    assert render((TEMPLATES / task.template).read_text(encoding="utf-8"), sample) == (
        "Тебе предоставляется длинный текст, в котором содержится ключ доступа. Запомни только ключ доступа.\n"
        + sample["context"] + "\nВ ответе нужно указать только ключ доступа.\nВопрос:" + sample["input"] + "\nОтвет:")


def em(prediction: str, references: list[str], negatives: list[str] | None = None) -> float:
    return score("libra_exact_match", prediction, references, {"negative_outputs": negatives})


@pytest.mark.usefixtures("morph")
def test_exact_match_compares_lemmas_as_substrings():
    # "Мария в офисе." -> "мария в офис" (офисе -> офис) contains "офис" -> 1
    assert em("Мария в офисе.", ["офис"]) == 1.0
    # "На кухне" -> "на кухня" contains "кухня", which the raw text does not -> 1
    assert em("На кухне", ["кухня"]) == 1.0
    # best of several references: "сад" is not found, "кухня" is
    assert em("На кухне", ["сад", "кухня"]) == 1.0
    assert em("", ["кухня"]) == 0.0
    # 'ё' is outside [а-я] and is dropped, so "ёлка" normalises to "лка" and "лка" matches it
    assert em("лка", ["ёлка"]) == 1.0
    # a reference that normalises to "" is found in any answer, as upstream
    assert em("что угодно", ["!!!"]) == 1.0


@pytest.mark.usefixtures("morph")
def test_negative_answers_cost_their_share():
    # "Да" found, no negative in the raw answer -> 1
    assert em("Да", ["Да"], ["Нет"]) == 1.0
    # the only negative "Нет" is in the answer -> 0
    assert em("Да. Нет.", ["Да"], ["Нет"]) == 0.0
    # one of two negatives found: 1 - 1/2 = 0.5
    assert em("Да. Нет.", ["Да"], ["Нет", "Не знаю"]) == 0.5
    # negatives are matched verbatim (case-sensitive): "нет" is not "Нет" -> 1
    assert em("Да, нет", ["Да"], ["Нет"]) == 1.0


@pytest.mark.usefixtures("morph")
def test_f1_and_count_score(tok):
    # "Мария пошла в офис" -> [мария, пойти, в, офис]; "в офисе" -> [в, офис]: 2 common,
    # P 2/4, R 1, F1 = 2*0.5/1.5 = 2/3
    assert score("libra_f1", "Мария пошла в офис", ["в офисе"], {}) == pytest.approx(2 / 3)
    assert score("libra_f1", "", ["в офисе"], {}) == 0.0
    # integers [2, 3], one equals the reference 2 -> 1/2
    assert score("libra_count_score", "Уникальных параграфов 2, из 3", ["2"], {}) == 0.5
    task = next(t for t in LIBRA.tasks if t.id == "libra_matreshka_yes_no")
    sample = load_fixture(task, tok)[0]
    meta = record_meta("libra", sample)
    assert meta == {"negative_outputs": ["Нет"]}
    assert score("libra_exact_match", "Да", sample["answers"], meta) == 1.0
    assert score("libra_exact_match", "Нет", sample["answers"], meta) == 0.0
    with pytest.raises(InputError, match="positive_outputs"):
        score("libra_exact_match", "Да", [], meta)
