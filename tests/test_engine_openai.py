"""The openai engine and the server launcher: request mapping, retries, ordering, and a real
`transformers serve` whose greedy outputs must equal the in-process transformers engine's token for token."""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.engines import Request
from harness.engines.openai import (
    SERVERS,
    ClientSettings,
    OpenAIEngine,
    backoff_delay,
    parse_response,
    request_body,
)
from harness.engines.server import (
    client_spec,
    serve,
    server_command,
    split_args,
    transformers_command,
)
from loomcore.errors import InputError, RuntimeFailure
from loomcore.tokenizer import ModelTokenizer
from tests.conftest import ROOT, SHIPPED_MODEL

GREEDY = Request("s1", "Answer: The special magic number is:", 16, ("\n",), 0.0, 1.0, 7)


def settings(**args) -> ClientSettings:
    return ClientSettings.from_args({"base_url": "http://127.0.0.1:9/v1", "model": "tiny", **args})


# ---- the manifest -> request mapping (pure) ----

def test_completions_body_writes_every_generation_setting_and_greedy_is_temperature_0():
    assert request_body(GREEDY, settings()) == {
        "model": "tiny", "prompt": "Answer: The special magic number is:", "max_tokens": 16,
        "temperature": 0.0, "top_p": 1.0, "seed": 7, "stop": ["\n"],
        "frequency_penalty": 0.0, "presence_penalty": 0.0}  # the OpenAI API's own penalties, neutral


def test_sampled_chat_and_token_id_bodies():
    sampled = Request("s2", "Hi", 8, (), 0.7, 0.9, 3)
    chat = request_body(sampled, settings(endpoint="chat", extra_body={"top_k": 20}))
    assert chat == {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8,
                    "temperature": 0.7, "top_p": 0.9, "seed": 3, "top_k": 20, "frequency_penalty": 0.0,
                    "presence_penalty": 0.0}  # no stop list when none is set
    ids = request_body(GREEDY, settings(prompt_format="token_ids"), [5, 6, 7])
    assert ids["prompt"] == [5, 6, 7] and ids["stop"] == ["\n"]


def test_an_api_key_in_the_manifest_is_refused_without_echoing_it():
    with pytest.raises(InputError) as caught:
        settings(api_key="sk-secret-123")
    assert "api_key_env" in str(caught.value) and "sk-secret-123" not in str(caught.value)


def test_bad_args_are_refused_naming_each_problem():
    with pytest.raises(InputError, match="no argument 'concurency' — use one of .*'extra_body'"):
        settings(concurency=2)
    with pytest.raises(InputError) as caught:
        ClientSettings.from_args({"base_url": "127.0.0.1:8000", "endpoint": "chat", "prompt_format": "token_ids",
                                  "concurrency": 0, "extra_body": {"max_tokens": 5}})
    assert len(caught.value.problems) == 5
    for fragment in ("model: missing", "not an http(s) URL", "token ids can only go to the completions endpoint",
                     "concurrency: 0 is below 1", "['max_tokens'] are set by the manifest"):
        assert fragment in str(caught.value)


