"""Prompts: sandboxed Jinja2 rendering, the tokenizer's chat template, and truncation in tokens.

Truncation cuts one field (the context) and nothing else, so the instruction and the question
always survive. The budget is the whole prompt as the engine sees it — chat template included —
plus ``max_new_tokens`` reserved for the answer; the tokenizer's special tokens (a BOS), when the
manifest's ``prompt.special_tokens`` adds them, are counted in it as the engine receives them. LOOM-Scope instead keeps max_length/2 tokens at
each end of the raw prompt before the chat template and reserves nothing (see shared/LOOMBENCH.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from loomcore.errors import InputError
from loomcore.hashing import sha256_text
from loomcore.taskspec import SPECIAL_TOKEN_POLICIES, TaskSpec
from loomcore.tokenizer import ModelTokenizer


@cache
def _environment(chat: bool = False):
    from jinja2 import StrictUndefined

    _Bounded = _bounded_environment_class()
    # No loader: templates cannot include or import files. The sandbox refuses attribute access to
    # Python internals (__class__, __globals__, ...) and the immutable variant refuses mutation. A
    # prompt template gets no globals either: range, lipsum, cycler, joiner and dict are what lets a
    # template spin or grow without bound (nested range, lipsum(n=10**7)), and it needs only the
    # sample's fields, filters, set and macro. A model's chat template keeps Jinja's usual globals
    # (they are written for them: namespace, range — capped by the sandbox at 100,000 items). Every
    # rendering's output and time are bounded (``render``).
    environment = _Bounded(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    if not chat:
        environment.globals.clear()
    return environment


def _bounded_environment_class():
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Bounded(ImmutableSandboxedEnvironment):
        """The sandbox, with ``*`` and ``**`` checked: a string or list repeated past the output bound,
        or a power too large to compute, is refused before it is computed."""

        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator, left, right):
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                            and len(seq) * times > MAX_RENDER_CHARS:
                        raise SecurityError(f"repeating a sequence {times} times exceeds the output bound")
            if operator == "**" and isinstance(right, int) and abs(right) > 4096:
                raise SecurityError(f"an exponent of {right} is too large")
            return super().call_binop(context, operator, left, right)

    return Bounded


@cache
def _compile(template: str, chat: bool = False):
    from jinja2 import TemplateError

    try:
        return _environment(chat).from_string(template)
    except TemplateError as exc:
        raise InputError(f"prompt/template: does not compile ({exc}) — fix the Jinja2 syntax") from None


def render(template: str, variables: dict[str, Any], chat: bool = False) -> str:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    try:
        return _bounded(_compile(template, chat).generate(**variables))
    except SecurityError as exc:
        raise InputError(f"prompt/template: refused by the sandbox ({exc}) — templates may only use the "
                         "sample's fields") from None
    except (TemplateError, TypeError) as exc:  # TypeError: include/import with no loader (no file access)
        raise InputError(f"prompt/template: cannot be rendered ({exc}) — use only the sample's fields; templates "
                         "cannot read files") from None


# A rendered prompt is the sample's text and some instructions: far below this (the longest official
# contexts are a few MB); a template that grows past it, or renders past the time budget, is refused.
MAX_RENDER_CHARS = 64 * 2**20
MAX_RENDER_SECONDS = 30.0


def _bounded(chunks) -> str:
    out, size, deadline = [], 0, time.monotonic() + MAX_RENDER_SECONDS
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size > MAX_RENDER_CHARS:
            raise InputError(f"prompt/template: renders past {MAX_RENDER_CHARS} characters — a prompt template "
                             "holds the sample's fields and instructions, not generated text")
        if time.monotonic() > deadline:
            raise InputError(f"prompt/template: renders for more than {MAX_RENDER_SECONDS:.0f} s — simplify it")
    return "".join(out)


def chat_template_text(model_dir: str | Path) -> str:
    """The tokenizer's chat template, read from ``chat_template.jinja`` or ``tokenizer_config.json``."""
    model_dir = Path(model_dir)
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    template = json.loads(config.read_text()).get("chat_template") if config.is_file() else None
    if isinstance(template, list):  # named templates: the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    if not isinstance(template, str):
        raise InputError(f"prompt/chat_template: the tokenizer in {model_dir} has no chat template — "
                         "set prompt.chat_template to 'none'")
    return template


