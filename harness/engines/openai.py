"""The openai engine: generation through any OpenAI-compatible HTTP server, one request per sample.

It talks to ``vllm serve``, ``python -m sglang.launch_server``, ``transformers serve`` (all three started
for ``engine.mode: server`` by harness.engines.server) or a hosted endpoint, over stdlib ``urllib`` (no
client library to pin). ``engine.args`` (table OPTIONS):

  base_url            the API root, ending in /v1 (``http://127.0.0.1:8000/v1``)            required
  model               the served model name (the ``model`` field of every request)          required
  endpoint            "completions" (the raw prompt) or "chat" (the prompt as one user message)
  prompt_format       "text", or "token_ids": the prompt encoded here with the model's tokenizer.json
                      and no added special tokens (completions only; vLLM and SGLang accept it)
  concurrency         requests in flight at once (a thread pool; outputs keep the request order)
  max_retries         retries of one request on 408, 429, 5xx, a refused or dropped connection, a timeout
  backoff_s           first retry delay; doubled per retry up to backoff_max_s, plus jitter in
  backoff_max_s       [0, backoff_s) from a random.Random seeded by the request id (so reruns wait alike);
                      a longer Retry-After from the server wins
  timeout_s           per-request timeout
  api_key_env         the NAME of the environment variable holding the API key (sent as a Bearer token);
                      a key written into the manifest (``api_key``) is refused
  check_prompt_tokens compare the server's usage.prompt_tokens with our own count (completions only):
                      a difference means the server tokenized another prompt (an added BOS, say)
  extra_body          further JSON fields of every request, for server-specific options (vLLM's
                      ``add_special_tokens``); it may not override the fields the manifest sets
  batch_size          requests per generate call (read by harness.run; concurrency only helps up to it)

Same prompt, same tokens: the prompt is the exact text the harness built (chat template already applied
when the manifest says so), so token-for-token agreement with the transformers engine needs the
completions endpoint. The transformers engine tokenizes without added special tokens; ``token_ids`` does
the same here, and ``check_prompt_tokens`` catches a server that tokenizes the text otherwise. The chat
endpoint is for hosted chat models whose template only the server knows (manifest chat_template "none").

Generation settings, all from the manifest: temperature (0 is greedy), top_p, seed, max_tokens, stop.
A greedy answer is also moved by a server's other sampling knobs (llama-cpp-python applies its
``repeat_penalty`` 1.1 at temperature 0; ``transformers serve`` takes the model's generation_config), so
every knob of the server's family is sent explicitly, neutral unless the manifest pins it:

  server              the server family, table SERVERS: vllm, sglang, transformers, llama-cpp-python, or
                      openai (any other OpenAI-compatible API: only the API reference's penalties are known);
                      set by server mode; a /v1/models that names another family is refused
  sampling            pinned values of the family's knobs (repetition_penalty, top_k, ...); an unknown
                      knob is refused, and extra_body may not set one
  probe_repeatability replay the run's first greedy request right after it and at the end; environment.json's
                      ``repeatability`` says whether the answers were alike (a server with a prompt cache
                      that reuses a prefix, or batch-dependent kernels, is not repeatable)

Finish reasons and token counts, as the server's family reports them (``ServerFamily``): the text is cut
at the earliest stop string (harness.engines.cut_at_stop; ``transformers serve`` returns the stop string,
vLLM and SGLang strip it and name it in ``stop_reason`` / ``matched_stop``). A stop string found, or named
by the server, is "stop"; the server's "length" is "length"; its "stop" otherwise is the end of sequence,
"eos" — except from a family that strips a stop string without naming it (llama-cpp-python, the generic
openai family) when the request had stop strings: that is "stop_or_eos", which the record keeps rather
than guessing. The end-of-sequence token is not an output token (the transformers engine counts the tokens
before it): it is taken off usage.completion_tokens only for a family known to count it (vLLM, SGLang,
``transformers serve``); other counts are kept as the server reports them. One case cannot be told apart
from outside: an end of sequence on the very last allowed token is reported by the server, and here, as
"length".

Sources, read and not copied: the OpenAI API reference (completions, chat completions, error codes; its
Python SDK retries 408, 409, 429 and 5xx); transformers 5.23 ``transformers/cli/serving/completion.py``
and ``utils.py`` (request fields it accepts; it refuses unknown ones with 422; finish_reason is "length"
or "stop"); vLLM ``entrypoints/openai/protocol.py`` (``stop_reason``, ``add_special_tokens``, ``/version``);
SGLang ``srt/entrypoints/openai/protocol.py`` (``matched_stop``) and ``/get_server_info``; llama-cpp-python
0.3.36 (PyPI sdist) ``llama_cpp/server/types.py``, ``app.py`` and ``llama.py``.
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.engines import Output, Request, cut_at_stop, encode_requests
from harness.engines.options import Option, resolve_options
from loomcore.errors import InputError, RuntimeFailure

ENDPOINTS = {"completions": "/completions", "chat": "/chat/completions"}
PROMPT_FORMATS = ("text", "token_ids")

OPTIONS = {
    "base_url": Option(str, None),
    "model": Option(str, None),
    "endpoint": Option(str, "completions"),
    "prompt_format": Option(str, "text"),
    "concurrency": Option(int, 4),
    "max_retries": Option(int, 5),
    "backoff_s": Option(float, 0.5),
    "backoff_max_s": Option(float, 30.0),
    "timeout_s": Option(float, 600.0),
    "api_key_env": Option(str, None),
    "check_prompt_tokens": Option(bool, True),
    "batch_size": Option(int, 1, minimum=1),
    "extra_body": Option(dict, None),
    "server": Option(str, "openai"),
    "sampling": Option(dict, None),
    "probe_repeatability": Option(bool, True),
}
# Client keys that may sit in a server-mode manifest's engine.args next to the server's own
# (harness.engines.server hands them to this engine and the rest to the server command).
CLIENT_ARGS = frozenset(OPTIONS) - {"base_url", "model", "batch_size", "server"}


@dataclass(frozen=True)
class ServerFamily:
    """What one server family does with a request, read in its source (see ``SERVERS``).

    ``sampling``: every request field besides temperature/top_p/seed that can move a greedy answer, at
    its neutral value, sent explicitly (a server's own default is not neutral: llama-cpp-python's
    ``repeat_penalty`` is 1.1 and applies at temperature 0; ``transformers serve`` takes the model's
    generation_config.json); ``names_stop``: the reply says which stop string ended the text (or returns
    it in the text); ``counts_eos``: usage.completion_tokens includes the end-of-sequence token;
    ``owned_by``: the ``owned_by`` its /v1/models lists, by which a different server is recognised."""

    sampling: dict[str, Any]
    names_stop: bool
    counts_eos: bool
    owned_by: frozenset[str] = frozenset()


_VLLM_LIKE = {"repetition_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0, "top_k": -1, "min_p": 0.0}
SERVERS = {
    # vLLM entrypoints/openai/protocol.py (CompletionRequest: the sampling extras; stop_reason; usage counts
    # every generated token id, the EOS included); SGLang srt/entrypoints/openai/protocol.py (same extras,
    # matched_stop).
    "vllm": ServerFamily(dict(_VLLM_LIKE), names_stop=True, counts_eos=True, owned_by=frozenset({"vllm"})),
    "sglang": ServerFamily(dict(_VLLM_LIKE), names_stop=True, counts_eos=True, owned_by=frozenset({"sglang"})),
    # transformers 5.23 cli/serving/completion.py: frequency_penalty F becomes repetition_penalty 1 + F (so 0
    # overrides the model's generation_config), presence_penalty is refused as unused; the stop string
    # stays in the text; /v1/models lists the repository's author as owned_by.
    "transformers": ServerFamily({"frequency_penalty": 0.0}, names_stop=True, counts_eos=True),
    # llama-cpp-python 0.3.36 llama_cpp/server/types.py (repeat_penalty 1.1, top_k 40, min_p 0.05, mirostat
    # by default) and llama.py (a matched stop string is cut off and not named; generation stops before
    # the EOS token is counted); /v1/models says owned_by "me".
    "llama-cpp-python": ServerFamily({"repeat_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
                                      "top_k": 0, "min_p": 0.0, "mirostat_mode": 0},
                                     names_stop=False, counts_eos=False, owned_by=frozenset({"me"})),
    # Any other server speaking the OpenAI API (a hosted one): the API reference's own penalties; whether
    # the stop string or the EOS token is counted cannot be known, so the reply is taken as it is.
    "openai": ServerFamily({"frequency_penalty": 0.0, "presence_penalty": 0.0}, names_stop=False, counts_eos=False,
                           owned_by=frozenset({"openai", "system", "openai-internal"})),
}
# "stop" from a server that strips a matched stop string without naming it, when no stop string is in the
# text: a stop string or the end of sequence ended it, and the record says it cannot tell which.
STOP_OR_EOS = "stop_or_eos"

# The request fields the manifest owns: extra_body may not replace them.
MANIFEST_FIELDS = frozenset({"model", "prompt", "messages", "max_tokens", "temperature", "top_p", "seed", "stop"})

# The server's finish_reason, when no stop string was found or named: "stop" alone is the end of sequence;
# a hosted API's content filter also ends the text before any limit, so it counts as one.
FINISH_REASONS = {"stop": "eos", "eos": "eos", "length": "length", "content_filter": "eos"}

RETRY_STATUS = frozenset({408, 409, 429})  # and every 5xx
USER_STATUS = {401: "the API key was refused — check the variable api_key_env names",
               403: "the API key may not use this model — check the key and engine.args.model",
               404: "no such endpoint or model — check engine.args.base_url (ending in /v1), endpoint and model"}
# Where servers report their own version: vLLM at /version, SGLang in /get_server_info.
VERSION_PROBES = ("/version", "/get_server_info")


@dataclass(frozen=True)
class ClientSettings:
    """engine.args of the openai engine, checked, every default (table OPTIONS) filled in."""

    base_url: str
    model: str
    endpoint: str
    prompt_format: str
    concurrency: int
    max_retries: int
    backoff_s: float
    backoff_max_s: float
    timeout_s: float
    api_key_env: str | None
    check_prompt_tokens: bool
    batch_size: int
    server: str
    probe_repeatability: bool
    extra_body: dict[str, Any]
    sampling: dict[str, Any]

    @property
    def family(self) -> ServerFamily:
        return SERVERS[self.server]

    @classmethod
    def from_args(cls, args: dict[str, Any] | None) -> ClientSettings:
        args = dict(args or {})
        if "api_key" in args:
            raise InputError("engine/args/api_key: an API key must never be written into a manifest (it would be "
                             "hashed, committed and copied into every run) — put it in an environment variable and "
                             "name that variable in engine.args.api_key_env")
        for key in ("extra_body", "sampling"):
            if not isinstance(args.get(key, {}), (dict, type(None))):
                raise InputError(f"engine/args/{key}: {args[key]!r} is not an object — write it as a JSON object")
        resolved = resolve_options("openai", args, OPTIONS)
        extra = resolved.pop("extra_body") or {}
        pinned = resolved.pop("sampling") or {}
        problems = _settings_problems(resolved, extra) + _sampling_problems(resolved["server"], pinned, extra)
        if problems:
            raise InputError(*problems)
        resolved["base_url"] = resolved["base_url"].rstrip("/")
        return cls(**resolved, extra_body=extra, sampling={**SERVERS[resolved["server"]].sampling, **pinned})


def _settings_problems(resolved: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    """What is wrong with the openai engine's resolved args (empty when nothing is)."""
    problems = [f"engine/args/{key}: missing — {hint}" for key, hint in (
        ("base_url", "name the server's API root, e.g. http://127.0.0.1:8000/v1"),
        ("model", "name the model as the server serves it")) if not resolved[key]]
    if resolved["base_url"] and not resolved["base_url"].startswith(("http://", "https://")):
        problems.append(f"engine/args/base_url: {resolved['base_url']!r} is not an http(s) URL — write "
                        "http://HOST:PORT/v1")
    if resolved["endpoint"] not in ENDPOINTS:
        problems.append(f"engine/args/endpoint: {resolved['endpoint']!r} — use one of {sorted(ENDPOINTS)}")
    if resolved["prompt_format"] not in PROMPT_FORMATS:
        problems.append(f"engine/args/prompt_format: {resolved['prompt_format']!r} — use one of "
                        f"{list(PROMPT_FORMATS)}")
    elif resolved["prompt_format"] == "token_ids" and resolved["endpoint"] != "completions":
        problems.append("engine/args/prompt_format: token ids can only go to the completions endpoint — "
                        "use prompt_format text with endpoint chat")
    problems += [f"engine/args/{key}: {resolved[key]} is below {low} — raise it" for key, low in (
        ("concurrency", 1), ("max_retries", 0), ("backoff_s", 0), ("backoff_max_s", 0), ("timeout_s", 0.001),
        ("batch_size", 1)) if resolved[key] < low]
    clashes = sorted(MANIFEST_FIELDS & set(extra))
    if clashes:
        problems.append(f"engine/args/extra_body: {clashes} are set by the manifest (model, generation) — "
                        "remove them from extra_body")
    return problems


