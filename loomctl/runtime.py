"""Runtimes: prepare a run directory (the effective manifest) and execute the harness on it.

The ``local`` runtime runs ``python -m harness`` in a child process of this Python, as it is (whatever
is installed in it), the same entrypoint the image uses, so loomctl itself never imports torch; the
``venv`` runtime runs it with the Python of an environment built from the flavour's lock
(``loomctl.venvs``); the ``docker`` runtime in the flavour's image. A run directory that already
holds the same effective manifest is resumed; one that holds another is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import harness
import loomctl
from harness.errors import InputError, RuntimeFailure
from harness.hashing import sha256_json, sha256_text
from harness.records import write_json_atomic
from loomctl import manifest as mf
from loomctl.pins import model_dir_of

EFFECTIVE_SCHEMA = "loomctl.effective/1"
# Set in a container's environment: which runtime, and the image's provenance (the judge pass records both).
CONTAINER_MARKERS = ("LOOMCTL_RUNTIME", "LOOMCTL_IMAGE")


def effective_manifest(manifest: mf.Manifest, runtime: dict[str, Any], limit: int | None = None,
                       substitutions: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything that can change a score, resolved: defaults applied, templates inlined (and
    checked against their pins), plus the runtime and any substitutions (``loomctl.substitute``:
    the source manifest's digest and each change). Refuses open pins, but for the judges' (the judge
    pass, ``loomctl judge``, checks those)."""
    open_pins = mf.open_pins(manifest, for_run=True)
    if open_pins:
        raise InputError(*[f"{p}: open pin — run `loomctl pin {manifest.path}` (where the inputs are "
                           "reachable) and commit the manifest; runs refuse unpinned inputs" for p in open_pins])
    tasks = []
    for task in mf.tasks(manifest):
        spec = task.as_dict()
        text = mf.template_text(manifest, task.prompt, task.pointer)
        if sha256_text(text) != task.prompt["sha256"]:
            raise InputError(f"{task.pointer}/prompt/sha256: the template hashes to {sha256_text(text)}, the "
                             f"manifest pins {task.prompt['sha256']} — restore the template or re-pin")
        spec["prompt"] = {**{k: v for k, v in task.prompt.items() if k != "template_file"}, "template": text}
        tasks.append(spec)
    data = manifest.data
    return {"schema": EFFECTIVE_SCHEMA, "manifest_digest": manifest.digest, "suite": data["suite"],
            "model": data["model"], "engine": data["engine"], "accelerator": data["accelerator"],
            "image": data["image"], "runtime": runtime, "limit": limit,
            # The judges (pins may still be open: only `loomctl judge` needs them), for the judge pass.
            **({"judges": data["judges"]} if data.get("judges") else {}),
            **({"substitutions": substitutions} if substitutions else {}),
            "versions": {"loomctl": loomctl.__version__, "harness": harness.__version__}, "tasks": tasks}


def default_run_dir(manifest: mf.Manifest) -> Path:
    return Path("runs") / f"{manifest.data['suite']['name']}-{manifest.digest[:12]}"


def prepare(manifest: mf.Manifest, out: Path, runtime: dict[str, Any], limit: int | None = None,
            substitutions: dict[str, Any] | None = None) -> Path:
    effective = effective_manifest(manifest, runtime, limit, substitutions)
    path = out / "manifest.json"
    if path.exists():
        existing = json.loads(path.read_text())
        if sha256_json(existing) != sha256_json(effective):
            raise InputError(f"--out: {out} holds a run of a different effective manifest "
                             f"(digest {existing.get('manifest_digest', '?')[:12]}) — choose another --out, "
                             "or delete that directory if it is no longer needed")
        return out
    write_json_atomic(path, effective)
    return out


