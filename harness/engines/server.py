"""Server mode: start an engine's OpenAI-compatible server on 127.0.0.1, wait until it is ready, stop it after.

For ``engine.mode: "server"`` the harness does not load the model itself: ``served(engine_spec, model,
model_dir, accelerator)`` starts the server of ``engine.name`` (the flavour: vllm, sglang or transformers)
as a subprocess in its own process group on a free port, polls it until it answers (a deadline; the
server's last log lines if it exits or never answers), yields an OpenAIEngine talking to it, and stops
the whole process group afterwards (SIGTERM, then SIGKILL). ``launch`` is the same yielding the base URL.

``engine.args`` of a server-mode manifest holds three kinds of keys, told apart here:
  - the openai client's (harness.engines.openai.CLIENT_ARGS: concurrency, retries, timeouts, ...);
  - ``startup_timeout_s`` (how long the server may take to load, default 900 s), read here;
  - the rest, which the flavour's command builder checks against its own table (and refuses unknown keys).
``batch_size`` goes to both the client and the builder (harness.run forms batches with it; keep it at
least ``concurrency`` so requests overlap).

Command builders, one per flavour (the ``server`` of its row in ``harness.engines.ENGINES``, imported
only when used), all ``fn(model_dir, port, engine_spec, model, accelerator) -> list[str]``: vLLM's and SGLang's live next to
their offline engines (harness.engines.vllm / sglang); the transformers one, ``transformers serve``, is here.
Every flavour serves the model under the name ``str(model_dir)``. The client gets token-id prompts where
the server takes them (vLLM, SGLang), so the server never tokenizes the prompt; ``transformers serve``
takes text only, and the client's prompt-token check guards it.

The server's environment adds HF_HUB_OFFLINE=1 (the model is a local folder; no hub calls) and
HF_HUB_DISABLE_UPDATE_CHECK=1 (the transformers CLI asks PyPI for updates otherwise).

Sources, read and not copied: transformers 5.23 ``transformers serve --help`` and
``transformers/cli/serve.py`` (FORCE_MODEL preloads the model and pins every request to it; ``/health``;
``/v1/models`` lists the hub cache, not the served model, and fails without a cache).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.engines import ENGINES, EngineRow
from harness.registry import resolve
from loomcore.errors import InputError, RuntimeFailure, version_mismatch

HOST = "127.0.0.1"
LAUNCHER_ARGS = {"startup_timeout_s": 900.0}
SERVER_ENV = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
STOP_GRACE_S = 15.0
LOG_TAIL_LINES = 40


def transformers_command(model_dir: str | Path, port: int, engine_spec: dict[str, Any],
                         model: dict[str, Any] | None = None, accelerator: dict[str, Any] | None = None) -> list[str]:
    """``transformers serve`` preloading ``model_dir``, as the transformers engine loads it: the manifest's
    dtype, trust_remote_code only when true, no continuous batching unless asked (it batches by timing)."""
    from importlib.metadata import PackageNotFoundError, version

    from harness.engines.options import Option, cli_flags, resolve_options

    try:
        installed = version("transformers")
    except PackageNotFoundError:
        raise InputError("engine/name: transformers is not installed here — pip install 'transformers[serving]'") \
            from None
    if engine_spec.get("version") != installed:
        raise version_mismatch("transformers", engine_spec.get("version"), installed)
    resolved = resolve_options("transformers", engine_spec.get("args"), {
        "batch_size": Option(int, 1, minimum=1), "device": Option(str, "auto"),
        "attn_implementation": Option(str, None), "continuous_batching": Option(bool, False)})
    model = model or {}
    flags = {"dtype": model.get("dtype", "auto"), "device": resolved["device"],
             "attn_implementation": resolved["attn_implementation"],
             "continuous_batching": resolved["continuous_batching"],
             "trust_remote_code": bool(model.get("trust_remote_code")), "log_level": "info"}
    return [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model_dir), "--host", HOST,
            "--port", str(port), *cli_flags(flags, negated=("continuous_batching",))]


def server_command(flavour: str, model_dir: str | Path, port: int, engine_spec: dict[str, Any],
                   model: dict[str, Any] | None = None, accelerator: dict[str, Any] | None = None) -> list[str]:
    """The command line that serves ``model_dir`` with ``flavour`` on 127.0.0.1:``port``."""
    return resolve(_served(flavour).server)(model_dir, port, engine_spec, model, accelerator)


def _served(flavour: str) -> EngineRow:
    """The engine row of a flavour that has a server of its own; refuses one that has none."""
    row = ENGINES.get(flavour)
    if row is None or row.server is None:
        servers = sorted(name for name, r in ENGINES.items() if r.server)
        raise InputError(f"engine/mode: server mode starts one of {servers}, not {flavour!r} — for a server that "
                         "is already running use the openai engine without engine.mode")
    return row


def split_args(args: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """engine.args of a server-mode manifest as (client args, launcher args, server args)."""
    from harness.engines.openai import CLIENT_ARGS

    args = dict(args or {})
    client = {k: args.pop(k) for k in sorted(CLIENT_ARGS & set(args))}
    launcher = {k: args.pop(k, default) for k, default in LAUNCHER_ARGS.items()}
    if "batch_size" in args:
        client["batch_size"] = args["batch_size"]
    return client, launcher, args


def client_spec(engine_spec: dict[str, Any], base_url: str, model_dir: str | Path) -> dict[str, Any]:
    """The openai engine's spec for a server started by ``launch``: its URL, the served name, the client args."""
    flavour = engine_spec["name"]
    client, _, _ = split_args(engine_spec.get("args"))
    return {"name": "openai", "version": engine_spec["version"],
            "served_by": {"name": flavour, "version": engine_spec["version"]},
            "args": {**dict(_served(flavour).client_defaults), **client, "base_url": base_url, "model": str(model_dir),
                     "server": flavour}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-64_000:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2.0) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def stop_process_group(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to the server's process group, SIGKILL to what is left of it after ``grace_s``. The whole
    group, because servers leave children (vLLM's engine cores, SGLang's scheduler) that hold the GPU."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or the group never empties
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@contextlib.contextmanager
def serve(command: list[str], port: int, health_path: str = "/v1/models", startup_timeout_s: float = 900.0,
          log_path: Path | None = None, what: str = "server") -> Iterator[str]:
    """Run ``command`` (a server that will listen on 127.0.0.1:``port``) until the block ends; yields the
    base URL ``http://127.0.0.1:PORT/v1`` once ``health_path`` answers 200."""
    own_log = log_path is None
    if own_log:
        handle, name = tempfile.mkstemp(prefix="loomctl-server-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    root = f"http://{HOST}:{port}"
    with log_path.open("ab") as log:
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env={**os.environ, **SERVER_ENV})
        except FileNotFoundError:
            raise InputError(f"engine/name: cannot start the {what}: {command[0]!r} is not installed here — install "
                             "it, or run in the image flavour that has it") from None
        try:
            deadline = time.monotonic() + startup_timeout_s
            while not _answers(root + health_path):
                code = process.poll()
                if code is not None:
                    raise RuntimeFailure(f"engine: the {what} exited with code {code} before it was ready "
                                         f"({' '.join(command)}); its last log lines:\n{log_tail(log_path)}")
                if time.monotonic() > deadline:
                    raise RuntimeFailure(f"engine: the {what} did not answer {health_path} within "
                                         f"{startup_timeout_s:.0f} s — raise engine.args.startup_timeout_s if it "
                                         f"is still loading; its last log lines:\n{log_tail(log_path)}")
                time.sleep(0.25)
            yield root + "/v1"
        finally:
            stop_process_group(process)
            if own_log:
                log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def launch(engine_spec: dict[str, Any], model: dict[str, Any], model_dir: str | Path,
           accelerator: dict[str, Any] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """Serve ``model_dir`` with the server of ``engine_spec["name"]``; yields its base URL (…/v1)."""
    flavour = engine_spec["name"]
    _, launcher, server_args = split_args(engine_spec.get("args"))
    port = free_port()
    command = server_command(flavour, model_dir, port, {**engine_spec, "args": server_args}, model, accelerator)
    with serve(command, port, _served(flavour).health_path, float(launcher["startup_timeout_s"]),
               log_path, what=f"{flavour} server") as base_url:
        yield base_url


@contextlib.contextmanager
def served(engine_spec: dict[str, Any], model: dict[str, Any], model_dir: str | Path,
           accelerator: dict[str, Any] | None = None, log_path: Path | None = None):
    """``launch``, yielding an OpenAIEngine talking to the server (the engine a server-mode run uses)."""
    from harness.engines.openai import OpenAIEngine

    with launch(engine_spec, model, model_dir, accelerator, log_path) as base_url:
        yield OpenAIEngine(client_spec(engine_spec, base_url, model_dir), model, str(model_dir))