def chat_special_tokens(model_dir: str | Path) -> tuple[tuple[str, str], ...]:
    """The BOS and EOS strings of the tokenizer's config, which chat templates may name."""
    config = Path(model_dir) / "tokenizer_config.json"
    data = json.loads(config.read_text()) if config.is_file() else {}
    return tuple((k, v) for k, v in data.items() if k in ("bos_token", "eos_token") and isinstance(v, str))


def chat_prompt(chat_template: str, text: str, system: str | None = None,
                special_tokens: tuple[tuple[str, str], ...] = ()) -> str:
    """``text`` as the one user message (after an optional system message) through a chat template,
    ready for the assistant's reply."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return render(chat_template, {"messages": messages, "add_generation_prompt": True, **dict(special_tokens)},
                  chat=True)


@dataclass(frozen=True)
class PromptBuilder:
    """Turns a sample into the exact prompt text the engine receives, within a token budget."""

    template: str
    tokenizer: ModelTokenizer
    policy: str
    budget_tokens: int
    max_new_tokens: int
    field: str = "context"
    chat_template: str | None = None
    system: str | None = None
    # a sample field holding that sample's system message (``prompt.system_field``), in place of ``system``
    system_field: str | None = None
    special_tokens: tuple[tuple[str, str], ...] = ()
    # The tokenizer's own special tokens (a BOS) are part of the prompt's ids and of every count
    # (``Prompt.adds_special_tokens``): what is measured against the budget is what the engine receives.
    adds_special: bool = False

    def _full(self, variables: dict[str, Any]) -> str:
        text = render(self.template, variables)
        if self.chat_template is None:
            return text
        return chat_prompt(self.chat_template, text, self._system(variables), self.special_tokens)

    def _system(self, sample: dict[str, Any]) -> str | None:
        if self.system_field is None:
            return self.system
        value = sample.get(self.system_field)
        if not isinstance(value, str):
            raise InputError(f"prompt/system_field: sample {sample.get('id')!r} has no text in "
                             f"{self.system_field!r} (it has {type(value).__name__}) — give each sample its system "
                             "message there, or drop system_field")
        return value

    @property
    def prompt_budget(self) -> int:
        return prompt_budget(self.budget_tokens, self.max_new_tokens)

    def overhead(self, sample: dict[str, Any]) -> int:
        """Tokens of everything but the cut field: template, question, chat template."""
        return self.tokenizer.count(self._full({**sample, self.field: ""}), self.adds_special)

    def build(self, sample: dict[str, Any]) -> dict[str, Any]:
        """Returns text, tokens_before, tokens_after, truncated, skipped."""
        full = self._full(sample)
        before = self.tokenizer.count(full, self.adds_special)
        if before <= self.prompt_budget:
            return {"text": full, "tokens_before": before, "tokens_after": before, "truncated": False, "skipped": False}
        overhead = self.overhead(sample)
        room = self.prompt_budget - overhead
        if room < 0:
            raise InputError(
                f"truncation/budget_tokens: sample {sample.get('id')!r} needs {overhead} tokens without any "
                f"{self.field} (template, question and chat template), more than the budget "
                f"{self.budget_tokens} minus max_new_tokens {self.max_new_tokens} — raise the budget or "
                "shorten the template")
        if self.policy == "skip":
            return {"text": None, "tokens_before": before, "tokens_after": 0, "truncated": False, "skipped": True}
        if self.policy == "error":
            raise InputError(
                f"truncation/policy: sample {sample.get('id')!r} has {before} prompt tokens, over the "
                f"{self.prompt_budget} the budget leaves, and the policy is 'error' — choose middle, left, "
                "right or skip, or raise the budget")
        ids = self.tokenizer.encode(str(sample[self.field]))
        # Decoding a cut and re-encoding it can merge tokens differently at the cut, so shrink until
        # the rendered prompt really fits.
        keep = min(room, len(ids))
        while True:
            text = self._full({**sample, self.field: self._cut(ids, keep)})
            after = self.tokenizer.count(text, self.adds_special)
            if after <= self.prompt_budget or keep == 0:
                break
            keep = max(0, keep - (after - self.prompt_budget))
        return {"text": text, "tokens_before": before, "tokens_after": after, "truncated": True, "skipped": False}

    def build_many(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``build`` for many samples, counting all untruncated prompts in one parallel batch."""
        texts = [self._full(s) for s in samples]
        out = []
        for sample, text, n in zip(samples, texts, self.tokenizer.count_many(texts, self.adds_special)):
            if n <= self.prompt_budget:
                out.append({"text": text, "tokens_before": n, "tokens_after": n, "truncated": False, "skipped": False})
            else:
                out.append(self.build(sample))
        return out

    def _cut(self, ids: list[int], keep: int) -> str:
        decode = self.tokenizer.decode
        if keep <= 0:
            return ""
        if self.policy == "right":
            return decode(ids[:keep])
        if self.policy == "left":
            return decode(ids[-keep:])
        head = keep // 2
        return decode(ids[:head]) + decode(ids[len(ids) - (keep - head):])


