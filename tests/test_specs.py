"""The typed scores (loomcore.specs): every scores.json this project writes reads back to the same
JSON, and the reader names the field it refuses."""

from __future__ import annotations

import json

import pytest

from loomcore.errors import InputError
from loomcore.specs import Scores
from loomcore.taskspec import Acceleration, TaskSpec, tasks_from_json
from tests.conftest import ROOT

WRITTEN = [ROOT / "golden" / "loombench-lite" / "scores.json",
           ROOT / "tests" / "data" / "reference" / "loombench-v1-limit2" / "scores.json"]


@pytest.mark.parametrize("path", WRITTEN, ids=lambda p: p.parent.name)
def test_scores_round_trip_byte_for_byte(path):
    data = json.loads(path.read_text())
    scores = Scores.from_json(data)
    assert scores.to_json() == data
    assert json.dumps(scores.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n" == path.read_text()


def test_the_v1_reference_exercises_groups_and_sub_splits():
    """So the round trip above covers every optional part of the spec."""
    scores = Scores.from_json(json.loads(WRITTEN[1].read_text()))
    assert any(b.groups for b in scores.benchmarks.values())
    assert any(m.by_group for t in scores.tasks.values() for m in t.metrics.values())


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(schema="loomctl.scores/2"), "scores.json/schema"),
    (lambda d: d.update(average=float("inf")), "scores.json/average"),
    (lambda d: next(iter(d["tasks"].values())).update(n=True), "/n"),
    (lambda d: next(iter(d["tasks"].values())).update(score=12.5), "/score"),
    (lambda d: next(iter(d["tasks"].values())).update(by_length={}), "/by_length"),
    (lambda d: next(iter(d["tasks"].values())).update(metric="rouge_l"), "/metric"),
    (lambda d: next(iter(d["tasks"].values()))["by_length"].update(x={"score": 1, "stderr": None, "n": "3"}),
     "by_length/x/n"),
    (lambda d: next(iter(d["benchmarks"].values())).update(score=None), "/score"),
    (lambda d: d["model"].update(id=7), "scores.json/model/id"),
])
def test_the_reader_refuses_and_names_the_field(edit, field):
    data = json.loads(WRITTEN[0].read_text())
    edit(data)
    with pytest.raises(InputError) as caught:
        Scores.from_json(data)
    assert field in caught.value.problems[0]


GOLDEN_MANIFEST = ROOT / "golden" / "loombench-lite" / "manifest.json"


def test_effective_tasks_round_trip_and_are_what_loomctl_writes():
    """The golden run's tasks read back to the same JSON, and are what loomctl makes of the lite
    manifest today (so a run directory's tasks and the digests built from them do not move)."""
    from loomctl import manifest as mf
    from loomctl.runtime import effective_manifest

    golden = json.loads(GOLDEN_MANIFEST.read_text())["tasks"]
    assert [t.to_json() for t in tasks_from_json(golden)] == golden
    fresh = effective_manifest(mf.load_valid(ROOT / "manifests" / "loombench-lite.json"), {"kind": "local"})
    assert fresh["tasks"] == golden
    assert [t.to_json() for t in tasks_from_json(fresh["tasks"])] == fresh["tasks"]


def test_a_task_written_with_the_retired_aggregation_key_still_reads():
    [task] = json.loads(GOLDEN_MANIFEST.read_text())["tasks"][:1]
    older = {**task, "aggregation": "mean"}
    assert TaskSpec.from_json(older, "t").to_json() == task


def test_an_acceleration_setting_keeps_its_digest_when_typed():
    from harness.accel import record_label
    from loomcore.hashing import sha256_json

    raw = {"kind": "rag", "method": "bm25", "params": {"top_k": 3, "chunk_tokens": 128}, "library": {"rank_bm25": "0.2.2"}}
    assert record_label(Acceleration.from_json(raw, "a")) == {"kind": "rag", "method": "bm25", "sha256": sha256_json(raw)}
    assert record_label(Acceleration.from_json({"kind": "none"}, "a")) is None


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.update(surprise=1), "tasks/0/surprise"),
    (lambda t: t["generation"].update(max_new_tokens="8"), "/generation/max_new_tokens"),
    (lambda t: t["generation"].update(stop=["a", 3]), "/generation/stop"),
    (lambda t: t["prompt"].pop("template"), "/prompt/template"),
    (lambda t: t["dataset"].update(fields={"id": ["x"]}), "/dataset/fields"),
    (lambda t: t["truncation"].update(policy=None), "/truncation/policy"),
    (lambda t: t.update(metrics=[]), "/metrics"),
    (lambda t: t.update(acceleration={"kind": "rag", "params": []}), "/acceleration/params"),
    (lambda t: t["dataset"].update(seed=True), "/dataset/seed"),
])
def test_the_task_reader_refuses_and_names_the_field(edit, field):
    tasks = json.loads(GOLDEN_MANIFEST.read_text())["tasks"]
    edit(tasks[0])
    with pytest.raises(InputError) as caught:
        tasks_from_json(tasks, "manifest.json/tasks")
    assert field in caught.value.problems[0]
    assert caught.value.problems[0].startswith("manifest.json/tasks/0")


def test_a_run_limit_is_a_positive_integer_or_null_else_refused_naming_the_field():
    from loomcore.taskspec import limit_from_json

    assert limit_from_json(None) is None and limit_from_json(2) == 2
    for bad in ("2", True, 0, -1, 2.0):
        with pytest.raises(InputError, match="manifest.json/limit"):
            limit_from_json(bad)
