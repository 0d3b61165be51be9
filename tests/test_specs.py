"""The typed scores (loomcore.specs): every scores.json this project writes reads back to the same
JSON, and the reader names the field it refuses."""

from __future__ import annotations

import json

import pytest

from loomcore.errors import InputError
from loomcore.specs import Scores
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
