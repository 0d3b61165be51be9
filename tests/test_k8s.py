"""`loomctl plan --emit k8s-indexed-job`: the sharded run directory prepared on the host and its Kubernetes
Indexed Job, checked offline against the Kubernetes API schema (no cluster here). The pod's command is
also run here, with the volumes' paths put in, to show that each completion index runs its shard and
`loomctl merge` merges them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loomctl import k8s
from tests.helpers import copy_project, loomctl, small_manifest

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"registry.example:5000/loomctl-cpu@{DIGEST}"
CLAIMS = ("--model-claim", "models", "--runs-claim", "runs")


def emit(manifest: Path, out: Path, *extra: str, shards: int = 2) -> subprocess.CompletedProcess:
    """`loomctl plan --emit` of 2 samples per task (each shard one batch: the pods' run takes seconds)."""
    return loomctl("plan", str(manifest), "--shards", str(shards), "--limit", "2", "--emit", "k8s-indexed-job",
                   "--out", str(out), *extra)


@pytest.fixture(scope="module")
def emitted(tmp_path_factory, random_model_dir):
    """A small pinned manifest (two tasks) emitted as a 2-shard Job: (manifest, DIR, job, result)."""
    base = tmp_path_factory.mktemp("k8s")
    manifest = small_manifest(copy_project(base), random_model_dir)
    out = base / "lite-run"
    result = emit(manifest, out, "--image", IMAGE, *CLAIMS)
    assert result.returncode == 0, result.stderr
    return manifest, out, json.loads((out / "k8s" / "job.json").read_text()), result


def _pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def _container(job: dict) -> dict:
    (container,) = _pod(job)["containers"]
    return container


def test_the_job_conforms_to_the_kubernetes_api_schema_and_says_it_is_untested(emitted):
    _, out, job, result = emitted
    assert k8s.schema_problems(job) == []
    assert (job["apiVersion"], job["kind"], job["spec"]["completionMode"]) == ("batch/v1", "Job", "Indexed")
    assert f"Kubernetes {k8s.K8S_VERSION} API schema offline" in result.stdout
    assert "untested against a cluster" in result.stdout
    assert f"kubectl apply -f {out / 'k8s' / 'job.json'}" in result.stdout
    assert f"loomctl merge {out}" in result.stdout


def test_the_image_is_pulled_by_digest_and_recorded_as_the_runtime(emitted):
    _, out, job, _ = emitted
    assert _container(job)["image"] == IMAGE
    parent = json.loads((out / "manifest.json").read_text())
    assert parent["runtime"] == {"kind": "k8s", "image": IMAGE, "accelerator_mismatch_allowed": False}


def test_completion_index_k_runs_shard_k_of_the_plan(emitted):
    _, out, job, _ = emitted
    plan = json.loads((out / "plan.json").read_text())
    assert job["spec"]["completions"] == 2 == plan["plan"]["count"]
    assert job["spec"]["parallelism"] == 2
    args = _container(job)["args"]
    assert args[:3] == ["run", "--run-dir", "/runs/shards/$(JOB_COMPLETION_INDEX)"]
    runs = next(m for m in _container(job)["volumeMounts"] if m["name"] == "runs")
    assert (runs["mountPath"], runs["subPath"]) == ("/runs", out.name)  # DIR is copied onto the claim as its name
    env = {e["name"]: e for e in _container(job)["env"]}
    assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    for index in range(2):
        shard = json.loads((out / "shards" / str(index) / "manifest.json").read_text())["shard"]
        assert (shard["index"], shard["count"], shard["plan_sha256"]) == (index, 2, plan["plan_sha256"])
        assert shard["units"]  # 2 tasks of one batch each: one per shard
    labels, annotations = job["metadata"]["labels"], job["metadata"]["annotations"]
    assert annotations["loomctl.dev/plan-sha256"] == f"sha256:{plan['plan_sha256']}"
    assert plan["plan_sha256"].startswith(labels["loomctl.dev/plan-sha256"])
    assert all(len(v) <= 63 for v in labels.values())
    assert _pod(job)["restartPolicy"] == "Never" and job["spec"]["template"]["metadata"]["labels"] == labels


def test_the_model_is_mounted_read_only_and_only_the_runs_claim_is_writable(emitted):
    _, _, job, _ = emitted
    volumes = {v["name"]: v["persistentVolumeClaim"] for v in _pod(job)["volumes"]}
    mounts = {m["name"]: m for m in _container(job)["volumeMounts"]}
    assert volumes == {"model": {"claimName": "models", "readOnly": True}, "runs": {"claimName": "runs"}}
    assert mounts["model"]["readOnly"] is True and "readOnly" not in mounts["runs"]
    assert _container(job)["resources"] == {"requests": {"cpu": "2"}}  # a CPU manifest asks for no GPU
    assert _container(job)["securityContext"]["runAsNonRoot"] is True


def test_invalid_input_is_never_retried_and_a_runtime_failure_is(emitted):
    _, _, job, _ = emitted
    spec = job["spec"]
    assert spec["backoffLimitPerIndex"] == 1  # --retries' default, as for `loomctl run`
    fail_index, ignore = spec["podFailurePolicy"]["rules"]
    assert fail_index == {"action": "FailIndex",
                          "onExitCodes": {"containerName": "harness", "operator": "In", "values": [2]}}
    assert ignore["action"] == "Ignore" and ignore["onPodConditions"][0]["type"] == "DisruptionTarget"


def test_the_pods_command_runs_each_shard_and_merge_merges_them(emitted, tmp_path):
    """What each pod runs (the image's entrypoint, `python -m harness`, with the Job's args), here, with the
    index and the volumes' paths put in: /model the model folder, /runs the copy of DIR, /manifest empty."""
    manifest, out, job, _ = emitted
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    (tmp_path / "empty").mkdir()
    places = {"/model": str(manifest.parent / "models" / "tiny-loom"), "/runs": str(out),
              "/manifest": str(tmp_path / "empty")}
    pods = []
    for index in range(job["spec"]["completions"]):  # at once, as the Job's parallelism has them
        args = [a.replace("$(JOB_COMPLETION_INDEX)", str(index)) for a in _container(job)["args"]]
        args = [next((a.replace(k, v, 1) for k, v in places.items() if a.startswith(k)), a) for a in args]
        pods.append(subprocess.Popen([sys.executable, "-m", "harness", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env))
    for pod in pods:
        _, stderr = pod.communicate()
        assert pod.returncode == 0, stderr[-2000:]
    merged = loomctl("merge", str(out))
    assert merged.returncode == 0, merged.stderr
    assert json.loads((out / "shards.json").read_text())


def test_emitting_again_reuses_the_run_directory_and_another_image_is_refused(emitted):
    manifest, out, job, _ = emitted
    again = emit(manifest, out, "--image", IMAGE, *CLAIMS)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "k8s" / "job.json").read_text()) == job
    other = emit(manifest, out, "--image", IMAGE.replace("0123", "4567"), *CLAIMS)
    assert other.returncode == 2 and "holds a run of a different effective manifest" in other.stderr