def run_local(manifest: mf.Manifest, out: Path, model_dir: Path | None, data_dir: Path | None,
              allow_accelerator_mismatch: bool = False, python: Path | None = None,
              env: dict[str, str] | None = None) -> int:
    """Run the harness in a child process of ``python`` (default: this Python; the venv runtime passes
    its environment's, see ``loomctl.venvs``); its stderr is shown and kept in logs/harness.log."""
    model = model_dir_of(manifest, model_dir)
    cmd = [str(python or sys.executable), "-m", "harness", "run", "--run-dir", str(out), "--model-dir", str(model),
           "--root", str(manifest.root.resolve())]
    if data_dir:
        cmd += ["--data-dir", str(data_dir)]
    if allow_accelerator_mismatch:
        cmd += ["--allow-accelerator-mismatch"]
    return _spawn(cmd, out / "logs" / "harness.log",
                  "run: interrupted — finished samples are kept; run the same command to resume", env)


def judge_local(run_dir: Path, root: Path, judge_dirs: dict[str, Path]) -> int:
    """The judge pass (``python -m harness judge``) in a child process; its stderr is shown and kept
    in logs/judge.log."""
    cmd = [sys.executable, "-m", "harness", "judge", "--run-dir", str(run_dir), "--root", str(root.resolve())]
    for name, folder in sorted(judge_dirs.items()):
        cmd += ["--judge", f"{name}={folder.resolve()}"]
    return _spawn(cmd, run_dir / "logs" / "judge.log",
                  "judge: interrupted — the run's scores are untouched; run the same command again")


@contextlib.contextmanager
def stopped_by_signals():
    """While a harness child or container runs, Ctrl-C and SIGTERM (a CI job cancelled, a scheduler's
    kill) both raise KeyboardInterrupt here, so the child is stopped and the finished samples kept,
    instead of loomctl dying and leaving it running. SIGINT is set too: a process started in the
    background inherits it ignored, and Python then installs no handler for it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _spawn(cmd: list[str], log_path: Path, interrupted: str, extra_env: dict[str, str] | None = None) -> int:
    """Run the harness offline in a child process, its stderr streamed here and appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**{k: v for k, v in os.environ.items() if k not in CONTAINER_MARKERS},
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(extra_env or {})}
    with log_path.open("a", encoding="utf-8") as log, stopped_by_signals():
        process = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
        try:
            for line in process.stderr:
                sys.stderr.write(line)
                log.write(line)
                log.flush()
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
            raise RuntimeFailure(interrupted)