def prompt_budget(budget_tokens: int, max_new_tokens: int) -> int:
    """The prompt tokens a task's budget leaves: the one definition of "fits the budget" (the answer's
    tokens are reserved out of it). A template fits when its floor (``template_floor_tokens``) is at
    most this; a sample fits when its prompt is; ``PromptBuilder`` cuts to it."""
    return budget_tokens - max_new_tokens


def template_floor_tokens(template: str, tokenizer: ModelTokenizer, strict: bool = True,
                          special: bool = False) -> int:
    """Tokens of the template's own text, every field empty (with the tokenizer's special tokens when
    the task adds them, ``special``): no sample can need fewer. A template
    that computes on its fields (str methods) cannot render them empty: ``strict`` refuses it
    (validate names the problem); otherwise its source text's tokens stand as an upper bound."""
    from jinja2 import ChainableUndefined, TemplateError

    # Chainable: ``options[0]`` or ``sample.title`` of an empty field is empty too, not an error.
    env = _bounded_environment_class()(undefined=ChainableUndefined, autoescape=False)
    env.globals.clear()  # as for rendering (``_environment``)
    try:
        return tokenizer.count(_bounded(env.from_string(template).generate()), special)
    except Exception as exc:
        if not strict:
            return tokenizer.count(template, special)
        if isinstance(exc, TemplateError):
            raise InputError(f"prompt/template: cannot be rendered ({exc}) — use only the sample's fields") from None
        raise


def builder_for_task(task: TaskSpec, tokenizer: ModelTokenizer, model_dir: Path) -> PromptBuilder:
    """The prompt builder of an effective-manifest task, its template and chat template checked against their pins."""
    prompt, trunc, gen = task.prompt, task.truncation, task.generation
    if sha256_text(prompt.template) != prompt.sha256:
        raise InputError(f"{task.id}/prompt/sha256: the template hashes to {sha256_text(prompt.template)}, the "
                         f"manifest pins {prompt.sha256} — restore the template or re-pin")
    if prompt.special_tokens not in (None, *SPECIAL_TOKEN_POLICIES):
        raise InputError(f"{task.id}/prompt/special_tokens: {prompt.special_tokens!r} is not one of "
                         f"{list(SPECIAL_TOKEN_POLICIES)} — the effective manifest is damaged; re-run from the manifest")
    chat = None
    if prompt.chat_template == "tokenizer":
        chat = chat_template_text(model_dir)
        if sha256_text(chat) != prompt.chat_template_sha256:
            raise InputError(f"{task.id}/prompt/chat_template_sha256: the tokenizer's chat template changed — re-pin")
    return PromptBuilder(template=prompt.template, tokenizer=tokenizer, policy=trunc.policy,
                         budget_tokens=trunc.budget_tokens, max_new_tokens=gen.max_new_tokens,
                         field=trunc.cut_field, chat_template=chat, system=prompt.system, system_field=prompt.system_field,
                         special_tokens=chat_special_tokens(model_dir), adds_special=prompt.adds_special_tokens)
