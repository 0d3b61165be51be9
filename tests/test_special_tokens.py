"""The manifest's special-token policy on a real tokenizer that adds a BOS.

``prompt.special_tokens: "tokenizer"`` must send exactly the ids ``AutoTokenizer`` produces for a plain
prompt (its post-processor's BOS included) and exactly ``apply_chat_template``'s for a chat-templated
one (the template's own BOS, never doubled); ``"none"`` the text alone. The tokenizer is the shipped
tiny model's with a BOS post-processor (as Llama, Gemma and Mistral tokenizers have) and a chat template
that writes ``{{ bos_token }}``: the ids are checked where the transformers engine hands them to the
model, and a whole run records the added token, counts it against the budget and passes ``verify``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_MODEL
from tests.helpers import copy_project, loomctl, small_manifest

BOS = "<|endoftext|>"
CHAT = ("{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
        "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def _bos_model(out: Path) -> Path:
    """The shipped tiny model whose tokenizer adds a BOS to every text and carries a chat template."""
    from tokenizers import Tokenizer
    from tokenizers.processors import TemplateProcessing

    shutil.copytree(SHIPPED_MODEL, out)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                            special_tokens=[(BOS, bos_id)])
    tok.save(str(out / "tokenizer.json"))
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.update(bos_token=BOS, chat_template=CHAT)
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return out


@pytest.fixture(scope="module")
def bos_model(tmp_path_factory) -> Path:
    return _bos_model(tmp_path_factory.mktemp("bos") / "tiny-bos")


def _task(model_dir: Path, special_tokens: str, chat: bool):
    """The lite manifest's niah_single task with the given policy (and the model's chat template)."""
    from loomcore.hashing import sha256_text
    from loomctl import manifest as mf

    manifest = mf.load(Path(__file__).resolve().parents[1] / "manifests" / "loombench-lite.json")
    (task,) = [t for t in mf.tasks(manifest) if t.id == "niah_single"]
    spec = task.effective(mf.template_text(manifest, task.prompt, task.pointer))
    prompt = dataclasses.replace(spec.prompt, special_tokens=special_tokens,
                                 chat_template="tokenizer" if chat else "none",
                                 chat_template_sha256=sha256_text(CHAT) if chat else None)
    return dataclasses.replace(spec, prompt=prompt)


def _sample() -> dict:
    return {"id": "s0", "context": "The quiet farmer painted a golden lantern. " * 20,
            "query": "quiet-farmer", "answers": ["1234567"]}


@pytest.fixture(scope="module")
def engine(bos_model):
    """The real transformers engine on the BOS model, its model's generate spied on (and still run)."""
    import transformers

    from harness.engines.hf import TransformersEngine

    engine = TransformersEngine({"name": "transformers", "version": transformers.__version__, "args": {}},
                                {"id": "tiny-bos", "dtype": "float32"}, str(bos_model))
    seen: list[list[int]] = []
    generate = engine.model.generate

    def spy(*args, **kwargs):
        seen.append(kwargs["input_ids"][0].tolist())
        return generate(*args, **kwargs)

    engine.model.generate = spy
    engine.seen = seen
    return engine


def _sent(engine, task, text: str) -> list[int]:
    from harness.engines import Request

    engine.seen.clear()
    engine.generate([Request("s0", text, 2, special_tokens=task.prompt.adds_special_tokens)])
    (ids,) = engine.seen
    return ids