def _container_user(out: Path) -> str | None:
    """Run as the caller where it is not root; as root, keep the image's non-root user and let it
    write the run directory (and nothing else)."""
    if os.getuid() != 0:
        return f"{os.getuid()}:{os.getgid()}"
    for path in [out, *out.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    return None


def _devices(accelerator: dict[str, Any]) -> list:
    from docker.types import DeviceRequest

    return [DeviceRequest(count=accelerator["count"], capabilities=[["gpu"]])] if accelerator["kind"] == "gpu" else []


def _isolated(provenance: dict[str, Any], out: Path, mounts: list, command: list[str],
              accelerator: dict[str, Any]) -> dict[str, Any]:
    """A container's options: only ``out`` writable (every other mount read-only), no network, the
    GPUs the manifest asks for, and the runtime and image named in its environment."""
    return {"command": command, "mounts": mounts, "network_mode": "none", "device_requests": _devices(accelerator),
            "user": _container_user(out), "labels": {"dev.loomctl.run": str(out.resolve())},
            "environment": {"LOOMCTL_RUNTIME": "docker", "LOOMCTL_IMAGE": json.dumps(provenance, sort_keys=True)}}


def container_options(manifest: mf.Manifest, out: Path, model_dir: Path | None, data_dir: Path | None,
                      allow_accelerator_mismatch: bool, provenance: dict[str, Any]) -> dict[str, Any]:
    """The evaluation container: model, manifest folder and data read-only, only the run directory
    writable, no network, the GPUs the manifest asks for."""
    from docker.types import Mount

    model = model_dir_of(manifest, model_dir).resolve()
    mounts = [Mount("/manifest", str(manifest.root.resolve()), type="bind", read_only=True),
              Mount("/model", str(model), type="bind", read_only=True),
              Mount("/run-dir", str(out.resolve()), type="bind", read_only=False)]
    cmd = ["run", "--run-dir", "/run-dir", "--model-dir", "/model", "--root", "/manifest"]
    if data_dir:
        mounts.append(Mount("/data", str(data_dir.resolve()), type="bind", read_only=True))
        cmd += ["--data-dir", "/data"]
    if allow_accelerator_mismatch:
        cmd += ["--allow-accelerator-mismatch"]
    return _isolated(provenance, out, mounts, cmd, manifest.data["accelerator"])


def judge_container_options(run_dir: Path, effective: dict[str, Any], root: Path, judge_dirs: dict[str, Path],
                            provenance: dict[str, Any]) -> dict[str, Any]:
    """The judge container: the run directory writable, the manifest folder and each judge's folder
    (``--judge NAME=DIR``, else its pinned ``path`` under ``root``) read-only at /judges/NAME, no
    network (a hosted judge is refused by the judge pass anyway)."""
    from docker.types import Mount

    mounts = [Mount("/manifest", str(root.resolve()), type="bind", read_only=True),
              Mount("/run-dir", str(run_dir.resolve()), type="bind", read_only=False)]
    cmd = ["judge", "--run-dir", "/run-dir", "--root", "/manifest"]
    pinned = effective.get("judges") or {}
    for name in sorted(set(pinned) | set(judge_dirs)):
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            raise InputError(f"--judge: {name!r} is not a judge name (letters, digits, _ . -) — name a judge of "
                             "the manifest's `judges`")
        path = pinned.get(name, {}).get("path")
        folder = judge_dirs.get(name) or (root / path if path else None)
        if folder is None or not folder.is_dir():
            continue  # the judge pass names what is missing, if this judge is needed at all
        mounts.append(Mount(f"/judges/{name}", str(folder.resolve()), type="bind", read_only=True))
        cmd += ["--judge", f"{name}=/judges/{name}"]
    return _isolated(provenance, run_dir, mounts, cmd, effective["accelerator"])


def run_docker(manifest: mf.Manifest, out: Path, image, model_dir: Path | None, data_dir: Path | None,
               allow_accelerator_mismatch: bool) -> int:
    """Run the harness in ``image`` (see ``container_options``); logs streamed to stderr and
    logs/harness.log; the exit code propagated; the container removed afterwards, also on Ctrl-C or
    SIGTERM."""
    (out / "logs").mkdir(parents=True, exist_ok=True)  # before the run directory is opened to the image's user
    options = container_options(manifest, out, model_dir, data_dir, allow_accelerator_mismatch,
                                image.provenance())
    return _in_container(image, options, out / "logs" / "harness.log",
                         "run: interrupted; the container was stopped — finished samples are kept; run the same "
                         "command to resume")


def judge_docker(run_dir: Path, effective: dict[str, Any], root: Path, judge_dirs: dict[str, Path], image) -> int:
    """The judge pass over ``run_dir`` (whose effective manifest is ``effective``) in ``image`` (see
    ``judge_container_options``), as ``run_docker`` runs a run."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    return _in_container(image, judge_container_options(run_dir, effective, root, judge_dirs, image.provenance()),
                         run_dir / "logs" / "judge.log",
                         "judge: interrupted; the container was stopped — the run's scores are untouched; run the "
                         "same command again")


def _in_container(image, options: dict[str, Any], log_path: Path, interrupted: str) -> int:
    from loomctl.images import client

    container = client().containers.create(image.id, **options)
    try:
        with stopped_by_signals():
            container.start()
            with log_path.open("a", encoding="utf-8") as log:
                for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                    text = chunk.decode("utf-8", errors="replace")
                    sys.stderr.write(text)
                    log.write(text)
            return int(container.wait()["StatusCode"])
    except KeyboardInterrupt:
        container.stop(timeout=10)
        raise RuntimeFailure(interrupted) from None
    finally:
        container.remove(force=True)
