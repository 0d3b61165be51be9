"""``loomctl plan --emit k8s-indexed-job``: a sharded run as a Kubernetes Indexed Job.

The sharded run directory ``DIR`` is prepared here, on the host, exactly as ``loomctl run --shards N``
prepares it (``DIR/manifest.json``, ``DIR/plan.json``, ``DIR/shards/K/manifest.json`` for every K); the
Job runs completion index K as shard K: the harness in the image, pulled by digest, over
``/runs/shards/$(JOB_COMPLETION_INDEX)`` (Kubernetes expands ``$(VAR)`` in ``args`` from the container's
environment, and an Indexed Job sets ``JOB_COMPLETION_INDEX`` in every pod). The user copies ``DIR`` onto
the runs volume, applies the Job, and runs ``loomctl merge DIR`` on the shards afterwards.

The container is the docker runtime's (``loomctl.runtime.container_options``): the image's entrypoint
(``python -m harness``) with the same ``run`` arguments, the model and data read-only, only the run
directory writable, offline (``HF_HUB_OFFLINE``; a NetworkPolicy is the cluster's to add), as the image's
non-root user; ``nvidia.com/gpu: accelerator.count`` on a GPU manifest. An index is retried
``--retries`` times (``backoffLimitPerIndex``) unless the harness exits 2 (invalid input, never retried:
``podFailurePolicy`` fails the index); a pod evicted or preempted (``DisruptionTarget``) is rerun without
counting as a retry, and resumes from its records.

The Job is written as JSON (``DIR/k8s/job.json``; ``kubectl apply -f`` reads it): PyYAML is not a
declared dependency. It is checked offline against the Kubernetes API's schema for ``K8S_VERSION``
(``kubernetes-validate``, strict: unknown fields are refused); it has not been run on a cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loomcore.errors import InputError, RuntimeFailure
from loomcore.rundir import MANIFEST, RunDir, write_json_atomic
from loomctl import manifest as mf
from loomctl import shardrun

EMITS = ("k8s-indexed-job",)
K8S_VERSION = "1.33"  # the API the Job is checked against: Indexed Jobs with backoffLimitPerIndex are GA there
JOB_FILE = Path("k8s") / "job.json"
CONTAINER = "harness"
IMAGE_USER = 10001  # the image's user (images/Dockerfile.j2)
MODEL, DATA, RUNS, EMPTY_ROOT = "/model", "/data", "/runs", "/manifest"  # /manifest: an empty folder in the image
LABEL = "loomctl.dev"
# What the Job controller sets JOB_COMPLETION_INDEX from; declared here too, so `$(JOB_COMPLETION_INDEX)` in the
# args expands from the container's own env (the controller leaves a declared one as it is).
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
DIGEST_REF = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 52  # leaves room in the 63-character pod hostname for the index Kubernetes appends


@dataclass
class JobOptions:
    """What `loomctl plan --emit k8s-indexed-job` was asked beyond the plan."""

    image: str | None
    model_claim: str | None
    data_claim: str | None
    runs_claim: str | None
    name: str | None = None
    parallelism: int | None = None
    retries: int = 1


def image_reference(image: str | None, flavour: str) -> str:
    """The image the pods pull: by digest only (a tag can move), and of the manifest's flavour."""
    todo = (f"run `loomctl build MANIFEST --push REGISTRY` and pass the reference it records as `pushed` "
            f"(REGISTRY/loomctl-{flavour}@sha256:…) with --image")
    if not image:
        raise InputError(f"image/digest: the Job pulls the evaluation image by digest, and none was given — {todo}")
    if not DIGEST_REF.fullmatch(image):
        raise InputError(f"image/digest: {image!r} is not an image by digest (REPOSITORY@sha256:<64 hex>); a tag can "
                         f"move under a running Job — {todo}")
    repository = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    if repository.startswith("loomctl-") and repository != f"loomctl-{flavour}":
        raise InputError(f"--image: {image.split('@')[0]} is a {repository} image, the manifest's flavour is {flavour} "
                         f"— {todo}")
    return image


def reads_data(effective: dict[str, Any]) -> bool:
    """Whether the run reads files besides the model: hub or local datasets, or a generator's file inputs."""
    from harness.api import GENERATORS

    for task in effective["tasks"]:
        dataset = task["dataset"]
        if dataset["source"] != "generator":
            return True
        generator = GENERATORS.get(dataset.get("generator"))
        if generator is not None and any(isinstance((dataset.get("params") or {}).get(k), str)
                                         for k in generator.paths):
            return True
    return False