def test_a_gpu_manifest_requests_accelerator_count_gpus(emitted, tmp_path):
    manifest, _, _, _ = emitted
    data = json.loads(manifest.read_text())
    data["accelerator"] = {"kind": "gpu", "model": "H100-80GB", "count": 2}
    data["image"]["flavour"] = "transformers"
    gpu = manifest.with_name("gpu.json")
    gpu.write_text(json.dumps(data, indent=2))
    image = IMAGE.replace("loomctl-cpu", "loomctl-transformers")
    result = emit(gpu, tmp_path / "gpu-run", "--image", image, *CLAIMS, "--retries", "3", "--parallelism", "1",
                  "--name", "gpu-eval", shards=3)
    assert result.returncode == 0, result.stderr
    job = json.loads((tmp_path / "gpu-run" / "k8s" / "job.json").read_text())
    assert k8s.schema_problems(job) == []
    assert _container(job)["resources"] == {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "2"}}
    assert (job["metadata"]["name"], job["spec"]["completions"], job["spec"]["parallelism"],
            job["spec"]["backoffLimitPerIndex"]) == ("gpu-eval", 3, 1, 3)
    wrong = emit(gpu, tmp_path / "wrong", "--image", IMAGE, *CLAIMS)
    assert wrong.returncode == 2 and "--image" in wrong.stderr and "transformers" in wrong.stderr


def test_missing_claims_are_refused_naming_each_and_nothing_is_written(emitted, tmp_path):
    manifest, _, _, _ = emitted
    result = emit(manifest, tmp_path / "run", "--image", IMAGE)
    assert result.returncode == 2
    assert "--model-claim: missing" in result.stderr and "--runs-claim: missing" in result.stderr
    assert "--data-claim" not in result.stderr  # the small manifest's generators read no files
    bad = emit(manifest, tmp_path / "run", "--image", IMAGE, "--model-claim", "Models_1", "--runs-claim", "runs")
    assert bad.returncode == 2 and "--model-claim: 'Models_1' is not a claim name" in bad.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("image", [None, "registry.example/loomctl-cpu:latest", "loomctl-cpu@sha256:abc"])