def test_a_plain_prompt_gets_the_tokenizers_bos_as_autotokenizer_gives_it(bos_model, engine):
    from transformers import AutoTokenizer

    from harness.prompts import builder_for_task
    from loomcore.tokenizer import ModelTokenizer

    reference = AutoTokenizer.from_pretrained(bos_model)
    tokenizer = ModelTokenizer(bos_model)
    task = _task(bos_model, "tokenizer", chat=False)
    built = builder_for_task(task, tokenizer, bos_model).build(_sample())
    ids = _sent(engine, task, built["text"])
    assert ids == reference(built["text"])["input_ids"]
    assert ids[0] == reference.bos_token_id and ids[1] != reference.bos_token_id
    assert built["tokens_after"] == len(ids)  # the BOS is counted in the budget
    assert tokenizer.added_special_tokens == (BOS,)

    # "none": the text alone, one token fewer, as AutoTokenizer without special tokens
    plain = _task(bos_model, "none", chat=False)
    built_plain = builder_for_task(plain, tokenizer, bos_model).build(_sample())
    assert built_plain["text"] == built["text"]
    ids_plain = _sent(engine, plain, built_plain["text"])
    assert ids_plain == reference(built["text"], add_special_tokens=False)["input_ids"] == ids[1:]
    assert built_plain["tokens_after"] == len(ids) - 1


def test_a_chat_templated_prompt_is_sent_as_apply_chat_template_gives_it_bos_not_doubled(bos_model, engine):
    from transformers import AutoTokenizer

    from harness.prompts import builder_for_task, render
    from loomcore.tokenizer import ModelTokenizer

    reference = AutoTokenizer.from_pretrained(bos_model)
    tokenizer = ModelTokenizer(bos_model)
    task = _task(bos_model, "tokenizer", chat=True)
    assert not task.prompt.adds_special_tokens
    built = builder_for_task(task, tokenizer, bos_model).build(_sample())
    messages = [{"role": "user", "content": render(task.prompt.template, _sample())}]
    assert built["text"] == reference.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = _sent(engine, task, built["text"])
    expected = reference.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    expected = expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected
    assert ids == list(expected)
    assert ids.count(reference.bos_token_id) == 1 and ids[0] == reference.bos_token_id
    assert built["tokens_after"] == len(ids)


def test_a_run_records_the_added_bos_counts_it_and_verifies(tmp_path, bos_model):
    project = copy_project(tmp_path)
    manifest = small_manifest(project, bos_model, tasks=("niah_single",), lengths=(256,), per_length=2)
    out = tmp_path / "run"
    result = loomctl("run", str(manifest), "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "samples" / "niah_single.jsonl").read_text().splitlines()]
    from loomcore.tokenizer import ModelTokenizer

    tokenizer = ModelTokenizer(bos_model)
    for record in records:
        assert record["special_tokens"] == [BOS]
        # the head is the prompt's start: its count without the BOS is one fewer than what was sent
        assert record["input_tokens"] >= tokenizer.count(record["prompt_head"]) + 1
    effective = json.loads((out / "manifest.json").read_text())
    (task,) = effective["tasks"]
    assert task["prompt"]["special_tokens"] == "tokenizer"
    check = ("--model-dir", str(bos_model), "--root", str(project))
    result = loomctl("verify", str(out), *check)
    assert result.returncode == 0, result.stdout + result.stderr

    # a record whose special tokens are not the manifest's fails verify (exit 1)
    path = out / "samples" / "niah_single.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    del first["special_tokens"]
    path.write_text("\n".join([json.dumps(first, sort_keys=True, separators=(",", ":"))] + lines[1:]) + "\n")
    result = loomctl("verify", str(out), *check)
    assert result.returncode == 1 and "special_tokens" in result.stdout + result.stderr


def test_a_manifest_without_the_policy_is_refused_naming_the_field(project):
    data = json.loads((project / "loombench-lite.json").read_text())
    del data["defaults"]["prompt"]
    path = project / "no-policy.json"
    path.write_text(json.dumps(data))
    result = loomctl("validate", str(path))
    assert result.returncode == 2
    assert "prompt/special_tokens: missing" in result.stderr


def test_a_prompt_with_both_system_and_system_field_is_refused(project):
    """One system message per sample: the manifest's own (``system``) or the sample's (``system_field``)."""
    data = json.loads((project / "loombench-lite.json").read_text())
    data["defaults"]["prompt"].update(system="Be brief.", system_field="system_prompt")
    path = project / "two-systems.json"
    path.write_text(json.dumps(data))
    result = loomctl("validate", str(path))
    assert result.returncode == 2
    assert "both system and system_field are set" in result.stderr