def check_claims(options: JobOptions, effective: dict[str, Any]) -> None:
    """Every volume claim the Job needs, named (all missing ones at once), each a valid claim name."""
    wanted = {"--model-claim": (options.model_claim, "the PersistentVolumeClaim holding the model folder "
                                "(mounted read-only at /model)"),
              "--runs-claim": (options.runs_claim, "the PersistentVolumeClaim the shards write to (DIR is copied "
                               "onto it)")}
    if reads_data(effective):
        wanted["--data-claim"] = (options.data_claim, "this manifest reads data files: the PersistentVolumeClaim "
                                  "holding the manifest folder's data and the hub cache (mounted read-only at /data)")
    problems = [f"{flag}: missing — {what}" for flag, (value, what) in wanted.items() if not value]
    for flag, value in (("--model-claim", options.model_claim), ("--data-claim", options.data_claim),
                        ("--runs-claim", options.runs_claim)):
        if value and (len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value)):
            problems.append(f"{flag}: {value!r} is not a claim name (lower-case letters, digits, '-' and '.', at most "
                            "253 characters) — pass the name of a PersistentVolumeClaim in the Job's namespace")
    if problems:
        raise InputError(*problems)


def job_name(given: str | None, suite: str, digest: str) -> str:
    """``--name`` checked, or ``loomctl-<suite>-<digest prefix>`` made into a DNS-1123 label."""
    if given is not None:
        if len(given) > NAME_MAX or not DNS_LABEL.fullmatch(given):
            raise InputError(f"--name: {given!r} is not a Job name (lower-case letters, digits and '-', starting and "
                             f"ending with a letter or digit, at most {NAME_MAX} characters) — choose another")
        return given
    stem = re.sub(r"[^a-z0-9]+", "-", suite.lower()).strip("-")[:NAME_MAX - 22].strip("-")
    return f"loomctl-{stem}-{digest[:12]}" if stem else f"loomctl-{digest[:12]}"


def harness_args(effective: dict[str, Any], with_data: bool) -> list[str]:
    """The harness's ``run`` arguments, as ``runtime.container_options`` gives them to the docker image."""
    args = ["run", "--run-dir", f"{RUNS}/shards/$(JOB_COMPLETION_INDEX)", "--model-dir", MODEL,
            "--root", DATA if with_data else EMPTY_ROOT]
    if with_data:
        args += ["--data-dir", DATA]
    if effective["runtime"].get("accelerator_mismatch_allowed"):
        args.append("--allow-accelerator-mismatch")
    return args


def _volumes(options: JobOptions, runs_subpath: str) -> tuple[list[dict], list[dict]]:
    """(pod volumes, container mounts): model and data read-only on both sides, the runs claim writable."""
    claims = [("model", options.model_claim, MODEL, True, None), ("data", options.data_claim, DATA, True, None),
              ("runs", options.runs_claim, RUNS, False, runs_subpath)]
    volumes, mounts = [], []
    for name, claim, path, read_only, subpath in claims:
        if not claim:
            continue
        source = {"claimName": claim, **({"readOnly": True} if read_only else {})}
        volumes.append({"name": name, "persistentVolumeClaim": source})
        mounts.append({"name": name, "mountPath": path, **({"readOnly": True} if read_only else {}),
                       **({"subPath": subpath} if subpath else {})})
    return volumes, mounts


def _resources(accelerator: dict[str, Any]) -> dict[str, Any]:
    if accelerator.get("kind") == "gpu":
        gpus = str(int(accelerator.get("count", 1)))
        return {"limits": {"nvidia.com/gpu": gpus}, "requests": {"nvidia.com/gpu": gpus}}
    return {"requests": {"cpu": str(int(accelerator.get("threads") or 1))}}