def _sampling_problems(server: str, pinned: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    """What is wrong with engine.args.server / sampling (the server family's knobs, pinned)."""
    if server not in SERVERS:
        return [f"engine/args/server: {server!r} — name the server family, one of {sorted(SERVERS)} ('openai' for "
                "any other OpenAI-compatible API), so that every sampling knob it has is sent at a pinned value"]
    known = SERVERS[server].sampling
    problems = [f"engine/args/sampling/{key}: {server} has no such knob here — pin one of {sorted(known)}"
                for key in sorted(set(pinned) - set(known))]
    problems += [f"engine/args/sampling/{key}: {value!r} is not a number" for key, value in sorted(pinned.items())
                 if key in known and (isinstance(value, bool) or not isinstance(value, (int, float)))]
    clashes = sorted(set(known) & set(extra))
    if clashes:
        problems.append(f"engine/args/extra_body: {clashes} are {server}'s sampling knobs, sent from "
                        "engine.args.sampling — pin them there")
    return problems


def request_body(request: Request, settings: ClientSettings, prompt_ids: list[int] | None = None) -> dict[str, Any]:
    """The JSON body of one request: every generation setting written out from the manifest."""
    if settings.endpoint == "chat":
        prompt: dict[str, Any] = {"messages": [{"role": "user", "content": request.prompt}]}
    elif settings.prompt_format == "token_ids":
        if prompt_ids is None:
            raise RuntimeFailure(f"engine: request {request.id} has no token ids for prompt_format token_ids")
        prompt = {"prompt": list(prompt_ids)}
    else:
        prompt = {"prompt": request.prompt}
    greedy = request.temperature == 0
    body = {"model": settings.model, **prompt, "max_tokens": request.max_new_tokens,
            "temperature": float(request.temperature), "top_p": 1.0 if greedy else float(request.top_p),
            "seed": request.seed}
    if request.stop:
        body["stop"] = list(request.stop)
    return {**body, **settings.sampling, **settings.extra_body}


def generated_text(response: dict[str, Any], endpoint: str) -> str:
    """The generated text as the server returned it, before any stop string is cut."""
    choice = (response.get("choices") or [{}])[0]
    return ((choice.get("message") or {}).get("content") if endpoint == "chat" else choice.get("text")) or ""


def parse_response(response: dict[str, Any], request: Request, endpoint: str,
                   family: ServerFamily = SERVERS["vllm"]) -> tuple[str, str, int | None]:
    """(text cut at the first stop string, our finish reason, output tokens or None when the server gives
    no usage) from one response, following the rules in the module docstring and what the server's
    family is known to do (``ServerFamily``)."""
    choice = _checked_choice(response, request, endpoint)
    text, found = cut_at_stop(generated_text(response, endpoint), request.stop)
    matched = choice.get("stop_reason", choice.get("matched_stop"))
    server_reason = choice.get("finish_reason")
    if found or isinstance(matched, str):
        reason = "stop"
    elif server_reason in FINISH_REASONS:
        reason = FINISH_REASONS[server_reason]
        if reason == "eos" and request.stop and not family.names_stop:
            reason = STOP_OR_EOS  # the server may have cut a stop string it does not name
    else:
        raise RuntimeFailure(f"engine: the server ended request {request.id} with finish_reason {server_reason!r} "
                             f"— one of {sorted(FINISH_REASONS)} was expected")
    completion = _completion_tokens(response, request)
    if completion is not None and family.counts_eos and reason == "eos" and server_reason in ("stop", "eos") \
            and completion > 0:
        completion -= 1  # the end-of-sequence token itself, which this family counts
    return text, reason, completion


def _checked_choice(response: Any, request: Request, endpoint: str) -> dict[str, Any]:
    """The reply's first choice, its text fields of the documented types (else a runtime failure)."""
    if not isinstance(response, dict):
        raise RuntimeFailure(f"engine: the server answered request {request.id} with {type(response).__name__}, "
                             "not a JSON object")
    choices = response.get("choices") or []
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RuntimeFailure(f"engine: the server answered request {request.id} without choices: "
                             f"{json.dumps(response)[:300]}")
    choice = choices[0]
    if endpoint == "chat":
        _reply_field(choice.get("message"), (dict, type(None)), "message", request)
        _reply_field((choice.get("message") or {}).get("content"), (str, type(None)), "message content", request)
    else:
        _reply_field(choice.get("text"), (str, type(None)), "text", request)
    return choice


def _completion_tokens(response: dict[str, Any], request: Request) -> int | None:
    """usage.completion_tokens as the server reports it (None without usage); anything but a count is refused."""
    usage = _reply_field(response.get("usage"), (dict, type(None)), "usage", request) or {}
    completion = usage.get("completion_tokens")
    if completion is not None and (isinstance(completion, bool) or not isinstance(completion, int) or completion < 0):
        raise RuntimeFailure(f"engine: the server's usage.completion_tokens for request {request.id} is "
                             f"{json.dumps(completion)[:80]}, not a count of tokens — a server that cannot be trusted "
                             "with its replies cannot be evaluated")
    return completion


def _reply_field(value: Any, types: tuple[type, ...], name: str, request: Request) -> Any:
    """A field of a server's reply, of the type the API documents, or a runtime failure naming it (a
    reply reaches records and the HTML report; it is checked, never trusted)."""
    if not isinstance(value, types):
        raise RuntimeFailure(f"engine: the server's {name} for request {request.id} is {type(value).__name__}, "
                             f"not {' or '.join(t.__name__ for t in types if t is not type(None))}")
    return value


def backoff_delay(attempt: int, settings: ClientSettings, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0 = the first retry)."""
    delay = min(settings.backoff_max_s, settings.backoff_s * 2 ** attempt) + rng.uniform(0, settings.backoff_s)
    return max(delay, retry_after or 0.0)


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers and headers.get("Retry-After") else None
    except ValueError:  # an HTTP date: rare from these servers, and the backoff still applies
        return None


class _Retryable(Exception):
    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.retry_after = retry_after


def http_json(method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str],
              timeout: float) -> dict[str, Any]:
    """One HTTP exchange: the decoded JSON answer, ``_Retryable`` for what a retry may cure, InputError or
    RuntimeFailure for the rest."""
    import http.client
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            payload = answer.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        if exc.code in RETRY_STATUS or exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code}: {detail}", _retry_after(exc.headers)) from None
        if exc.code in USER_STATUS:
            raise InputError(f"engine: {method} {url} answered HTTP {exc.code} ({detail}) — "
                             f"{USER_STATUS[exc.code]}") from None
        raise RuntimeFailure(f"engine: {method} {url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
        raise _Retryable(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        raise RuntimeFailure(f"engine: {method} {url} answered with something that is not JSON: "
                             f"{payload[:200]!r}") from None


class OpenAIEngine:
    name = "openai"

    def __init__(self, spec: dict[str, Any], model: dict[str, Any], model_dir: str):
        self.settings = ClientSettings.from_args(spec.get("args"))
        self.spec = spec
        self.model_dir = model_dir
        self._tokenizer = None
        self._headers: dict[str, str] = {}
        if self.settings.api_key_env:
            key = os.environ.get(self.settings.api_key_env)
            if not key:
                raise InputError(f"engine/args/api_key_env: the environment variable {self.settings.api_key_env} "
                                 "is not set or empty — export the API key under that name")
            self._headers["Authorization"] = f"Bearer {key}"
        self._versions: dict[str, str] | None = None
        self._repeat: dict[str, Any] | None = None
        self._probe_first: tuple[Request, list[int] | None, Output] | None = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from loomcore.tokenizer import ModelTokenizer

            self._tokenizer = ModelTokenizer(self.model_dir)
        return self._tokenizer

    def versions(self) -> dict[str, str]:
        """What the server says it is (best effort: a server that answers none of this still generates),
        and the family and sampling knobs this run sends. A server whose /v1/models names another
        family than ``engine.args.server`` is refused: its own defaults would move the answers."""
        if self._versions is None:
            s = self.settings
            found = {"engine": "openai", "endpoint": s.endpoint, "base_url": s.base_url, "model": s.model,
                     "prompt_format": s.prompt_format, "pinned_version": str(self.spec.get("version")),
                     "server_family": s.server, "sampling": json.dumps(s.sampling, sort_keys=True)}
            served_by = self.spec.get("served_by")
            if served_by:
                found["server"] = f"{served_by['name']} {served_by['version']}"
            listed = self._probe(s.base_url + "/models")
            entry = next((m for m in (listed or {}).get("data", []) if isinstance(m, dict) and m.get("id") == s.model),
                         None)
            if entry:
                found["server_model"] = json.dumps({k: v for k, v in entry.items() if k != "permission"},
                                                   sort_keys=True)
                self._check_family(entry.get("owned_by"))
            found.update(self._server_version(s.base_url.removesuffix("/v1")))
            self._versions = found
        return self._versions

    def _check_family(self, owned_by: Any) -> None:
        other = next((name for name, family in SERVERS.items() if owned_by in family.owned_by), None)
        if other is not None and other != self.settings.server:
            raise InputError(f"engine/args/server: {self.settings.server!r}, but the server at "
                             f"{self.settings.base_url} lists the model as owned_by {owned_by!r}, which is {other} — "
                             f"set engine.args.server to {other!r} so that its sampling knobs are sent at their "
                             "pinned values")

    def _server_version(self, root: str) -> dict[str, str]:
        """The server's own version: vLLM's /version, SGLang's /get_server_info, or the title and version
        of a FastAPI server's /openapi.json (llama-cpp-python's)."""
        for path in VERSION_PROBES:
            answer = self._probe(root + path)
            if answer and answer.get("version"):
                return {"server_version": str(answer["version"])[:200]}
        info = (self._probe(root + "/openapi.json") or {}).get("info")
        if isinstance(info, dict) and info.get("version"):
            return {"server_version": f"{str(info.get('title', ''))[:100]} {str(info['version'])[:100]}".strip()}
        return {}

    def repeatability(self) -> dict[str, Any] | None:
        """Whether the server answered the run's first (greedy) request alike when it was sent again right
        after it and again at the end (``finish``): a server whose answer depends on the requests before it (a
        prompt cache that reuses a prefix, batch-dependent kernels) is not repeatable. None when unchecked."""
        return self._repeat

    def _probe(self, url: str) -> dict[str, Any] | None:
        try:
            answer = http_json("GET", url, None, self._headers, timeout=min(self.settings.timeout_s, 10.0))
        except (_Retryable, InputError, RuntimeFailure):
            return None
        return answer if isinstance(answer, dict) else None

    def generate(self, requests: list[Request]) -> list[Output]:
        if not requests:
            return []
        s = self.settings
        needs_ids = s.prompt_format == "token_ids" or (s.check_prompt_tokens and s.endpoint == "completions")
        prompt_ids = encode_requests(self.tokenizer, requests) if needs_ids else [None] * len(requests)
        with ThreadPoolExecutor(max_workers=min(s.concurrency, len(requests))) as pool:
            futures = [pool.submit(self._one, r, ids) for r, ids in zip(requests, prompt_ids)]
            try:
                outputs = [f.result() for f in futures]
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # one failure ends the batch: no further retries
                raise
        if s.probe_repeatability and self._probe_first is None and requests[0].temperature == 0:
            self._probe_first = (requests[0], prompt_ids[0], outputs[0])
            self._replay("again")
        return outputs

    def finish(self) -> None:
        """The end of the run: the first request replayed once more (see ``repeatability``)."""
        if self._probe_first is not None and self._repeat is not None and "at_end" not in self._repeat:
            self._replay("at_end")

    def _replay(self, when: str) -> None:
        request, ids, first = self._probe_first
        again = self._one(request, ids)
        same = (again.text, again.finish_reason) == (first.text, first.finish_reason)
        repeat = dict(self._repeat or {"request": request.id, "repeatable": True})
        repeat[when] = "same" if same else f"differs: {json.dumps(again.text[:120])} vs {json.dumps(first.text[:120])}"
        repeat["repeatable"] = repeat["repeatable"] and same
        self._repeat = repeat
        if not same:
            import logging

            logging.getLogger(__name__).warning(
                "engine: the server answered request %s differently when it was sent again (%s) — its answers "
                "depend on the requests before them (a prompt cache, batch-dependent kernels); disable its "
                "prompt/prefix cache where it can, and read this run's scores as not repeatable", request.id, when)

    def _one(self, request: Request, prompt_ids: list[int] | None) -> Output:
        s = self.settings
        body = request_body(request, s, prompt_ids)
        response = self._post_with_retries(s.base_url + ENDPOINTS[s.endpoint], body, request.id)
        usage = response.get("usage") or {}
        if s.check_prompt_tokens and s.endpoint == "completions" and prompt_ids is not None \
                and usage.get("prompt_tokens") is not None and usage["prompt_tokens"] != len(prompt_ids):
            raise RuntimeFailure(
                f"engine: the server counted {usage['prompt_tokens']} prompt tokens for {request.id}, the harness "
                f"{len(prompt_ids)} — it tokenized another prompt. A server that adds the tokenizer's special "
                "tokens (a BOS) to a text prompt matches prompt.special_tokens 'tokenizer'; one that adds none "
                "matches 'none': set the manifest's prompt.special_tokens to what the server does, or send "
                "prompt_format token_ids where the server takes them; set check_prompt_tokens false only for "
                "a server with another tokenizer")
        text, reason, tokens = parse_response(response, request, s.endpoint, s.family)
        if tokens is None:  # a server without usage: count what it generated with our tokenizer
            tokens = self.tokenizer.count(generated_text(response, s.endpoint))
        return Output(request.id, text, tokens, reason)

    def _post_with_retries(self, url: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        s = self.settings
        rng = random.Random(request_id)
        attempt = 0
        while True:
            try:
                return http_json("POST", url, body, self._headers, s.timeout_s)
            except _Retryable as exc:
                if attempt == s.max_retries:
                    raise RuntimeFailure(f"engine: request {request_id} to {url} failed {s.max_retries + 1} times, "
                                         f"last with {exc} — check the server (and its log), or raise "
                                         "engine.args.max_retries / timeout_s") from None
                time.sleep(backoff_delay(attempt, s, rng, exc.retry_after))
                attempt += 1