def test_finish_reasons_map_onto_ours():
    stop = Request("r", "p", 16, ("\n",))
    # transformers serve: the stop string is in the text, and the server says "length" when it came last
    assert parse_response({"choices": [{"text": " 42\nmore", "finish_reason": "length"}],
                           "usage": {"completion_tokens": 16}}, stop, "completions") == (" 42", "stop", 16)
    # vLLM strips the stop string and names it in stop_reason
    assert parse_response({"choices": [{"text": " 42", "finish_reason": "stop", "stop_reason": "\n"}],
                           "usage": {"completion_tokens": 3}}, stop, "completions") == (" 42", "stop", 3)
    # end of sequence: the EOS token the server counts is not an output token (as in the transformers engine)
    assert parse_response({"choices": [{"text": " 42", "finish_reason": "stop", "stop_reason": None}],
                           "usage": {"completion_tokens": 3}}, stop, "completions") == (" 42", "eos", 2)
    # SGLang names a matched end-of-sequence token id in matched_stop
    assert parse_response({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop", "matched_stop": 0}]},
                          stop, "chat") == ("ok", "eos", None)
    assert parse_response({"choices": [{"text": "abc", "finish_reason": "length"}]}, stop, "completions")[1] == "length"
    with pytest.raises(RuntimeFailure, match="finish_reason 'abort'"):
        parse_response({"choices": [{"text": "", "finish_reason": "abort"}]}, stop, "completions")


def test_llama_cpp_python_finish_reasons_and_counts_are_taken_as_it_reports_them():
    """llama-cpp-python cuts a matched stop string and does not name it, and stops before counting the EOS
    token: its "stop" with stop strings set is "stop_or_eos" and its count is never reduced (the generic
    family likewise); with no stop string set, its "stop" can only be the end of sequence."""
    llama = SERVERS["llama-cpp-python"]
    stop, plain = Request("r", "p", 16, (".",)), Request("r", "p", 16)
    reply = {"choices": [{"text": " 2162023", "finish_reason": "stop"}], "usage": {"completion_tokens": 10}}
    assert parse_response(reply, stop, "completions", llama) == (" 2162023", "stop_or_eos", 10)
    assert parse_response(reply, plain, "completions", llama) == (" 2162023", "eos", 10)
    assert parse_response(reply, stop, "completions", SERVERS["openai"]) == (" 2162023", "stop_or_eos", 10)
    # vLLM (the default family) counts the EOS token, and names the stop string it cut
    assert parse_response(reply, plain, "completions") == (" 2162023", "eos", 9)
    assert parse_response(reply, stop, "completions")[1] == "eos"


def test_every_sampling_knob_of_the_family_is_sent_neutral_unless_pinned_and_foreign_ones_are_refused():
    llama = request_body(GREEDY, settings(server="llama-cpp-python", sampling={"repeat_penalty": 1.1}))
    assert {k: llama[k] for k in ("repeat_penalty", "frequency_penalty", "presence_penalty", "top_k", "min_p",
                                  "mirostat_mode")} == {"repeat_penalty": 1.1, "frequency_penalty": 0.0,
                                                        "presence_penalty": 0.0, "top_k": 0, "min_p": 0.0,
                                                        "mirostat_mode": 0}
    # transformers serve: frequency_penalty 0 is its repetition_penalty 1.0; presence_penalty it refuses
    served = request_body(GREEDY, settings(server="transformers"))
    assert served["frequency_penalty"] == 0.0 and "presence_penalty" not in served
    with pytest.raises(InputError) as refused:
        settings(server="llama-cpp-python", sampling={"repetition_penalty": 1.0, "top_k": "40"},
                 extra_body={"repeat_penalty": 1.3})
    assert refused.value.problems == [
        "engine/args/sampling/repetition_penalty: llama-cpp-python has no such knob here — pin one of "
        "['frequency_penalty', 'min_p', 'mirostat_mode', 'presence_penalty', 'repeat_penalty', 'top_k']",
        "engine/args/sampling/top_k: '40' is not a number",
        "engine/args/extra_body: ['repeat_penalty'] are llama-cpp-python's sampling knobs, sent from "
        "engine.args.sampling — pin them there"]
    with pytest.raises(InputError, match="engine/args/server: 'llama.cpp' — name the server family"):
        settings(server="llama.cpp")


def test_a_server_whose_answer_depends_on_the_requests_before_is_recorded_as_not_repeatable(fake_api):
    answers = iter([" 69 stars.", " 69 stars.", " other", " 69 stars. And 32 more tokens"])
    api = fake_api(lambda body, call: (200, {}, completion(next(answers), "stop")))
    engine = api.engine(check_prompt_tokens=False)
    [first] = engine.generate([GREEDY])
    assert first.text == " 69 stars." and len(api.bodies) == 2 and api.bodies[0] == api.bodies[1]
    assert engine.repeatability() == {"request": "s1", "repeatable": True, "again": "same"}
    engine.generate([Request("s2", "other", 8, (), 0.0, 1.0, 7)])  # no further probe
    assert len(api.bodies) == 3
    engine.finish()
    repeat = engine.repeatability()
    assert repeat["repeatable"] is False and repeat["at_end"].startswith('differs: " 69 stars. And 32')
    assert len(api.bodies) == 4 and api.bodies[3] == api.bodies[0]
    sampled = fake_api(lambda body, call: (200, {}, completion(" x", "length")))
    engine = sampled.engine(check_prompt_tokens=False)
    engine.generate([Request("s3", "p", 4, (), 0.7, 0.9, 1)])  # a sampled request is not expected to repeat
    engine.finish()
    assert engine.repeatability() is None and len(sampled.bodies) == 1


def test_backoff_doubles_up_to_the_cap_with_seeded_jitter_and_honours_retry_after():
    s = settings(backoff_s=1.0, backoff_max_s=5.0)
    delays = [backoff_delay(k, s, random.Random("s1")) for k in range(5)]
    assert delays == [backoff_delay(k, s, random.Random("s1")) for k in range(5)]  # same seed, same waits
    # base 1, 2, 4, then capped at 5, each plus jitter in [0, 1)
    for delay, base in zip(delays, (1, 2, 4, 5, 5)):
        assert base <= delay < base + 1
    assert backoff_delay(0, s, random.Random(0), retry_after=12.0) == 12.0


# ---- the client against real HTTP servers on 127.0.0.1 ----

class FakeAPI:
    """An OpenAI-style completions server whose answers come from ``respond(body, call_number)``."""

    def __init__(self, respond, pages: dict[str, dict] | None = None):
        self.bodies, self.headers, self.in_flight, self.max_in_flight = [], [], 0, 0
        lock, api = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                page = (pages or {}).get(self.path)
                data = json.dumps(page).encode()
                self.send_response(200 if page is not None else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    api.bodies.append(body)
                    api.headers.append(dict(self.headers))
                    call = len(api.bodies)
                    api.in_flight += 1
                    api.max_in_flight = max(api.max_in_flight, api.in_flight)
                try:
                    status, headers, payload = respond(body, call)
                finally:
                    with lock:
                        api.in_flight -= 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def engine(self, **args) -> OpenAIEngine:
        spec = {"name": "openai", "version": "test",
                "args": {"base_url": self.base_url, "model": "tiny", "backoff_s": 0.01, **args}}
        return OpenAIEngine(spec, {}, str(SHIPPED_MODEL))


def completion(text: str, finish: str = "length") -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


@pytest.fixture
def fake_api():
    servers = []

    def start(respond, pages=None) -> FakeAPI:
        servers.append(FakeAPI(respond, pages))
        return servers[-1]

    yield start
    for api in servers:
        api.server.shutdown()
        api.server.server_close()


def test_429_then_200_is_retried_and_the_key_comes_from_the_named_variable(fake_api, monkeypatch):
    api = fake_api(lambda body, call: (429, {"Retry-After": "0"}, {"error": "slow down"}) if call == 1
                   else (200, {}, completion(" 1234\nrest", "length")))
    monkeypatch.setenv("LOOM_TEST_KEY", "sk-test-9")
    [out] = api.engine(api_key_env="LOOM_TEST_KEY", check_prompt_tokens=False,
                       probe_repeatability=False).generate([GREEDY])
    assert (out.text, out.finish_reason) == (" 1234", "stop")
    # no usage in the answer: the output is counted with the model's tokenizer, the stop string included
    assert out.output_tokens == ModelTokenizer(SHIPPED_MODEL).count(" 1234\nrest")
    assert len(api.bodies) == 2 and api.bodies[0] == api.bodies[1]
    assert all(h["Authorization"] == "Bearer sk-test-9" for h in api.headers)
    monkeypatch.delenv("LOOM_TEST_KEY")
    with pytest.raises(InputError, match="LOOM_TEST_KEY is not set"):
        api.engine(api_key_env="LOOM_TEST_KEY")


def test_server_errors_retry_up_to_the_limit_and_client_errors_do_not(fake_api):
    failing = fake_api(lambda body, call: (503, {}, {"error": "loading"}))
    with pytest.raises(RuntimeFailure, match="failed 3 times, last with HTTP 503"):
        failing.engine(max_retries=2).generate([GREEDY])
    assert len(failing.bodies) == 3
    refused = fake_api(lambda body, call: (400, {}, {"error": "prompt too long"}))
    with pytest.raises(RuntimeFailure, match="HTTP 400.*prompt too long"):
        refused.engine(max_retries=5).generate([GREEDY])
    assert len(refused.bodies) == 1
    with socket.socket() as probe:  # a port nothing listens on: connection refused, retried, then reported
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    engine = OpenAIEngine({"name": "openai", "version": "t", "args": {
        "base_url": f"http://127.0.0.1:{closed}/v1", "model": "m", "max_retries": 1, "backoff_s": 0.01}}, {},
        str(SHIPPED_MODEL))
    with pytest.raises(RuntimeFailure, match="failed 2 times"):
        engine.generate([GREEDY])


def test_outputs_keep_request_order_when_answers_arrive_in_reverse(fake_api):
    def respond(body, call):
        index = int(body["prompt"].split()[-1])
        time.sleep(0.04 * (8 - index))  # the first request answers last
        return 200, {}, completion(f" answer {index}", "length")

    api = fake_api(respond)
    requests = [Request(f"id{i}", f"prompt {i}", 4) for i in range(8)]
    outputs = api.engine(concurrency=4).generate(requests)
    assert [o.id for o in outputs] == [r.id for r in requests]
    assert [o.text for o in outputs] == [f" answer {i}" for i in range(8)]
    assert 1 < api.max_in_flight <= 4  # overlapping, never beyond the limit


def test_a_server_that_counts_other_prompt_tokens_is_stopped(fake_api):
    prompt_tokens = ModelTokenizer(SHIPPED_MODEL).count(GREEDY.prompt)
    api = fake_api(lambda body, call: (200, {}, {**completion(" 1"), "usage": {
        "prompt_tokens": prompt_tokens + 1, "completion_tokens": 1}}))  # as if it had added a BOS
    with pytest.raises(RuntimeFailure, match=f"counted {prompt_tokens + 1} prompt tokens.*the harness {prompt_tokens}"):
        api.engine().generate([GREEDY])


def test_versions_record_what_the_server_reports(fake_api):
    api = fake_api(lambda body, call: (500, {}, {}), pages={
        "/v1/models": {"object": "list", "data": [{"id": "other"}, {"id": "tiny", "owned_by": "vllm",
                                                                      "max_model_len": 8192}]},
        "/version": {"version": "0.11.1"}})
    versions = api.engine(server="vllm").versions()
    assert versions["server_version"] == "0.11.1"
    assert json.loads(versions["server_model"]) == {"id": "tiny", "owned_by": "vllm", "max_model_len": 8192}
    assert (versions["engine"], versions["model"], versions["base_url"]) == ("openai", "tiny", api.base_url)
    assert versions["server_family"] == "vllm"
    assert json.loads(versions["sampling"]) == {"repetition_penalty": 1.0, "frequency_penalty": 0.0,
                                                "presence_penalty": 0.0, "top_k": -1, "min_p": 0.0}
    bare = fake_api(lambda body, call: (500, {}, {}))  # a server that answers neither still gets an engine
    assert "server_version" not in bare.engine().versions()
    # a vLLM server driven as a generic OpenAI API would keep its own sampling defaults: refused
    with pytest.raises(InputError, match="engine/args/server: 'openai'.*owned_by 'vllm'.*set engine.args.server to 'vllm'"):
        api.engine().versions()


# ---- the launcher ----

def test_serve_yields_a_live_url_and_stops_the_server(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "models").write_text('{"data": []}')
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with serve(command, port, startup_timeout_s=30) as base_url:
        assert base_url == f"http://127.0.0.1:{port}/v1"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_server_that_dies_or_never_answers_fails_with_its_log(tmp_path):
    dies = [sys.executable, "-c", "print('CUDA error: no GPU found', flush=True); raise SystemExit(3)"]
    with pytest.raises(RuntimeFailure, match=r"(?s)exited with code 3.*CUDA error: no GPU found"):
        with serve(dies, 1, startup_timeout_s=30):
            pass
    pid_file = tmp_path / "pid"
    silent = [sys.executable, "-c", f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); "
              "print('still loading', flush=True); time.sleep(60)"]
    with pytest.raises(RuntimeFailure, match=r"(?s)did not answer /v1/models within 2 s.*still loading"):
        with serve(silent, 1, startup_timeout_s=2):
            pass
    with pytest.raises(ProcessLookupError):  # the silent server was stopped
        os.kill(int(pid_file.read_text()), 0)


def test_server_commands_and_argument_split():
    spec = {"name": "transformers", "version": "5.23.0", "mode": "server",
            "args": {"batch_size": 4, "concurrency": 4, "startup_timeout_s": 60, "device": "cpu"}}
    client, launcher, server = split_args(spec["args"])
    assert (client, launcher, server) == ({"batch_size": 4, "concurrency": 4}, {"startup_timeout_s": 60},
                                          {"batch_size": 4, "device": "cpu"})
    import transformers

    command = transformers_command("/m", 8123, {**spec, "version": transformers.__version__, "args": server},
                                   {"dtype": "float32", "trust_remote_code": True})
    assert command[1:] == ["-m", "transformers.cli.transformers", "serve", "/m", "--host", "127.0.0.1", "--port",
                           "8123", "--dtype", "float32", "--device", "cpu", "--no-continuous-batching",
                           "--trust-remote-code", "--log-level", "info"]
    with pytest.raises(InputError, match="pins transformers 0.0.1"):
        transformers_command("/m", 1, {**spec, "version": "0.0.1", "args": server})
    with pytest.raises(InputError, match="server mode starts one of"):
        server_command("openai", "/m", 1, spec)
    assert client_spec({**spec, "name": "vllm"}, "http://127.0.0.1:5/v1", "/m")["args"] == {
        "prompt_format": "token_ids", "batch_size": 4, "concurrency": 4, "base_url": "http://127.0.0.1:5/v1",
        "model": "/m", "server": "vllm"}


# ---- a real server: transformers serve on the shipped model against the in-process engine ----

def lite_requests() -> list[Request]:
    """Prompts of three tasks of the tiny model's training mix (short lengths), rendered as a run renders them."""
    from harness.prompts import PromptBuilder
    from tests.helpers import load_samples, mix_tasks

    manifest = json.loads((ROOT / "manifests" / "loombench-lite.json").read_text())
    defaults = manifest["defaults"]
    tokenizer = ModelTokenizer(SHIPPED_MODEL)
    tasks = mix_tasks()
    requests = []
    for task_id in ("niah_single", "niah_multivalue", "vt"):
        task = tasks[task_id]
        dataset = {**task["dataset"], "params": {**task["dataset"]["params"], "lengths": [256, 512],
                                                 "samples_per_length": 2}}
        samples = load_samples(dataset, ROOT / "manifests", lambda: tokenizer)
        max_new = task.get("generation", {}).get("max_new_tokens", defaults["generation"]["max_new_tokens"])
        builder = PromptBuilder(template=(ROOT / "manifests" / task["prompt"]["template_file"]).read_text(),
                                tokenizer=tokenizer, policy="middle", budget_tokens=1024, max_new_tokens=max_new)
        for index, (sample, prompt) in enumerate(zip(samples, builder.build_many(samples))):
            # vt's first request also stops at ',' (vt lists names with commas): the lite-mix model ends its
            # other replies with end-of-text or runs out of tokens, so a stop string ends this one
            stop = tuple(defaults["generation"]["stop"]) + ((",",) if (task_id, index) == ("vt", 0) else ())
            requests.append(Request(f"{task_id}/{sample['id']}", prompt["text"], max_new, stop))
    return requests


def test_transformers_serve_agrees_with_the_transformers_engine_token_for_token():
    import transformers
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs its serving extras (fastapi, uvicorn, pydantic, openai): "
                    "pip install 'transformers[serving]'")

    from harness.engines.hf import TransformersEngine
    from harness.engines.server import served

    requests = lite_requests()
    assert len(requests) == 12
    model = {"dtype": "float32"}
    local = TransformersEngine({"name": "transformers", "version": transformers.__version__,
                                "args": {"batch_size": 1}}, model, str(SHIPPED_MODEL))
    expected = [local.generate([r])[0] for r in requests]
    spec = {"name": "transformers", "version": transformers.__version__, "mode": "server",
            "args": {"batch_size": 4, "concurrency": 2, "device": "cpu", "startup_timeout_s": 120}}
    with served(spec, model, SHIPPED_MODEL) as remote:
        assert remote.versions()["server"] == f"transformers {transformers.__version__}"
        got = remote.generate(requests)
    assert got == expected  # text, output tokens and finish reason of every sample
    assert {o.finish_reason for o in got} == {"stop", "eos", "length"}  # every ending was exercised