def _container(effective: dict[str, Any], image: str, mounts: list[dict], with_data: bool) -> dict[str, Any]:
    return {"name": CONTAINER, "image": image, "imagePullPolicy": "IfNotPresent",
            "args": harness_args(effective, with_data),
            "env": [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX}}},
                    {"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "HF_DATASETS_OFFLINE", "value": "1"}],
            "resources": _resources(effective["accelerator"]), "volumeMounts": mounts,
            "securityContext": {"runAsNonRoot": True, "runAsUser": IMAGE_USER, "runAsGroup": IMAGE_USER,
                                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}


def _metadata(name: str, effective: dict[str, Any], plan: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations): label values stop at 63 characters, so labels carry hash prefixes (to select
    by) and annotations the full hashes."""
    made = plan["plan"]
    labels = {"app.kubernetes.io/name": "loomctl", "app.kubernetes.io/managed-by": "loomctl",
              "app.kubernetes.io/instance": name,
              f"{LABEL}/manifest-digest": effective["manifest_digest"][:16],
              f"{LABEL}/plan-sha256": plan["plan_sha256"][:16]}
    annotations = {f"{LABEL}/manifest-digest": f"sha256:{effective['manifest_digest']}",
                   f"{LABEL}/parent-digest": f"sha256:{made['parent_digest']}",
                   f"{LABEL}/plan-sha256": f"sha256:{plan['plan_sha256']}",
                   f"{LABEL}/suite": f"{effective['suite']['name']} {effective['suite'].get('version', '')}".strip(),
                   f"{LABEL}/checked-against": f"Kubernetes {K8S_VERSION} API schema, offline (kubernetes-validate); "
                                               "untested against a cluster"}
    return labels, annotations


def build_job(effective: dict[str, Any], plan: dict[str, Any], image: str, options: JobOptions, name: str,
              runs_subpath: str) -> dict[str, Any]:
    """The Indexed Job: completion index K runs shard K of ``plan`` (see the module docstring)."""
    count = plan["plan"]["count"]
    with_data = bool(options.data_claim)
    volumes, mounts = _volumes(options, runs_subpath)
    labels, annotations = _metadata(name, effective, plan)
    pod = {"restartPolicy": "Never", "volumes": volumes,
           "securityContext": {"runAsNonRoot": True, "fsGroup": IMAGE_USER},
           "containers": [_container(effective, image, mounts, with_data)]}
    spec = {"completionMode": "Indexed", "completions": count, "parallelism": options.parallelism or count,
            "backoffLimitPerIndex": options.retries,
            "podFailurePolicy": {"rules": [
                {"action": "FailIndex", "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": [2]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod}}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "labels": labels, "annotations": annotations}, "spec": spec}


def schema_problems(document: dict[str, Any], version: str = K8S_VERSION) -> list[str]:
    """The document against the Kubernetes API schema of ``version``, offline and strict (an unknown
    field is a problem): empty when it conforms."""
    try:
        import kubernetes_validate
    except ImportError:
        raise InputError("--emit: checking the Job needs kubernetes-validate — pip install 'loomctl[k8s]'") from None
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path) or "(document)"
        return [f"{where}: {exc.message[:300]}"]
    return []


def prepare(manifest: mf.Manifest, out: Path, image: str, count: int, limit: int | None,
            substitutions: dict[str, Any] | None, allow_accelerator_mismatch: bool, model_dir: Path | None,
            data_dir: Path | None) -> dict[str, Any]:
    """DIR as `loomctl run --shards N` prepares it (parent manifest, plan, every shard's manifest), the
    runtime recorded as this Job's image; the plan."""
    from loomctl import runtime as rt

    with rt.writer_lock(out):
        rt.prepare(manifest, out, {"kind": "k8s", "image": image,
                                   "accelerator_mismatch_allowed": allow_accelerator_mismatch}, limit, substitutions)
        plan = shardrun.ensure_plan(manifest, out, count, model_dir, data_dir)
        shardrun.prepare_shards(out, plan)
    return plan


def emit(manifest: mf.Manifest, out: Path, options: JobOptions, count: int, limit: int | None,
         substitutions: dict[str, Any] | None, allow_accelerator_mismatch: bool, model_dir: Path | None,
         data_dir: Path | None) -> tuple[Path, dict[str, Any]]:
    """Check the options, prepare DIR, write DIR/k8s/job.json and check it against the schema:
    (the file, the Job). A Job the schema refuses is our bug (exit 3), and is left beside for a report."""
    from loomctl.images import flavour_of
    from loomctl.runtime import effective_manifest

    image = image_reference(options.image, flavour_of(manifest.data))
    check_claims(options, effective_manifest(manifest, {"kind": "k8s"}, limit, substitutions))
    name = job_name(options.name, manifest.data["suite"]["name"], manifest.digest)
    plan = prepare(manifest, out, image, count, limit, substitutions, allow_accelerator_mismatch, model_dir, data_dir)
    effective = RunDir(out).read(MANIFEST)
    job = build_job(effective, plan, image, options, name, out.resolve().name)
    path = out / JOB_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    problems = schema_problems(job)
    if problems:
        rejected = path.with_name("job.rejected.json")
        rejected.write_text(json.dumps(job, indent=2) + "\n")
        raise RuntimeFailure(*[f"--emit: the Job does not conform to the Kubernetes {K8S_VERSION} API schema: {p} "
                               f"— a bug of loomctl; report it with {rejected}" for p in problems])
    write_json_atomic(path, job)
    return path, job


def next_steps(out: Path, job: dict[str, Any]) -> str:
    """What the user does with the Job (printed by `loomctl plan --emit`)."""
    spec = job["spec"]
    pod = spec["template"]["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    subpath = next(m.get("subPath", "") for m in pod["containers"][0]["volumeMounts"] if m["name"] == "runs")
    return "\n".join([
        f"wrote {out / JOB_FILE}: Indexed Job {job['metadata']['name']}, {spec['completions']} completions "
        f"(completion index K runs {out}/shards/K), parallelism {spec['parallelism']}, "
        f"retries per index {spec['backoffLimitPerIndex']} (exit 2 is never retried)",
        f"checked against the Kubernetes {K8S_VERSION} API schema offline (kubernetes-validate, strict); "
        "untested against a cluster",
        "next:",
        f"  1. copy {out} onto the volume of claim {claims['runs']} as the folder {subpath}/",
        f"  2. kubectl apply -f {out / JOB_FILE}",
        f"  3. kubectl wait --for=condition=complete --timeout=-1s job/{job['metadata']['name']}  (a shard that "
        f"fails after its retries fails the Job: kubectl describe job/{job['metadata']['name']} names its index)",
        f"  4. copy {subpath}/ back to {out}, then: loomctl merge {out}"])
