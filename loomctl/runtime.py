"""Runtimes: prepare a run directory (the effective manifest) and execute the harness on it.

One interface, ``Runtime`` (``provenance``, ``prepare``, ``run``, ``judge``), three runtimes behind it,
chosen by name with ``runtime_for``:

- ``local`` runs ``python -m harness`` in a child process of this Python, as it is (whatever is
  installed in it) — the same entrypoint the image uses, so loomctl itself never imports torch;
- ``venv`` runs it with the Python of an environment built from the flavour's hashed lock
  (``loomctl.venvs``);
- ``docker`` runs it in the flavour's image (``loomctl.images``).

A runtime's provenance travels one way: into the run's effective manifest (``runtime``), and into the
judge pass as an argument — never through environment variables. A run directory that already holds
the same effective manifest is resumed; one that holds another is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import loomctl
from harness import api as harness_api
from loomcore.errors import InputError, RuntimeFailure
from loomcore.hashing import sha256_json, sha256_text
from loomcore.rundir import LOCK, MANIFEST, RunDir, refuse_link, write_json_atomic
from loomctl import manifest as mf
from loomctl.pins import model_dir_of

EFFECTIVE_SCHEMA = "loomctl.effective/1"
RUNTIMES = ("local", "venv", "docker")


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
        text = mf.template_text(manifest, task.prompt, task.pointer)
        if sha256_text(text) != task.prompt["sha256"]:
            raise InputError(f"{task.pointer}/prompt/sha256: the template hashes to {sha256_text(text)}, the "
                             f"manifest pins {task.prompt['sha256']} — restore the template or re-pin")
        tasks.append(task.effective(text).to_json())
    data = manifest.data
    return {"schema": EFFECTIVE_SCHEMA, "manifest_digest": manifest.digest, "suite": data["suite"],
            "model": data["model"], "engine": data["engine"], "accelerator": data["accelerator"],
            "image": data["image"], "runtime": runtime, "limit": limit,
            # The judges (pins may still be open: only `loomctl judge` needs them), for the judge pass.
            **({"judges": data["judges"]} if data.get("judges") else {}),
            **({"substitutions": substitutions} if substitutions else {}),
            "versions": {"loomctl": loomctl.__version__, "harness": harness_api.version}, "tasks": tasks}


def default_run_dir(manifest: mf.Manifest) -> Path:
    return Path("runs") / f"{manifest.data['suite']['name']}-{manifest.digest[:12]}"


def prepare(manifest: mf.Manifest, out: Path, runtime: dict[str, Any], limit: int | None = None,
            substitutions: dict[str, Any] | None = None) -> Path:
    effective = effective_manifest(manifest, runtime, limit, substitutions)
    path = out / MANIFEST
    if path.exists():
        existing = RunDir(out).read(MANIFEST)
        if sha256_json(existing) != sha256_json(effective):
            raise InputError(f"--out: {out} holds a run of a different effective manifest "
                             f"(digest {existing.get('manifest_digest', '?')[:12]}) — choose another --out, "
                             "or delete that directory if it is no longer needed")
        return out
    write_json_atomic(path, effective)
    return out


def _harness_run_args(manifest: mf.Manifest, out: str, model: str, root: str, data_dir: str | None,
                      allow_accelerator_mismatch: bool, hash_cache: bool = True) -> list[str]:
    args = ["run", "--run-dir", out, "--model-dir", model, "--root", root]
    if data_dir:
        args += ["--data-dir", data_dir]
    if allow_accelerator_mismatch:
        args += ["--allow-accelerator-mismatch"]
    if not hash_cache:
        args += ["--no-hash-cache"]
    return args


def _harness_judge_args(run_dir: str, root: str, judges: dict[str, str], runtime: dict[str, Any]) -> list[str]:
    args = ["judge", "--run-dir", run_dir, "--root", root, "--runtime", json.dumps(runtime, sort_keys=True)]
    for name, folder in sorted(judges.items()):
        args += ["--judge", f"{name}={folder}"]
    return args


class Runtime:
    """Where the harness runs. ``provenance`` is what the effective manifest records under ``runtime``
    (and the judge pass under its ``runtime``); ``run`` and ``judge`` return the harness's exit code."""

    kind = "?"

    def provenance(self) -> dict[str, Any]:
        raise NotImplementedError

    def judge_provenance(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def prepare(self, manifest: mf.Manifest, out: Path, limit: int | None, substitutions: dict[str, Any] | None,
                allow_accelerator_mismatch: bool) -> Path:
        return prepare(manifest, out, {**self.provenance(), "accelerator_mismatch_allowed": allow_accelerator_mismatch},
                       limit, substitutions)

    def run(self, manifest: mf.Manifest, out: Path, model_dir: Path | None, data_dir: Path | None,
            allow_accelerator_mismatch: bool = False, hash_cache: bool = True, gpus: list[str] | None = None) -> int:
        """The harness's run over ``out``; ``hash_cache=False`` has it read every weight byte; ``gpus``: the
        GPUs it may use (a shard's group, ``loomctl.shardrun``), else those the runtime sees."""
        raise NotImplementedError

    def judge(self, run_dir: Path, effective: dict[str, Any], root: Path, judge_dirs: dict[str, Path]) -> int:
        raise NotImplementedError


class LocalRuntime(Runtime):
    """The harness in a child process of ``python`` (this Python as it is, unless a subclass says
    otherwise); its stderr shown and kept in logs/harness.log (logs/judge.log)."""

    kind = "local"

    def __init__(self, python: Path | None = None, env: dict[str, str] | None = None):
        self.python = str(python or sys.executable)
        self.env = env or {}

    def provenance(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def run(self, manifest, out, model_dir, data_dir, allow_accelerator_mismatch=False, hash_cache=True,
            gpus=None) -> int:
        model = model_dir_of(manifest, model_dir)
        args = _harness_run_args(manifest, str(out), str(model), str(manifest.root.resolve()),
                                 str(data_dir) if data_dir else None, allow_accelerator_mismatch, hash_cache)
        env = {**self.env, **({"CUDA_VISIBLE_DEVICES": ",".join(gpus)} if gpus is not None else {})}
        return _spawn([self.python, "-m", "harness", *args], RunDir(out).log("harness.log"),
                      "run: interrupted — finished samples are kept; run the same command to resume", env)

    def judge(self, run_dir, effective, root, judge_dirs) -> int:
        args = _harness_judge_args(str(run_dir), str(root.resolve()),
                                   {name: str(folder.resolve()) for name, folder in judge_dirs.items()},
                                   self.judge_provenance())
        return _spawn([self.python, "-m", "harness", *args], RunDir(run_dir).log("judge.log"),
                      "judge: interrupted — the run's scores are untouched; run the same command again", self.env)


class VenvRuntime(LocalRuntime):
    """The harness on the Python of an environment built from the flavour's lock (``loomctl.venvs``)."""

    kind = "venv"

    def __init__(self, venv):
        from loomctl import venvs

        super().__init__(venv.interpreter, venvs.harness_env())
        self.venv = venv

    def provenance(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.venv.provenance()}

    def judge_provenance(self) -> dict[str, Any]:
        return {"kind": self.kind, "venv": self.venv.provenance()}


class DockerRuntime(Runtime):
    """The harness in the flavour's image (see ``container_options``)."""

    kind = "docker"

    def __init__(self, image):
        self.image = image

    def provenance(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.image.provenance()}

    def judge_provenance(self) -> dict[str, Any]:
        return {"kind": self.kind, "image": self.image.provenance()}

    def run(self, manifest, out, model_dir, data_dir, allow_accelerator_mismatch=False, hash_cache=True,
            gpus=None) -> int:
        return run_docker(manifest, out, self.image, model_dir, data_dir, allow_accelerator_mismatch, hash_cache,
                          gpus)

    def judge(self, run_dir, effective, root, judge_dirs) -> int:
        return judge_docker(run_dir, effective, root, judge_dirs, self.image)


def runtime_for(name: str, manifest_data: dict[str, Any], base: str | None = None, wheelhouse: Path | None = None,
                log=lambda _: None) -> Runtime:
    """The runtime called ``name`` for a manifest (for the judge pass: the run's effective manifest):
    the venv built or reused, the image built or reused."""
    if name == "local":
        return LocalRuntime()
    if name == "venv":
        from loomctl import venvs

        return VenvRuntime(venvs.ensure(manifest_data, wheelhouse, log=log))
    if name == "docker":
        from loomctl import images

        return DockerRuntime(images.build(manifest_data, base, wheelhouse, log=log))
    raise InputError(f"--runtime: {name!r} is not a runtime — use {', '.join(RUNTIMES[:-1])} or {RUNTIMES[-1]}")


LOCK_NAME = LOCK
_HELD: list[int] = []  # lock descriptors the harness child inherits, so an orphaned child still holds them


@contextlib.contextmanager
def writer_lock(run_dir: Path):
    """One writer per run directory: an exclusive flock on ``RUN_DIR/.lock`` (holding the writer's pid),
    held while this command runs and inherited by the harness child, so a second ``run``, ``score`` or
    ``judge`` on the same directory — or a re-run while an orphaned child still writes — exits 2 naming
    the holder instead of writing every record twice."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out: {run_dir} is a file, not a folder — choose a run directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: {run_dir} cannot be made ({exc.strerror}) — choose a folder you can write") from None
    path = run_dir / LOCK_NAME
    refuse_link(run_dir)
    refuse_link(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise InputError(f"--out: {run_dir} is not writable ({exc.strerror}) — choose a folder you can write") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip() or "?"
        os.close(fd)
        raise InputError(f"{run_dir}: another loomctl is writing this run directory (pid {holder}, or the harness "
                         "it started) — wait for it to finish, or stop it, then run the same command again") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD.append(fd)
    try:
        yield
    finally:
        _HELD.remove(fd)
        os.close(fd)


def die_with_parent(parent: int):
    """In the harness child before exec: SIGTERM when loomctl dies (a kill -9 included), so no orphan
    goes on writing; if loomctl is already gone, stop at once."""
    def hook() -> None:
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(3)
    return hook


def contract_code(code: int, what: str) -> int:
    """The harness's exit code as loomctl's contract has it (0-3); a child killed by a signal (the OOM
    killer's SIGKILL) or any other code is a runtime failure naming it."""
    if code in (0, 1, 2, 3):
        return code
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        raise RuntimeFailure(f"{what}: the harness was killed by {name}"
                             + (" (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == 9 else "")
                             + " — finished samples are kept; run the same command to resume")
    raise RuntimeFailure(f"{what}: the harness exited with {code}, which is not a loomctl exit code"
                         + (f" (128+{code - 128}: killed by a signal)" if code > 128 else "")
                         + " — see its log; finished samples are kept")


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
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(extra_env or {})}
    with log_path.open("a", encoding="utf-8") as log, stopped_by_signals():
        process = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, pass_fds=tuple(_HELD),
                                   preexec_fn=die_with_parent(os.getpid()))
        try:
            for line in process.stderr:
                sys.stderr.write(line)
                log.write(line)
                log.flush()
            return contract_code(process.wait(), log_path.stem)
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


def allocated_gpus(environ=os.environ) -> list[str] | None:
    """The GPUs a scheduler gave this process, by the IDs the docker daemon knows (it sees every GPU of
    the node): SLURM's SLURM_STEP_GPUS / SLURM_JOB_GPUS (global indices; CUDA_VISIBLE_DEVICES inside a
    SLURM cgroup counts from 0), else CUDA_VISIBLE_DEVICES (what Ray, or a user, set); None when unset."""
    for name in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = environ.get(name)
        if value is not None and value.strip():
            return [g.strip() for g in value.split(",") if g.strip()]
    return None


def _devices(accelerator: dict[str, Any], gpus: list[str] | None = None) -> list:
    """The GPUs a container gets: exactly ``gpus`` (a shard's group), else those a scheduler allocated
    to this process (``allocated_gpus``: a container of a SLURM or Ray shard must not take another
    shard's GPUs), else the manifest's count."""
    from docker.types import DeviceRequest

    if accelerator["kind"] != "gpu":
        return []
    gpus = gpus if gpus is not None else allocated_gpus()
    if gpus is not None:
        return [DeviceRequest(device_ids=list(gpus), capabilities=[["gpu"]])]
    return [DeviceRequest(count=accelerator["count"], capabilities=[["gpu"]])]


def _isolated(out: Path, mounts: list, command: list[str], accelerator: dict[str, Any],
              gpus: list[str] | None = None) -> dict[str, Any]:
    """A container's options: only ``out`` writable (every other mount read-only), no network, the
    GPUs the manifest asks for (``gpus``: those GPUs)."""
    return {"command": command, "mounts": mounts, "network_mode": "none",
            "device_requests": _devices(accelerator, gpus),
            "user": _container_user(out), "labels": {"dev.loomctl.run": str(out.resolve())}}


def container_options(manifest: mf.Manifest, out: Path, model_dir: Path | None, data_dir: Path | None,
                      allow_accelerator_mismatch: bool, hash_cache: bool = True,
                      gpus: list[str] | None = None) -> dict[str, Any]:
    """The evaluation container: model, manifest folder and data read-only, only the run directory
    writable, no network, the GPUs the manifest asks for."""
    from docker.types import Mount

    model = model_dir_of(manifest, model_dir).resolve()
    mounts = [Mount("/manifest", str(manifest.root.resolve()), type="bind", read_only=True),
              Mount("/model", str(model), type="bind", read_only=True),
              Mount("/run-dir", str(out.resolve()), type="bind", read_only=False)]
    if data_dir:
        mounts.append(Mount("/data", str(data_dir.resolve()), type="bind", read_only=True))
    cmd = _harness_run_args(manifest, "/run-dir", "/model", "/manifest", "/data" if data_dir else None,
                            allow_accelerator_mismatch, hash_cache)
    return _isolated(out, mounts, cmd, manifest.data["accelerator"], gpus)


def judge_container_options(run_dir: Path, effective: dict[str, Any], root: Path, judge_dirs: dict[str, Path],
                            provenance: dict[str, Any]) -> dict[str, Any]:
    """The judge container: the run directory writable, the manifest folder and each judge's folder
    (``--judge NAME=DIR``, else its pinned ``path`` under ``root``) read-only at /judges/NAME, no
    network (a hosted judge is refused by the judge pass anyway)."""
    from docker.types import Mount

    mounts = [Mount("/manifest", str(root.resolve()), type="bind", read_only=True),
              Mount("/run-dir", str(run_dir.resolve()), type="bind", read_only=False)]
    judges = {}
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
        judges[name] = f"/judges/{name}"
    cmd = _harness_judge_args("/run-dir", "/manifest", judges, {"kind": "docker", "image": provenance})
    return _isolated(run_dir, mounts, cmd, effective["accelerator"])


def run_docker(manifest: mf.Manifest, out: Path, image, model_dir: Path | None, data_dir: Path | None,
               allow_accelerator_mismatch: bool, hash_cache: bool = True, gpus: list[str] | None = None) -> int:
    """Run the harness in ``image`` (see ``container_options``); logs streamed to stderr and
    logs/harness.log; the exit code propagated; the container removed afterwards, also on Ctrl-C or
    SIGTERM."""
    RunDir(out).log("harness.log").parent.mkdir(parents=True, exist_ok=True)  # before the run directory is opened to the image's user
    options = container_options(manifest, out, model_dir, data_dir, allow_accelerator_mismatch, hash_cache, gpus)
    return _in_container(image, options, RunDir(out).log("harness.log"),
                         "run: interrupted; the container was stopped — finished samples are kept; run the same "
                         "command to resume")


def judge_docker(run_dir: Path, effective: dict[str, Any], root: Path, judge_dirs: dict[str, Path], image) -> int:
    """The judge pass over ``run_dir`` (whose effective manifest is ``effective``) in ``image`` (see
    ``judge_container_options``), as ``run_docker`` runs a run."""
    RunDir(run_dir).log("judge.log").parent.mkdir(parents=True, exist_ok=True)
    return _in_container(image, judge_container_options(run_dir, effective, root, judge_dirs, image.provenance()),
                         RunDir(run_dir).log("judge.log"),
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
            return contract_code(int(container.wait()["StatusCode"]), log_path.stem)
    except KeyboardInterrupt:
        container.stop(timeout=10)
        raise RuntimeFailure(interrupted) from None
    finally:
        container.remove(force=True)
