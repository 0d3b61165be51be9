"""The tiny model's training mix (scripts/tiny_loom_mix.json) against LOOMBench-lite: the model was trained
on the tasks as lite wrote them, so a lite task that drifted from its mix entry (another generator, version,
parameter or template) would be scored on prompts the model never met."""

from __future__ import annotations

import hashlib
import json

from tests.helpers import MIX, ROOT, mix_tasks

# What the lite suite may choose per task without leaving the mix: how many samples, at which lengths
# (the training script sets both per batch, and its own seeds), and the dataset hash that follows from them.
SIZING = {"lengths", "samples_per_length", "samples_per_cell", "depths"}


def _lite() -> dict:
    return json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())


def test_every_lite_task_is_in_the_training_mix_as_it_was_trained():
    mix = mix_tasks()
    lite = {t["id"]: t for b in _lite()["benchmarks"] for t in b["tasks"]}
    assert lite and set(lite) < set(mix)
    for task_id, task in lite.items():
        trained = mix[task_id]
        for part in ("generator", "generator_version"):
            assert task["dataset"][part] == trained["dataset"][part], (task_id, part)
        params = {k: v for k, v in task["dataset"]["params"].items() if k not in SIZING}
        assert params == {k: v for k, v in trained["dataset"]["params"].items() if k not in SIZING}, task_id
        assert task["prompt"] == trained["prompt"], task_id
        template = (ROOT / "manifests" / task["prompt"]["template_file"]).read_bytes()
        assert hashlib.sha256(template).hexdigest() == task["prompt"]["sha256"], task_id


def test_the_tasks_lite_dropped_are_the_four_the_model_did_not_learn_and_stay_in_the_mix():
    lite = {t["id"] for b in _lite()["benchmarks"] for t in b["tasks"]}
    assert set(mix_tasks()) - lite == {"niah_multikey", "vt", "cwe", "fwe"}
    card = (ROOT / "manifests" / "models" / "tiny-loom" / "README.md").read_text()
    assert "Not learned in the budget" in card and "dropped the four" in card
    assert json.loads(MIX.read_text())["benchmarks"][0]["name"] == "niah"
