"""Threat model, manifests: nothing in `engine.args` reaches the model loader but the engine's own
allow-list, so no argument can load weights other than the pinned ones."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from loomcore.hashing import sha256_text
from tests.conftest import SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest


@pytest.mark.parametrize("args", [{"subfolder": "../../../outside/evil"}, {"revision": "main"},
                                  {"cache_dir": "/tmp"}, {"batch_size": "four"}])
def test_an_engine_arg_outside_the_allow_list_is_refused_by_validate_and_run(project, tmp_path, args):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    data["engine"]["args"].update(args)
    manifest.write_text(json.dumps(data, indent=2))
    key = next(iter(args))
    for command in (["validate", str(manifest)], ["run", str(manifest), "--out", str(tmp_path / "run")]):
        result = loomctl(*command)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert f"engine/args/{key}" in result.stderr
    assert not list((tmp_path / "run").glob("samples/*.jsonl"))


def _write(project, name: str, text: str):
    path = project / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("edit", ["nan", "deep", "seed", "batch_size", "batch_size_zero"])
def test_malformed_manifests_exit_2_never_3(project, edit):
    lite = (project / "loombench-lite.json").read_text()
    data = json.loads(lite)
    if edit == "nan":
        text = lite.replace('"temperature": 0.0', '"temperature": NaN', 1)
        assert text != lite
    elif edit == "deep":
        text = "[" * 100_000 + "]" * 100_000
    elif edit == "seed":
        data["defaults"]["generation"]["seed"] = 2**64
        text = json.dumps(data)
    else:
        data["engine"]["args"]["batch_size"] = -1 if edit == "batch_size" else 0
        text = json.dumps(data)
    result = loomctl("validate", str(_write(project, f"{edit}.json", text)))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_corrupt_run_directory_given_to_score_is_exit_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{")
    result = loomctl("score", str(run))
    assert result.returncode == 2 and "manifest.json: not valid JSON" in result.stderr, result.stderr[-2000:]


def test_out_over_a_plain_file_is_exit_2(project, tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("hi\n")
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    result = loomctl("run", str(manifest), "--out", str(plain))
    assert result.returncode == 2 and "is a file, not a folder" in result.stderr, result.stderr[-2000:]
    assert plain.read_text() == "hi\n"


def test_weights_rewritten_in_place_with_size_and_mtime_restored_are_hashed_again(tmp_path):
    from loomcore.hashing import HashCache, file_sha256

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"A" * 4096)
    cache = HashCache(tmp_path / "hashes.json")
    first = cache.sha256(weights)
    stat = weights.stat()
    weights.write_bytes(b"B" * 4096)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    assert cache.sha256(weights) == file_sha256(weights) != first


def test_a_weights_file_linked_from_outside_the_model_folder_is_refused(tmp_path):
    from loomcore.errors import InputError
    from loomcore.hashing import model_files

    model = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, model)
    outside = tmp_path / "evil.safetensors"
    outside.write_bytes((model / "model.safetensors").read_bytes())
    (model / "model.safetensors").unlink()
    (model / "model.safetensors").symlink_to(outside)
    with pytest.raises(InputError, match="outside the model folder"):
        model_files(model)


@pytest.mark.parametrize("template", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ context }}",
    "{{ lipsum(n=10000000) }}{{ context }}",
    "{% set s = context ~ context %}{% for i in [1,2,3,4,5,6,7,8,9,10] %}{{ s * 100000000 }}{% endfor %}",
])
def test_a_template_that_spins_or_grows_is_refused_quickly(project, tmp_path, template):
    import time

    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    task = data["benchmarks"][0]["tasks"][0]
    (project / "templates" / "evil.j2").write_text(template)
    task["prompt"].update({"template_file": "templates/evil.j2", "sha256": sha256_text(template)})
    manifest.write_text(json.dumps(data, indent=2))
    started = time.monotonic()
    for command in (["validate", str(manifest)], ["run", str(manifest), "--out", str(tmp_path / "run")]):
        result = loomctl(*command, timeout=120)
        assert result.returncode in (0, 2) if command[0] == "validate" else result.returncode == 2, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert time.monotonic() - started < 60
    assert not list((tmp_path / "run").glob("samples/*.jsonl")) or \
        not (tmp_path / "run" / "samples" / "niah_single.jsonl").read_text()


def test_a_fifo_as_template_file_is_refused_not_waited_on(project):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    os.mkfifo(project / "templates" / "fifo.j2")
    data["benchmarks"][0]["tasks"][0]["prompt"]["template_file"] = "templates/fifo.j2"
    manifest.write_text(json.dumps(data, indent=2))
    for command in (["validate"], ["pin", "--check"], ["run", "--out", str(project / "run")]):
        result = loomctl(command[0], str(manifest), *command[1:], timeout=60)  # a blocked open would time out
        assert result.returncode == 2 and "templates/fifo.j2" in result.stderr, (command, result.stderr[-2000:])


def test_a_judge_path_from_a_received_run_directory_cannot_leave_the_root(tmp_path):
    from harness.judge_run import _judge_dir
    from loomcore.errors import InputError

    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    with pytest.raises(InputError, match="leads out of the manifest's folder"):
        _judge_dir("nli", {"id": "x", "path": "../outside"}, root, {})
    (root / "link").symlink_to(outside)
    with pytest.raises(InputError, match="leads out of the manifest's folder"):
        _judge_dir("nli", {"id": "x", "path": "link"}, root, {})


def test_a_hub_that_accepts_and_never_answers_is_a_timeout_naming_the_endpoint(tmp_path):
    """`pin --resolve` against a silent hub: exit 2 within the timeout, the endpoint named."""
    import socket
    import threading
    import time

    from tests.conftest import ROOT

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    data = json.loads((ROOT / "manifests" / "loombench-v1.json").read_text())
    project = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", project, ignore=shutil.ignore_patterns("models"))
    hub_task = next(t for b in data["benchmarks"] for t in b["tasks"] if t["dataset"].get("source") == "hub")
    hub_task["dataset"]["revision"] = None
    (project / "v1.json").write_text(json.dumps(data, indent=2))
    env = {**os.environ, "HF_ENDPOINT": endpoint, "LOOMCTL_HUB_TIMEOUT": "2", "HF_HUB_OFFLINE": "0"}
    started = time.monotonic()
    result = loomctl("pin", str(project / "v1.json"), "--resolve", env=env, timeout=120)
    assert time.monotonic() - started < 60
    assert result.returncode == 2, result.stderr[-2000:]
    assert endpoint in result.stderr
    server.close()


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8\n", b"[1, 2, 3]\n", b'{"context": NaN}\n', b'"text"\n'])
def test_local_data_that_is_not_json_objects_is_exit_2(tmp_path, content):
    from harness.data.loaders import _read_local
    from loomcore.errors import InputError

    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match="dataset.path"):
        _read_local(path, None)


def test_the_pinned_cpu_threads_are_applied(project, tmp_path):
    """accelerator.threads is not only recorded: torch runs with that many threads (environment.json)."""
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(256,), per_length=1)
    data = json.loads(manifest.read_text())
    data["accelerator"]["threads"] = 1
    manifest.write_text(json.dumps(data, indent=2))
    result = loomctl("run", str(manifest), "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "environment.json").read_text())["torch_threads"] == 1


@pytest.mark.parametrize("key, value", [("lengths", ["a"]), ("lengths", "x"), ("samples_per_length", "4"),
                                        ("lengths", [1e9]), ("lengths", [10**9]), ("num_keys", True)])
def test_generator_params_of_the_wrong_type_or_size_are_exit_2_before_generating(project, key, value):
    import time

    data = json.loads((project / "loombench-lite.json").read_text())
    task = next(t for b in data["benchmarks"] for t in b["tasks"] if t["id"] == "niah_multivalue")
    task["dataset"]["params"][key] = value
    path = project / "gen.json"
    path.write_text(json.dumps(data, indent=2))
    started = time.monotonic()
    for command in (["validate"], ["pin", "--check"]):
        result = loomctl(command[0], str(path), *command[1:], timeout=120)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert f"dataset/params/{key}" in result.stderr
    assert time.monotonic() - started < 60


def test_auto_map_in_the_tokenizer_config_is_refused_without_trust_remote_code(tmp_path):
    from harness.engines.hf import TransformersEngine
    from loomcore.errors import InputError

    model = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    import transformers

    spec = {"name": "transformers", "version": transformers.__version__, "args": {"device": "cpu"}}
    with pytest.raises(InputError, match="tokenizer_config.json has auto_map"):
        TransformersEngine(spec, {"dtype": "float32", "trust_remote_code": False}, str(model))


def test_the_harness_does_not_read_local_data_outside_its_folder(tmp_path):
    from loomcore.errors import InputError
    from tests.helpers import load_samples

    root, outside = tmp_path / "root", tmp_path / "secret.jsonl"
    root.mkdir()
    outside.write_text('{"id": "1", "context": "secret"}\n')
    (root / "link.jsonl").symlink_to(outside)
    for path in ("../secret.jsonl", "link.jsonl", str(outside)):
        with pytest.raises(InputError, match="leads out of"):
            load_samples({"source": "local", "path": path}, root, lambda: None)
