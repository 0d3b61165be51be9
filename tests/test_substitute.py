"""Substitutions (--model, --engine, --fixtures) are re-pinned and recorded; `pin --resolve` fails closed offline."""

from __future__ import annotations

import json
import shutil

from loomcore.hashing import HashCache, hash_model, sha256_text
from tests.helpers import loomctl, small_manifest


def _hub_task_manifest(manifest_path):
    """The small manifest with its vt task reading a hub dataset (revision unknown: an open pin)."""
    data = json.loads(manifest_path.read_text())
    for bench in data["benchmarks"]:
        for task in bench["tasks"]:
            if task["id"] == "vt":
                task["dataset"] = {"source": "hub", "repo": "example/longqa", "split": "test", "revision": None,
                                   "fields": {"answers": "outputs"}, "sha256": None}
    manifest_path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def test_model_substitution_is_repinned_fitted_and_recorded(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir, lengths=(256, 8000))
    source_digest = json.loads(manifest.read_text())
    other = project / "models" / "other"
    shutil.copytree(random_model_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["max_position_embeddings"] = 2048
    (other / "config.json").write_text(json.dumps(config))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--model", str(other), "--engine", "transformers",
                     "--limit", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    effective = json.loads((out / "manifest.json").read_text())
    assert effective["model"]["weights_sha256"] == hash_model(other, HashCache())[1]
    assert effective["model"]["path"] == "models/other"
    changes = {c["field"].split(" ")[0]: c for c in effective["substitutions"]["changes"]}
    assert changes["model"]["from"]["weights_sha256"] == source_digest["model"]["weights_sha256"]
    assert changes["truncation/budget_tokens"]["to"] == 2048
    assert changes["dataset/params/lengths"]["to"] == [256]
    assert all(t["truncation"]["budget_tokens"] == 2048 for t in effective["tasks"])
    assert effective["substitutions"]["source_manifest_digest"] != effective["manifest_digest"]


def test_model_outside_the_manifest_folder_is_refused(project, random_model_dir):
    manifest = small_manifest(project, random_model_dir)
    result = loomctl("run", str(manifest), "--model", str(random_model_dir))
    assert result.returncode == 2
    assert "--model:" in result.stderr and "outside the manifest's folder" in result.stderr


def test_fixtures_replace_hub_data_and_are_recorded(project, random_model_dir, tmp_path):
    manifest = small_manifest(project, random_model_dir)
    _hub_task_manifest(manifest)
    result = loomctl("run", str(manifest), "--out", str(tmp_path / "refused"))
    assert result.returncode == 2 and "open pin" in result.stderr
    fixtures = tmp_path / "fixtures"
    missing = loomctl("run", str(manifest), "--fixtures", str(fixtures.mkdir() or fixtures))
    assert missing.returncode == 2 and "ruler/vt.jsonl not found" in missing.stderr
    (fixtures / "ruler").mkdir()
    rows = [{"id": "q1", "context": "The key is 7.", "query": "X1", "outputs": ["7"]},
            {"id": "q2", "context": "The key is 9.", "query": "X2", "outputs": ["9"]}]
    (fixtures / "ruler" / "vt.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    # vt's template reads `query` and `context`, as the fixture rows do.
    result = loomctl("run", str(manifest), "--fixtures", str(fixtures), "--out", str(out))
    assert result.returncode == 0, result.stderr
    effective = json.loads((out / "manifest.json").read_text())
    vt = next(t for t in effective["tasks"] if t["id"] == "vt")
    assert vt["dataset"]["source"] == "local" and len(vt["dataset"]["sha256"]) == 64
    change = next(c for c in effective["substitutions"]["changes"] if c["why"] == "--fixtures")
    assert change["from"] == {"repo": "example/longqa", "revision": None}
    records = [json.loads(line) for line in (out / "samples" / "vt.jsonl").read_text().splitlines()]
    assert [r["references"] for r in records] == [["7"], ["9"]]


def test_pin_resolve_fails_closed_without_the_hub(project, random_model_dir, monkeypatch):
    manifest = small_manifest(project, random_model_dir)
    _hub_task_manifest(manifest)
    before = manifest.read_text()
    result = loomctl("pin", str(manifest), "--resolve", env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert "dataset/revision: cannot resolve example/longqa" in result.stderr
    assert manifest.read_text() == before


def _essay_task_manifest(project, model_dir):
    """The small manifest with one NIAH task over the essays at haystacks/essays beside it, pinned."""
    essays = project / "haystacks" / "essays"
    essays.mkdir(parents=True)
    (essays / "a.txt").write_text("The manifest's own essay. " * 300, encoding="utf-8")
    path = small_manifest(project, model_dir, tasks=("niah_single",))
    data = json.loads(path.read_text())
    data["benchmarks"][0]["tasks"][0]["dataset"] = {
        "source": "generator", "generator": "niah_essays", "generator_version": "1", "seed": 1, "sha256": None,
        "params": {"lengths": [256], "depths": [0.5], "needle": " The code is 4417. ", "question": "What is the code?",
                   "answer": "4417", "reserve_tokens": 16, "haystack_dir": "haystacks/essays",
                   "haystack_sha256": None}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert loomctl("pin", str(path)).returncode == 0
    return path


def test_fixtures_stand_in_for_a_generators_inputs_where_they_hold_them(project, random_model_dir, tmp_path):
    """A file or folder a generator reads is read from FIXTURES/<the manifest's path> when the fixtures hold
    it: the parameter points there, its pin is the stand-in's, the change is recorded; without one the
    manifest's own input is read, unchanged. A stand-in that links out of the fixtures is refused."""
    from loomctl import manifest as mf
    from loomctl.substitute import substitute

    path = _essay_task_manifest(project, random_model_dir)
    own = json.loads(path.read_text())["benchmarks"][0]["tasks"][0]["dataset"]["params"]["haystack_sha256"]
    fixtures = tmp_path / "fixtures"
    (fixtures / "ruler").mkdir(parents=True)
    _, changes, _ = substitute(mf.load_valid(path), fixtures=fixtures)
    assert changes == []  # nothing held: the manifest as it is
    stand_in = fixtures / "haystacks" / "essays"
    stand_in.mkdir(parents=True)
    (stand_in / "b.txt").write_text("A made-up stand-in essay. " * 300, encoding="utf-8")
    derived, changes, _ = substitute(mf.load_valid(path), fixtures=fixtures)
    params = derived.data["benchmarks"][0]["tasks"][0]["dataset"]["params"]
    assert params["haystack_dir"] == str(stand_in.resolve())
    assert params["haystack_sha256"] == sha256_text((stand_in / "b.txt").read_text()) != own
    assert changes == [{"field": "benchmarks/0/tasks/0/dataset/params/haystack_dir",
                        "from": {"haystack_dir": "haystacks/essays", "haystack_sha256": own},
                        "to": {"fixture": "haystacks/essays"}, "why": "--fixtures"}]
    out = tmp_path / "run"
    result = loomctl("run", str(path), "--fixtures", str(fixtures), "--out", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "samples" / "niah_single.jsonl").read_text().splitlines()[0])
    shown = record["prompt_head"] + record["prompt_tail"]
    assert "stand-in essay" in shown and "manifest's own" not in shown
    shutil.rmtree(stand_in)
    stand_in.symlink_to(project / "haystacks" / "essays", target_is_directory=True)
    result = loomctl("run", str(path), "--fixtures", str(fixtures), "--out", str(tmp_path / "refused"))
    assert result.returncode == 2
    assert "leads outside" in result.stderr and "dataset/params/haystack_dir" in result.stderr


def test_a_named_grid_longer_than_the_window_keeps_the_grids_cells_that_fit():
    """LOOM-Scope's NIAH grid (40 lengths to 128,000 tokens) on an 8k model: its own lengths up to the window and
    all its depths, both changes recorded; a grid that fits is left named."""
    from harness.data.grids import GRIDS
    from loomctl.substitute import _fit_to_window

    lengths, depths = GRIDS["loom-scope"]
    task = {"id": "niah", "dataset": {"source": "generator", "generator": "niah_essays", "params": {"grid": "loom-scope"}}}
    changes = _fit_to_window({"benchmarks": [{"tasks": [task]}]}, 8192)
    assert task["dataset"]["params"] == {"lengths": [1000, 4256, 7513], "depths": list(depths)}
    assert [c["field"] for c in changes] == ["dataset/params/grid (niah)", "dataset/params/lengths (niah)"]
    assert changes[1]["from"] == list(lengths) and changes[1]["to"] == [1000, 4256, 7513]
    wide = {"id": "niah", "dataset": {"params": {"grid": "loom-scope"}}}
    assert _fit_to_window({"benchmarks": [{"tasks": [wide]}]}, 128000) == [] and wide["dataset"]["params"] == {
        "grid": "loom-scope"}


def test_lengths_the_substituted_tokenizer_cannot_fill_are_dropped_and_named(project, monkeypatch):
    """RULER's cwe cannot fit its example in 4,096 tiny-model tokens (its search gives up): with --model that
    length is dropped and named with the generator's reason, a task left with no length is dropped, and a
    benchmark left with no task is refused (exit 2's error). The same lengths fail closed without --model."""
    import pytest

    from harness.data import synthetic
    from harness.data.synthetic import ruler_upstream
    from loomcore.errors import InputError
    from loomcore.tokenizer import ModelTokenizer
    from loomctl import manifest as mf
    from loomctl.substitute import substitute
    from tests.conftest import SHIPPED_MODEL

    monkeypatch.setattr(ruler_upstream, "MAX_RETRIES", 20)  # RULER's search gives up sooner; same outcome
    path = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",))
    data = json.loads(path.read_text())
    cwe = {"source": "generator", "generator": "ruler_cwe_upstream", "generator_version": "1", "seed": 42,
           "sha256": None, "params": {"lengths": [4096, 8192], "samples_per_length": 1}}
    template = data["benchmarks"][0]["tasks"][0]
    data["benchmarks"][0]["tasks"] = [{**template, "id": "cwe", "dataset": cwe},
                                      {**template, "id": "cwe_short",
                                       "dataset": {**cwe, "params": {"lengths": [4096], "samples_per_length": 1}}}]
    path.write_text(json.dumps(data, indent=2) + "\n")
    with pytest.raises(InputError, match="no cwe sample fits 4096 tokens"):
        synthetic.generate("ruler_cwe_upstream", "1", 42, cwe["params"], ModelTokenizer(SHIPPED_MODEL))
    derived, changes, _ = substitute(mf.load_valid(path), model_dir=project / "models" / "tiny-loom")
    tasks = derived.data["benchmarks"][0]["tasks"]
    assert [t["id"] for t in tasks] == ["cwe"] and tasks[0]["dataset"]["params"]["lengths"] == [8192]
    assert tasks[0]["dataset"]["sha256"], "the dataset is pinned on the lengths kept"
    dropped = {c["field"]: c for c in changes if "cannot fill" in c["why"]}
    assert dropped["benchmarks/0/tasks/0/dataset/params/lengths"]["from"] == [4096, 8192]
    assert dropped["benchmarks/0/tasks/0/dataset/params/lengths"]["to"] == [8192]
    assert "4096: dataset.params.lengths: no cwe sample fits 4096 tokens" in \
        dropped["benchmarks/0/tasks/0/dataset/params/lengths"]["why"]
    assert dropped["benchmarks/0/tasks/1"]["from"] == "cwe_short" and dropped["benchmarks/0/tasks/1"]["to"] is None
    data["benchmarks"][0]["tasks"] = data["benchmarks"][0]["tasks"][1:]
    path.write_text(json.dumps(data, indent=2) + "\n")
    with pytest.raises(InputError, match="no task of ruler can be generated with the substituted model's tokenizer"):
        substitute(mf.load_valid(path), model_dir=project / "models" / "tiny-loom")


def test_evenly_spaced_sizes_beyond_the_window_keep_the_sizes_that_fit():
    """Counting-Stars' 32 sizes to 128,000 (counting_stars_text) on an 8k model: its sizes 4,000 and 8,000, the
    same spacing, recorded; sizes that fit are left as they are."""
    from loomctl.substitute import _fit_to_window

    params = {"max_context_length": 128000, "num_sizes": 32, "language": "zh"}
    task = {"id": "stars", "dataset": {"source": "generator", "generator": "counting_stars_text", "params": params}}
    changes = _fit_to_window({"benchmarks": [{"tasks": [task]}]}, 8192)
    assert params == {"max_context_length": 8000, "num_sizes": 2, "language": "zh"}
    assert changes == [{"field": "dataset/params/max_context_length (stars)",
                        "from": {"max_context_length": 128000, "num_sizes": 32},
                        "to": {"max_context_length": 8000, "num_sizes": 2},
                        "why": "sizes beyond the substituted model's window"}]
    fits = {"max_context_length": 2000, "num_sizes": 2}
    assert _fit_to_window({"benchmarks": [{"tasks": [{"id": "s", "dataset": {"params": fits}}]}]}, 2048) == []
    assert fits == {"max_context_length": 2000, "num_sizes": 2}