def test_an_image_not_pinned_by_digest_is_refused(emitted, tmp_path, image):
    manifest, _, _, _ = emitted
    result = emit(manifest, tmp_path / "run", *(["--image", image] if image else []), *CLAIMS)
    assert result.returncode == 2
    assert result.stderr.startswith("image/digest:") and "loomctl build" in result.stderr and "--push" in result.stderr
    assert not (tmp_path / "run").exists()


def test_bad_names_and_emit_options_without_emit_are_refused(emitted, tmp_path):
    manifest, _, _, _ = emitted
    named = emit(manifest, tmp_path / "run", "--image", IMAGE, *CLAIMS, "--name", "Eval_Run")
    assert named.returncode == 2 and named.stderr.startswith("--name:")
    plain = loomctl("plan", str(manifest), "--shards", "2", "--image", IMAGE)
    assert plain.returncode == 2 and plain.stderr.startswith("--image: only with --emit")
    other = emit(manifest, tmp_path / "run", "--image", IMAGE, *CLAIMS)
    assert other.returncode == 0  # and the same without --emit's name: a default name from the suite
    assert k8s.DNS_LABEL.fullmatch(json.loads((tmp_path / "run" / "k8s" / "job.json").read_text())["metadata"]["name"])
    unknown = loomctl("plan", str(manifest), "--shards", "2", "--emit", "helm-chart")
    assert unknown.returncode == 2 and unknown.stderr.startswith("--emit: 'helm-chart'")


def test_the_schema_check_can_fail(emitted):
    """The validator is strict: a misspelled field, a field at the wrong place or a value of the wrong type
    is a problem naming where it is."""
    _, _, job, _ = emitted
    misspelled = copy.deepcopy(job)
    misspelled["spec"]["backoffLimitPerIndx"] = misspelled["spec"].pop("backoffLimitPerIndex")
    assert k8s.schema_problems(misspelled) == ["spec: Additional properties are not allowed ('backoffLimitPerIndx' "
                                               "was unexpected)"]
    mount = copy.deepcopy(job)
    mount["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readonly"] = True
    assert k8s.schema_problems(mount)[0].startswith("spec/template/spec/containers/0/volumeMounts/0:")
    typed = copy.deepcopy(job)
    typed["spec"]["completions"] = "3"
    assert k8s.schema_problems(typed)[0].startswith("spec/completions:")


def test_data_is_needed_by_hub_local_and_file_reading_generators_and_mounted_read_only():
    def effective(*datasets):
        return {"tasks": [{"dataset": d} for d in datasets], "runtime": {}, "accelerator": {"kind": "cpu"}}

    generated = {"source": "generator", "generator": "niah", "params": {}}
    assert not k8s.reads_data(effective(generated))
    assert k8s.reads_data(effective(generated, {"source": "hub", "repo": "x/y"}))
    assert k8s.reads_data(effective({"source": "local", "path": "data/x.jsonl"}))
    from harness.api import GENERATORS

    essays, reader = next((name, g) for name, g in GENERATORS.items() if g.paths)
    assert k8s.reads_data(effective({"source": "generator", "generator": essays, "params": {reader.paths[0]: "hay"}}))
    options = k8s.JobOptions(IMAGE, "models", None, "runs")
    with pytest.raises(Exception, match="--data-claim: missing"):
        k8s.check_claims(options, effective({"source": "hub"}))
    options.data_claim = "datasets"
    plan = {"plan": {"count": 2, "parent_digest": "b" * 64}, "plan_sha256": "c" * 64}
    job = k8s.build_job({**effective({"source": "hub"}), "manifest_digest": "a" * 64,
                         "suite": {"name": "s", "version": "1"}}, plan, IMAGE, options, "s", "run")
    assert k8s.schema_problems(job) == []
    volume = {"name": "data", "persistentVolumeClaim": {"claimName": "datasets", "readOnly": True}}
    assert volume in _pod(job)["volumes"]
    assert {"name": "data", "mountPath": "/data", "readOnly": True} in _container(job)["volumeMounts"]
    assert _container(job)["args"][-4:] == ["--root", "/data", "--data-dir", "/data"]