def test_server_mode_run_gives_the_offline_records(tmp_path, random_model_dir):
    """`engine.mode: server`: the harness starts `transformers serve`, talks to it through the openai
    engine and stops it; the records equal the in-process engine's (prompts, predictions, scores)."""
    import json as _json

    from tests.helpers import copy_project, loomctl, small_manifest

    project = copy_project(tmp_path)
    manifest = small_manifest(project, random_model_dir, tasks=("niah_single",), lengths=(256,), per_length=3)
    offline = tmp_path / "offline"
    assert loomctl("run", str(manifest), "--out", str(offline)).returncode == 0
    data = _json.loads(manifest.read_text())
    data["engine"]["mode"] = "server"
    data["engine"]["args"] = {"batch_size": 2, "concurrency": 2}
    manifest.write_text(_json.dumps(data, indent=2))
    served_run = tmp_path / "served"
    result = loomctl("run", str(manifest), "--out", str(served_run))
    assert result.returncode == 0, result.stderr[-3000:]

    def predictions(run):
        return [{k: r[k] for k in ("id", "prompt_sha256", "prediction", "output_tokens", "finish_reason", "scores")}
                for r in map(_json.loads, (run / "samples" / "niah_single.jsonl").read_text().splitlines())]

    assert predictions(served_run) == predictions(offline)
    assert (served_run / "logs" / "server.log").stat().st_size > 0
    env = _json.loads((served_run / "environment.json").read_text())
    assert env["engine"]["endpoint"] == "completions" and env["engine"]["server_family"] == "transformers"
    # the first request was replayed right after it and at the end, and answered alike both times
    first = predictions(offline)[0]["id"]
    assert env["repeatability"] == {"request": first, "repeatable": True, "again": "same", "at_end": "same"}
