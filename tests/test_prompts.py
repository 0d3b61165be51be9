"""Prompt rendering in the sandbox and every truncation policy, on the shipped model's real tokenizer."""

from __future__ import annotations

import pytest

from harness.prompts import PromptBuilder, render
from loomcore.errors import InputError

TEMPLATE = "Read this.\n{{ context }}\nQuestion: what is the number for {{ query }}?\nAnswer:"


def sample(n_words: int) -> dict:
    words = [f"w{i % 10} river{i}" for i in range(n_words)]
    return {"id": "s1", "context": "HEAD " + " ".join(words) + " TAIL", "query": "quiet-harbor"}


def builder(tok, policy, budget=120, new=10, **kw):
    return PromptBuilder(template=TEMPLATE, tokenizer=tok, policy=policy, budget_tokens=budget,
                         max_new_tokens=new, **kw)


def test_short_prompt_is_untouched(tok):
    s = sample(3)
    out = builder(tok, "middle", budget=1000).build(s)
    assert not out["truncated"]
    assert out["text"] == render(TEMPLATE, s)
    assert out["tokens_before"] == out["tokens_after"] == tok.count(out["text"])


@pytest.mark.parametrize("policy", ["middle", "left", "right"])
def test_cut_fits_budget_and_keeps_question(tok, policy):
    s = sample(400)
    out = builder(tok, policy).build(s)
    assert out["truncated"]
    assert out["tokens_before"] > 110
    assert out["tokens_after"] <= 120 - 10
    assert out["tokens_after"] == tok.count(out["text"])
    assert out["text"].startswith("Read this.\n")
    assert out["text"].endswith("Question: what is the number for quiet-harbor?\nAnswer:")
    context = out["text"].split("\n")[1]
    assert ("HEAD" in context) == (policy in ("middle", "right"))
    assert ("TAIL" in context) == (policy in ("middle", "left"))


def test_middle_keeps_both_halves_evenly(tok):
    s = sample(400)
    out = builder(tok, "middle").build(s)
    room = 120 - 10 - builder(tok, "middle").overhead(s)
    ids = tok.encode(s["context"])
    head = tok.decode(ids[: room // 2])
    assert out["text"].split("\n")[1].startswith(head)


def test_skip_and_error_policies(tok):
    s = sample(400)
    skipped = builder(tok, "skip").build(s)
    assert skipped["skipped"] and skipped["text"] is None
    with pytest.raises(InputError, match="policy is 'error'"):
        builder(tok, "error").build(s)


def test_budget_counts_chat_template(tok):
    chat = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\n{% endfor %}<|assistant|>\n"
    s = sample(400)
    plain = builder(tok, "middle").build(s)
    chatted = builder(tok, "middle", chat_template=chat, system="Be brief.").build(s)
    assert chatted["text"].startswith("<|system|>\nBe brief.\n<|user|>\nRead this.")
    assert chatted["tokens_after"] <= 110
    # the chat template's tokens came out of the context, not on top of the budget
    assert len(chatted["text"].split("\n")[4]) < len(plain["text"].split("\n")[1])


def test_template_alone_over_budget_is_a_clear_error(tok):
    s = sample(400)
    with pytest.raises(InputError) as err:
        builder(tok, "middle", budget=30, new=10).build(s)
    message = str(err.value)
    assert "needs" in message and "without any context" in message and "raise the budget" in message


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ context.__class__.__init__.__globals__ }}",
    "{% include '/etc/passwd' %}",
    "{{ cycler.__init__.__globals__.os }}",
])
def test_sandbox_refuses_python_internals_and_files(template):
    with pytest.raises(InputError):
        render(template, {"context": "x"})


def test_build_many_equals_build(tok):
    b = builder(tok, "middle")
    samples = [sample(3), sample(400), {**sample(10), "id": "s3"}]
    assert b.build_many(samples) == [b.build(s) for s in samples]
