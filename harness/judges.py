"""Judge models behind the judge metrics: an NLI classifier as ``entails(premise, hypothesis)``, and an
LLM as ``judge(prompt) -> reply``.

A manifest pins each judge under ``judges.<name>`` like the evaluated model (id, revision,
weights_sha256, files, a local ``path``, ``engine``, ``dtype``, and for an LLM judge ``generation``);
``harness.judge_run`` checks those pins and loads each judge through this module.

- L-CiteEval's citation scores (``harness.metrics.l_citeeval.citation_scores``) take the NLI judge:
  a local sequence-classification model, used as upstream's
  ``pipeline("text-classification", model="tasksource/deberta-base-long-nli")`` is: the premise and
  hypothesis are one text pair, and the claim is entailed when the top label is "entailment".
- LongWriter's quality score (``harness.metrics.longwriter.quality_scores``) takes the LLM judge: a
  model run through the same engine layer as the evaluated model (``harness.engines.load_engine``),
  the prompt sent as one user message (the judge tokenizer's chat template applied when it has one;
  an ``openai`` engine's server applies its own), greedy unless the pin's ``generation`` says
  otherwise (upstream: gpt-4o-2024-05-13 at temperature 0.5, 1024 new tokens).

torch and transformers are imported when a judge is loaded, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loomcore.errors import InputError, RuntimeFailure

ENTAILMENT = "entailment"
_DTYPES = {"float32", "float16", "bfloat16"}


class NLIJudge:
    """``entails(premise, hypothesis) -> bool`` from a local AutoModelForSequenceClassification.

    Differs from upstream's pipeline in one respect: a pair longer than the tokenizer's
    ``model_max_length`` has its premise truncated (the pipeline would fail on it)."""

    def __init__(self, model_dir: str | Path, dtype: str = "float32", device: str = "cpu"):
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        transformers.utils.logging.disable_progress_bar()
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise InputError(f"judges/path: {model_dir} has no config.json — download the NLI model there "
                             "(e.g. tasksource/deberta-base-long-nli) and pin it in the manifest's judges")
        if dtype == "auto":
            dtype = "float32"
        if dtype not in _DTYPES:
            raise InputError(f"judges/dtype: {dtype!r} is not one of {sorted(_DTYPES)} — fix the manifest")
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=getattr(torch, dtype)).to(device).eval()
        labels = {str(name).lower(): int(index) for index, name in self.model.config.id2label.items()}
        if ENTAILMENT not in labels:
            raise InputError(f"judges/path: {model_dir} labels its classes {sorted(labels)}, none 'entailment' — "
                             "an NLI judge must have an entailment class")
        self.entailment_index = labels[ENTAILMENT]
        self.device = device

    def entails(self, premise: str, hypothesis: str) -> bool:
        encoded = self.tokenizer(premise, hypothesis, truncation="only_first", return_tensors="pt").to(self.device)
        try:
            with self._torch.no_grad():
                logits = self.model(**encoded).logits[0]
        except RuntimeError as exc:
            raise RuntimeFailure(f"judge: NLI model failed on a {encoded['input_ids'].shape[-1]}-token pair "
                                 f"({exc}) — check the judge's device and memory") from None
        return int(logits.argmax()) == self.entailment_index

    __call__ = entails

    def versions(self) -> dict[str, str]:
        import tokenizers
        import transformers

        return {"torch": self._torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "device": self.device}


def load_nli_judge(spec: dict[str, Any], root: Path, model_dir: Path | None = None) -> NLIJudge:
    """The NLI judge a manifest's ``judges.<name>`` object describes: its weights in ``model_dir``, or
    else at its ``path`` relative to ``root``."""
    engine = (spec.get("engine") or {}).get("name", "transformers")
    if engine != "transformers":
        raise InputError(f"judges/engine: an NLI judge runs with transformers, not {engine!r} — set engine.name "
                         "to 'transformers'")
    if model_dir is None:
        if not spec.get("path"):
            raise InputError(f"judges/path: judge {spec.get('id')!r} has no local path — download it and set 'path'")
        model_dir = root / spec["path"]
    return NLIJudge(model_dir, dtype=spec.get("dtype", "float32"),
                    device=(spec.get("engine") or {}).get("device", "cpu"))


DEFAULT_JUDGE_TOKENS = 1024  # upstream LongWriter's max_new_tokens for its judge


class LLMJudge:
    """``judge(prompt) -> reply`` through an engine (``harness.engines``), one sample at a time.

    ``session(sample_id)`` gives the callable a scorer retries through: it keeps every reply the
    engine gave for that sample and how often the scorer asked. A retry of a sampling judge gets the
    next seed (so reruns retry alike); a greedy judge would only repeat itself, so its reply to a
    prompt is reused instead of generated again."""

    def __init__(self, engine, generation: dict[str, Any], chat_template: str | None,
                 special_tokens: tuple[tuple[str, str], ...] = ()):
        self.engine = engine
        self.generation = {"max_new_tokens": DEFAULT_JUDGE_TOKENS, "temperature": 0.0, "top_p": 1.0, "seed": 0,
                           "stop": [], **generation}
        self.chat_template = chat_template
        self.special_tokens = special_tokens

    @property
    def greedy(self) -> bool:
        return not self.generation["temperature"]

    def session(self, sample_id: str) -> JudgeSession:
        return JudgeSession(self, sample_id)

    def reply(self, request_id: str, prompt: str, attempt: int) -> str:
        from harness.engines import Request
        from harness.prompts import chat_prompt

        text = chat_prompt(self.chat_template, prompt, special_tokens=self.special_tokens) \
            if self.chat_template is not None else prompt
        g = self.generation
        (output,) = self.engine.generate([Request(request_id, text, int(g["max_new_tokens"]), tuple(g["stop"]),
                                                  float(g["temperature"]), float(g["top_p"]),
                                                  int(g["seed"]) + attempt)])
        return output.text

    def versions(self) -> dict[str, str]:
        return self.engine.versions()


class JudgeSession:
    """The judge callable for one sample, keeping its replies (see ``LLMJudge``)."""

    def __init__(self, judge: LLMJudge, sample_id: str):
        self.judge = judge
        self.sample_id = sample_id
        self.replies: list[str] = []
        self.calls = 0
        self._greedy_replies: dict[str, str] = {}

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        if self.judge.greedy and prompt in self._greedy_replies:
            return self._greedy_replies[prompt]
        reply = self.judge.reply(f"{self.sample_id}#{len(self.replies)}", prompt, len(self.replies))
        self.replies.append(reply)
        if self.judge.greedy:
            self._greedy_replies[prompt] = reply
        return reply


def load_llm_judge(spec: dict[str, Any], model_dir: Path, accelerator: dict[str, Any] | None = None) -> LLMJudge:
    """The LLM judge a manifest's ``judges.<name>`` object describes, its weights in ``model_dir``."""
    from harness.engines import load_engine
    from harness.prompts import chat_special_tokens, chat_template_text

    engine_spec = spec.get("engine") or {}
    if not engine_spec.get("name"):
        raise InputError(f"judges/engine: judge {spec.get('id')!r} names no engine — set engine.name (transformers, "
                         "vllm, sglang or openai) and engine.version")
    chat_template = None
    if engine_spec["name"] != "openai":
        try:
            chat_template = chat_template_text(model_dir)
        except InputError:  # a base model: the prompt goes in as it is
            chat_template = None
    engine = load_engine(engine_spec, spec, str(model_dir), accelerator)
    return LLMJudge(engine, dict(spec.get("generation") or {}), chat_template,
                    chat_special_tokens(model_dir) if chat_template is not None else ())
