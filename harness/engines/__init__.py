"""Engines: one small protocol (generate, versions) and a lazy registry.

An engine module is imported only when a manifest names it, so vLLM or SGLang cost nothing where
they are not installed (inspect_ai's provider registry works the same way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from harness.registry import resolve
from loomcore.errors import InputError
from loomcore.taskspec import JSONObject


@dataclass(frozen=True)
class Request:
    """One prompt to complete. ``special_tokens``: encode ``prompt`` with the tokenizer's own special
    tokens (a BOS), as the manifest's ``prompt.special_tokens`` decides (``Prompt.adds_special_tokens``);
    the prompt builder counted them in the budget."""

    id: str
    prompt: str
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    special_tokens: bool = False


def encode_requests(tokenizer: Any, requests: list[Request]) -> list[list[int]]:
    """The token ids of each request's prompt, special tokens added where the request says so
    (batched per setting, in the requests' order)."""
    ids: list[list[int] | None] = [None] * len(requests)
    for special in (False, True):
        chosen = [i for i, r in enumerate(requests) if r.special_tokens == special]
        if chosen:
            for i, encoded in zip(chosen, tokenizer.encode_many([requests[i].prompt for i in chosen], special)):
                ids[i] = encoded
    return ids  # type: ignore[return-value]


@dataclass(frozen=True)
class Output:
    id: str
    text: str
    output_tokens: int
    # "stop" (a stop string), "eos", "length", or "stop_or_eos" (a server that cuts a stop string without
    # naming it ended the text, and no stop string is in it: one of the two, it cannot say which)
    finish_reason: str


class Engine(Protocol):
    name: str

    def generate(self, requests: list[Request]) -> list[Output]: ...

    def versions(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class EngineRow:
    """One engine, everything the harness needs to know of it in one place. Adding an engine is one
    row here plus its own module (and, for a new image, its flavour and lock under images/).

    - ``target``: ``"module:Class"`` of the engine, imported on first use.
    - ``takes_accelerator``: whether the constructor takes the pinned accelerator (tensor parallelism;
      the CPU's thread count).
    - ``server``: ``"module:function"`` building the command line that serves a model with this engine
      (``engine.mode: "server"``), or None where it has no server of its own.
    - ``health_path``: the path that answers 200 once the served model is loaded.
    - ``client_defaults``: the openai client's settings for this engine's server, under the
      manifest's own ``engine.args``.
    - ``options``: ``"module:OPTIONS"``, the allow-list of its offline ``engine.args`` (names and JSON
      types), checked by ``loomctl validate`` through ``args_problems`` and again by the engine.
    - ``package``: the Python package whose version is ``engine.version`` (an image flavour's lock must
      carry that version): the engine itself, or for the openai client its HTTP library.
    """

    target: str
    takes_accelerator: bool = False
    server: str | None = None
    health_path: str = "/v1/models"
    client_defaults: tuple[tuple[str, Any], ...] = ()
    options: str | None = None
    package: str = ""


ENGINES = {
    "transformers": EngineRow("harness.engines.hf:TransformersEngine", takes_accelerator=True,
                              server="harness.engines.server:transformers_command", health_path="/health",
                              client_defaults=(("prompt_format", "text"),), options="harness.engines.hf:OPTIONS",
                              package="transformers"),
    "vllm": EngineRow("harness.engines.vllm:VLLMEngine", takes_accelerator=True,
                      server="harness.engines.vllm:server_command", client_defaults=(("prompt_format", "token_ids"),),
                      options="harness.engines.vllm:OPTIONS", package="vllm"),
    "sglang": EngineRow("harness.engines.sglang:SGLangEngine", takes_accelerator=True,
                        server="harness.engines.sglang:server_command",
                        client_defaults=(("prompt_format", "token_ids"),), options="harness.engines.sglang:OPTIONS",
                        package="sglang"),
    "openai": EngineRow("harness.engines.openai:OpenAIEngine", options="harness.engines.openai:OPTIONS",
                        package="httpx"),
}


def args_problems(spec: JSONObject) -> list[str]:
    """``engine/args/...`` problems of an offline engine spec against its allow-list (names, JSON types);
    server mode's args are split between client, launcher and server and checked when it starts."""
    row = ENGINES.get(spec.get("name"))
    if row is None or row.options is None or spec.get("mode", "offline") != "offline":
        return []
    from harness.engines.options import resolve_options

    try:
        resolve_options(spec["name"], spec.get("args"), resolve(row.options))
    except InputError as exc:
        return exc.problems
    return []


def load_engine(spec: dict[str, Any], model: dict[str, Any], model_dir: str,
                accelerator: dict[str, Any] | None = None) -> Engine:
    row = ENGINES.get(spec["name"])
    if row is None:
        raise InputError(f"engine/name: the {spec['name']!r} engine is not available in this harness — "
                         f"use one of {sorted(ENGINES)}")
    extra = {"accelerator": accelerator} if row.takes_accelerator else {}
    return resolve(row.target)(spec, model, model_dir, **extra)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
