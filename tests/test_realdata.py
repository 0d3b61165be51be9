"""Real upstream rows (``../shared/realdata``, never committed): they load as their benchmark's table
maps them, or are refused naming the task, the field and the file. Skipped where the shared folder
is not beside the checkout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.benchmarks import BENCHMARKS
from harness.run import _record
from loomcore.errors import InputError
from loomcore.taskspec import Dataset, Generation, Prompt, TaskSpec, Truncation
from tests.conftest import ROOT
from tests.helpers import load_samples

REALDATA = next((p for p in (ROOT.parent / "shared" / "realdata", Path("/work/shared/realdata")) if p.is_dir()), None)
pytestmark = pytest.mark.skipif(REALDATA is None, reason="../shared/realdata is not beside this checkout")


def no_tokenizer():
    raise AssertionError("file data needs no tokenizer")


def _as_local(task_id: str, benchmark: str) -> dict:
    task = next(t for t in BENCHMARKS[benchmark].tasks if t.id == task_id)
    return {"source": "local", "path": f"{benchmark}/{task_id}.jsonl", "format": "jsonl", "fields": dict(task.fields)}


def test_infinitebench_rows_from_the_official_generator_load_with_stable_ids_and_one_reference():
    """build_passkey's own output has no id and a string answer: ids from the rows' positions, the
    answer as the one reference."""
    dataset = _as_local("infinitebench_passkey", "infinitebench")
    samples = load_samples(dataset, REALDATA / "fixtures", no_tokenizer)
    assert [s["id"] for s in samples] == ["000000", "000001"]
    assert samples == load_samples(dataset, REALDATA / "fixtures", no_tokenizer)  # stable
    rows = [json.loads(line) for line in (REALDATA / "fixtures" / dataset["path"]).read_text().splitlines()]
    prompt = {"text": "p", "tokens_before": 1, "tokens_after": 1, "truncated": False, "skipped": False}
    task = TaskSpec(benchmark="infinitebench", id="infinitebench_passkey", dataset=Dataset.from_json(dataset, "d"),
                    prompt=Prompt("{{ context }}", "0" * 64), truncation=Truncation("middle", 4096),
                    generation=Generation(16), metrics=("infinitebench_first_integer",))
    record = _record(task, samples[0], prompt, None)
    assert record.references == [rows[0]["answer"]] and isinstance(rows[0]["answer"], str)


def test_a_row_missing_a_mapped_field_is_refused_naming_task_field_and_file(tmp_path):
    folder = tmp_path / "infinitebench"
    folder.mkdir()
    source = REALDATA / "fixtures" / "infinitebench" / "infinitebench_passkey.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    del rows[0]["context"]
    (folder / "infinitebench_passkey.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as caught:
        load_samples(_as_local("infinitebench_passkey", "infinitebench"), tmp_path, no_tokenizer,
                     where="benchmarks/0/tasks/3")
    message = caught.value.problems[0]
    assert message.startswith("benchmarks/0/tasks/3/dataset.fields.context: the data has no field 'context'")
    assert str(folder / "infinitebench_passkey.jsonl") in message and "upstream format" in message


def test_a_bad_fixture_is_named_before_any_synthetic_data_is_generated(tmp_path):
    """With --fixtures, the files are loaded (and a bad one refused) before the generators run: the
    error comes at once, not after the synthetic haystacks (none is generated: the cache stays empty)."""
    import os

    from tests.helpers import copy_project, loomctl

    project = copy_project(tmp_path)
    shutil.copytree(ROOT / "manifests" / "models" / "tiny-loom", project / "models" / "tiny-loom")
    data = json.loads((project / "loombench-v1.json").read_text())
    data["benchmarks"] = [b for b in data["benchmarks"] if b["name"] in ("niah", "infinitebench")]
    for bench in data["benchmarks"]:
        if bench["name"] == "infinitebench":
            bench["tasks"] = [t for t in bench["tasks"] if t["id"] == "infinitebench_passkey"]
    (project / "v1-cut.json").write_text(json.dumps(data, indent=2))
    fixtures = tmp_path / "fixtures" / "infinitebench"
    fixtures.mkdir(parents=True)
    source = REALDATA / "fixtures" / "infinitebench" / "infinitebench_passkey.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    for row in rows:
        del row["context"]
    (fixtures / "infinitebench_passkey.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "generated"
    result = loomctl("run", str(project / "v1-cut.json"), "--fixtures", str(tmp_path / "fixtures"), "--model",
                     str(project / "models" / "tiny-loom"), "--engine", "transformers", "--limit", "1",
                     "--allow-accelerator-mismatch", "--out", str(tmp_path / "run"),
                     env={**os.environ, "LOOMCTL_DATA_CACHE": str(cache)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "no field 'context'" in result.stderr and "infinitebench_passkey.jsonl" in result.stderr, result.stderr
    assert not cache.exists() or not any(cache.iterdir())  # no generator ran


@pytest.mark.parametrize("task_id", ["leval_coursera", "leval_quality", "leval_tpo", "leval_gsm100"])
def test_leval_in_its_upstream_layout_is_one_sample_per_question(task_id):
    """One document with lists of questions and answers: one sample per question, the k-th answer its
    only reference, ids stable (the row's id, then -kk); gibberish no longer scores 100."""
    from harness.metrics import score

    task = next(t for t in BENCHMARKS["leval"].tasks if t.id == task_id)
    dataset = _as_local(task_id, "leval")
    upstream = json.loads((REALDATA / "fixtures-upstream-format" / dataset["path"]).read_text().splitlines()[0])
    samples = load_samples(dataset, REALDATA / "fixtures-upstream-format", no_tokenizer)
    assert len(samples) == len(upstream["instructions"])
    assert [s["id"] for s in samples] == [f"000000-{k:02d}" for k in range(len(samples))]
    assert [s["question"] for s in samples] == upstream["instructions"]
    assert [s["answers"] for s in samples] == upstream["outputs"]  # one string each, as LOOMBench's rows
    assert all(isinstance(s["context"], str) for s in samples)
    # LOOMBench's copy (one question per row, strings) loads as it always did
    flat = load_samples(dataset, REALDATA / "fixtures", no_tokenizer)
    assert all(isinstance(s["question"], str) and not s["id"].count("-") for s in flat)
    gibberish = [score(task.metrics[0], "zzzz qqqq", [s["answers"]], s) for s in samples]  # one reference, as run
    assert sum(gibberish) < len(samples)


def test_a_list_where_text_is_expected_is_refused_naming_the_field(tmp_path):
    source = REALDATA / "fixtures-upstream-format" / "leval" / "leval_coursera.jsonl"
    row = json.loads(source.read_text().splitlines()[0])
    row["outputs"] = row["outputs"][:3]  # fewer answers than questions: not the upstream layout
    (tmp_path / "leval").mkdir()
    (tmp_path / "leval" / "leval_coursera.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError) as caught:
        load_samples(_as_local("leval_coursera", "leval"), tmp_path, no_tokenizer, where="leval_coursera")
    message = caught.value.problems[0]
    assert message.startswith("leval_coursera/dataset.fields.question: the data's 'instructions' is a list, not text")
    assert "leval_coursera.jsonl" in message


def _real_task_ids(layer: Path) -> set[str]:
    return {path.stem for path in layer.glob("*/*.jsonl")}


@pytest.mark.parametrize("layer", ["fixtures", "fixtures-upstream-format"])
def test_the_v1_smoke_run_over_the_real_rows_scores_every_real_task(tmp_path, layer):
    """The README's v1 smoke run (tiny model, --limit 2) with the real upstream rows laid over the committed
    fixtures, cut to the tasks that have real rows: exit 0, and every real task's samples are scored (none
    skipped, none failed) — in LOOMBench's row layout, and LEval's in its own upstream layout. Answers are
    capped at 16 new tokens (the tiny model does not stop on these prompts; the run tests loading and scoring)."""
    from tests.helpers import copy_project
    from tests.loombench_tasks import run_on_fixtures

    real = _real_task_ids(REALDATA / layer)
    project = copy_project(tmp_path)
    shutil.copytree(ROOT / "manifests" / "models" / "tiny-loom", project / "models" / "tiny-loom")
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "tests" / "data" / "loombench", fixtures)
    shutil.copytree(REALDATA / layer, fixtures, dirs_exist_ok=True)
    data = json.loads((project / "loombench-v1.json").read_text())
    for bench in data["benchmarks"]:
        bench["tasks"] = [t for t in bench["tasks"] if t["id"] in real]
        for task in bench["tasks"]:
            task["generation"]["max_new_tokens"] = 16
    data["benchmarks"] = [b for b in data["benchmarks"] if b["tasks"]]
    assert {t["id"] for b in data["benchmarks"] for t in b["tasks"]} == real  # every real file is a v1 task
    (project / "v1-real.json").write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    result = run_on_fixtures(project / "v1-real.json", project, out, fixtures=fixtures)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((out / "scores.json").read_text())
    for task_id in sorted(real):
        records = [json.loads(line) for line in (out / "samples" / f"{task_id}.jsonl").read_text().splitlines()]
        assert 1 <= len(records) <= 2, task_id  # leval_gsm100's real file holds one row
        assert all(r["scores"] and r["error"] is None and not r["skipped"] for r in records), task_id
    assert all(task["score"] is not None for task in scores["tasks"].values()), scores["tasks"]
