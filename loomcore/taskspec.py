"""Typed, frozen forms of a task in the effective manifest: what the harness runs and the host checks.

``loomctl`` resolves each task of a manifest (suite defaults, then benchmark defaults, then the task;
templates inlined and checked against their pins) into a ``TaskSpec`` and writes ``to_json()`` into
the run directory's ``manifest.json``; the harness, ``loomctl verify``, ``diff`` and ``score`` read
it back with ``TaskSpec.from_json``, which checks every field's type and refuses unknown ones with
exit 2 naming the field — a received run directory is hostile input. ``from_json(x).to_json() == x``
for every task this project writes (a test checks it on the golden run directory), so the digests of
an acceleration setting and the records built from these specs do not move.

A field left out of the manifest is ``None`` here and is left out of ``to_json()`` again: what the
harness does when it is absent is the component's own default, named on each field below.

Data the specs carry but do not interpret — dataset rows, a generator's or an acceleration method's
parameters, an engine's arguments — are typed as JSON (``JSONObject``): they are checked by the
component that reads them (the generator, the method, the engine), at validation and again at run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Union

from loomcore.errors import InputError

# JSON as parsed by ``json.loads``: what dataset rows, parameters and engine arguments are.
JSONValue = Union[None, bool, int, float, str, list["JSONValue"], dict[str, "JSONValue"]]
JSONObject = dict[str, JSONValue]
# One dataset row (a sample) as loaded and hashed: a JSON object with at least a string ``id``.
Sample = JSONObject

# Task keys an older loomctl wrote that are read and dropped: ``aggregation`` was always "mean" and
# never read (a benchmark's score is its own aggregation, ``harness.benchmarks``).
RETIRED_TASK_KEYS = ("aggregation",)

# ``prompt.special_tokens``: follow the tokenizer's own special tokens, or send the text alone (``Prompt``).
SPECIAL_TOKEN_POLICIES = ("tokenizer", "none")


def adds_special_tokens(special_tokens: Any, chat_template: Any) -> bool:
    """Whether a prompt gets the tokenizer's special tokens: under ``tokenizer``, a plain prompt does and a
    chat-templated one does not (its template writes what it needs, as ``apply_chat_template``'s ids)."""
    return special_tokens == "tokenizer" and chat_template != "tokenizer"


def _bad(where: str, value: Any, what: str) -> InputError:
    return InputError(f"{where}: {str(value)[:60]!r} is not {what} — the effective manifest is damaged or was "
                      "edited; re-run from the manifest, or ask the run's author for the original files")


def _check(value: Any, kind: str, where: str) -> Any:
    """``value`` if it is of ``kind`` (str, int, number, bool, strings, str-map, object, json)."""
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "str-map": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        "object": isinstance(value, dict),
        "json": True,
    }[kind]
    if not ok:
        raise _bad(where, value, {"str": "a string", "int": "an integer", "number": "a number", "bool": "a boolean",
                                  "strings": "a list of strings", "str-map": "an object of strings",
                                  "object": "an object"}[kind])
    return value


class _Spec:
    """``from_json``/``to_json`` for a frozen dataclass of optional JSON fields, from its ``KINDS``
    table (field → kind, ``_check``); ``REQUIRED`` fields must be present."""

    KINDS: ClassVar[dict[str, str]] = {}
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_json(cls, data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            raise _bad(where, data, "an object")
        unknown = sorted(set(data) - set(cls.KINDS))
        if unknown:
            raise InputError(f"{where}/{unknown[0]}: not a field of {cls.__name__} — the effective manifest is "
                             "damaged or was written by another loomctl; re-run from the manifest")
        for key in cls.REQUIRED:
            if data.get(key) is None:
                raise InputError(f"{where}/{key}: missing — the effective manifest is damaged; re-run from the manifest")
        return cls(**{key: None if data.get(key) is None else _check(data[key], kind, f"{where}/{key}")
                      for key, kind in cls.KINDS.items()})

    def to_json(self) -> JSONObject:
        return {f.name: getattr(self, f.name) for f in fields(self)  # type: ignore[arg-type]
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Dataset(_Spec):
    """Where a task's samples come from, and their pin.

    - ``source``: ``hub`` (a dataset repository at a pinned commit), ``local`` (a JSONL or Parquet
      file under the manifest's folder) or ``generator`` (a synthetic benchmark made offline).
    - ``sha256``: the samples' content hash (``loomcore.hashing.samples_sha256``); None is an open pin.
    - ``repo``, ``config``, ``split``, ``data_files``, ``revision`` (40-hex commit; None is an open
      pin): a hub dataset, as ``datasets.load_dataset`` takes them.
    - ``path``, ``format`` (``jsonl`` unless the path ends in .parquet): a local file.
    - ``generator``, ``generator_version``, ``seed``, ``params``: a generated dataset, made
      deterministically from these four (the generator checks ``params``).
    - ``fields``: our field name → the data's, for rows that name them otherwise.
    - ``limit``: keep only the first rows (before the run's own ``--limit``).
    """

    KINDS: ClassVar[dict[str, str]] = {
        "source": "str", "repo": "str", "config": "str", "split": "str", "data_files": "json", "revision": "str",
        "path": "str", "format": "str", "generator": "str", "generator_version": "str", "seed": "int",
        "params": "object", "fields": "str-map", "limit": "int", "sha256": "str"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("source",)

    source: str
    repo: str | None = None
    config: str | None = None
    split: str | None = None
    data_files: JSONValue = None
    revision: str | None = None
    path: str | None = None
    format: str | None = None
    generator: str | None = None
    generator_version: str | None = None
    seed: int | None = None
    params: JSONObject | None = None
    fields: dict[str, str] | None = None
    limit: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Prompt(_Spec):
    """The prompt: a Jinja template over the sample's fields, inlined, and its pins.

    - ``template``: the template's text (the manifest's ``template_file`` is read and inlined).
    - ``sha256``: the template text's sha256; the harness refuses a template that does not match.
    - ``chat_template``: ``tokenizer`` wraps the rendered prompt in the model's chat template;
      ``none`` (or absent) sends it as plain text.
    - ``chat_template_sha256``: the pin of that chat template (needed when it is used).
    - ``system``: a system message, for a chat template that takes one.
    - ``system_field``: instead of ``system``, the sample field whose text is that sample's system message
      (an empty one sends none), for benchmarks whose rows carry their own (NoLiMa's experiments).
    - ``special_tokens``: ``tokenizer`` follows the tokenizer's own special-token policy — its
      post-processor adds what it adds (Gemma's ``<bos>``) to a plain prompt, as ``AutoTokenizer``,
      vLLM and lm-evaluation-harness do; a chat-templated prompt is sent as the template writes it
      (``apply_chat_template`` semantics: a BOS the template writes is never doubled). ``none`` sends
      the prompt's text alone. Absent (a run directory written before this field): ``none``, what
      loomctl did then. The manifest must set it (``loomctl validate``).
    """

    KINDS: ClassVar[dict[str, str]] = {"template": "str", "sha256": "str", "chat_template": "str",
                                       "chat_template_sha256": "str", "system": "str", "system_field": "str",
                                       "special_tokens": "str"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("template", "sha256")

    template: str
    sha256: str
    chat_template: str | None = None
    chat_template_sha256: str | None = None
    system: str | None = None
    system_field: str | None = None
    special_tokens: str | None = None

    @property
    def adds_special_tokens(self) -> bool:
        """Whether the tokenizer's special tokens are added to this task's prompts (see ``special_tokens``)."""
        return adds_special_tokens(self.special_tokens, self.chat_template)

    def sent_special_tokens(self, tokenizer_adds: tuple[str, ...]) -> tuple[str, ...]:
        """The special tokens this task's prompts are sent with, of those the tokenizer adds
        (``ModelTokenizer.added_special_tokens``): all of them, or none (see ``special_tokens``)."""
        return tokenizer_adds if self.adds_special_tokens else ()


@dataclass(frozen=True)
class Truncation(_Spec):
    """How a prompt that does not fit is cut, counted in the evaluated model's tokens.

    - ``policy``: ``middle``, ``left`` or ``right`` (which part of the field is cut), ``error``
      (stop the run) or ``skip`` (record the sample unscored).
    - ``budget_tokens``: the model's context for this task; ``max_new_tokens`` are reserved out of it.
    - ``field``: the sample field that is cut (``context`` when absent); instruction and question never are.
    - ``tokenizer``, ``counts_chat_template``, ``reserves_max_new_tokens``: statements of what is
      always so (the model's tokenizer; the chat template counted; the answer's tokens reserved).
    """

    KINDS: ClassVar[dict[str, str]] = {"policy": "str", "budget_tokens": "int", "field": "str", "tokenizer": "str",
                                       "counts_chat_template": "bool", "reserves_max_new_tokens": "bool"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("policy", "budget_tokens")

    policy: str
    budget_tokens: int
    field: str | None = None
    tokenizer: str | None = None
    counts_chat_template: bool | None = None
    reserves_max_new_tokens: bool | None = None

    @property
    def cut_field(self) -> str:
        return self.field or "context"


@dataclass(frozen=True)
class Generation(_Spec):
    """Sampling settings, the same for every request of the task.

    - ``max_new_tokens``: the answer's length limit (reserved out of the truncation budget).
    - ``temperature`` (0, greedy, when absent), ``top_p`` (1.0), ``seed`` (0): sampling.
    - ``stop``: strings that end the answer (none when absent); the answer is cut before them.
    """

    KINDS: ClassVar[dict[str, str]] = {"max_new_tokens": "int", "temperature": "number", "top_p": "number",
                                       "seed": "int", "stop": "strings"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("max_new_tokens",)

    max_new_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(self.stop or ())


@dataclass(frozen=True)
class Acceleration(_Spec):
    """A long-context acceleration method (``harness.accel``); a task without one runs the full cache.

    - ``kind``: ``rag``, ``kv_cache`` or ``sparse_attention`` (``none`` is the full cache).
    - ``method``: the method's name within its kind (bm25, snapkv, vertical_slash ...).
    - ``params``: its parameters, checked by the method.
    - ``library``: the versions of the libraries it runs through, checked at run time.

    Every record carries ``{kind, method, sha256}``, the sha256 being of ``to_json()``.
    """

    KINDS: ClassVar[dict[str, str]] = {"kind": "str", "method": "str", "params": "object", "library": "str-map"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("kind",)

    kind: str
    method: str | None = None
    params: JSONObject | None = None
    library: dict[str, str] | None = None

    @property
    def is_active(self) -> bool:
        return self.kind != "none"


@dataclass(frozen=True)
class TaskSpec:
    """One task of the effective manifest: everything that can move its score.

    - ``benchmark``: the benchmark's name (``harness.benchmarks``); ``id``: the task's, unique in the run.
    - ``dataset``, ``prompt``, ``truncation``, ``generation``: above.
    - ``metrics``: the metrics scored on every sample (the first is the task's score).
    - ``acceleration``: the method, only for a task that uses one (so full-cache manifests keep their form).
    """

    benchmark: str
    id: str
    dataset: Dataset
    prompt: Prompt
    truncation: Truncation
    generation: Generation
    metrics: tuple[str, ...]
    acceleration: Acceleration | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> TaskSpec:
        if not isinstance(data, dict):
            raise _bad(where, data, "an object")
        known = {"benchmark", "id", "dataset", "prompt", "truncation", "generation", "metrics", "acceleration"}
        unknown = sorted(set(data) - known - set(RETIRED_TASK_KEYS))
        if unknown:
            raise InputError(f"{where}/{unknown[0]}: not a field of a task — the effective manifest is damaged or "
                             "was written by another loomctl; re-run from the manifest")
        at = f"{where}/{data.get('id')}" if isinstance(data.get("id"), str) else where
        metrics = data.get("metrics")
        if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
            raise _bad(f"{at}/metrics", metrics, "a list of metric names")
        accel = data.get("acceleration")
        return cls(benchmark=_check(data.get("benchmark"), "str", f"{at}/benchmark"),
                   id=_check(data.get("id"), "str", f"{where}/id"),
                   dataset=Dataset.from_json(data.get("dataset"), f"{at}/dataset"),
                   prompt=Prompt.from_json(data.get("prompt"), f"{at}/prompt"),
                   truncation=Truncation.from_json(data.get("truncation"), f"{at}/truncation"),
                   generation=Generation.from_json(data.get("generation"), f"{at}/generation"),
                   metrics=tuple(metrics),
                   acceleration=None if accel is None else Acceleration.from_json(accel, f"{at}/acceleration"))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"benchmark": self.benchmark, "id": self.id, "dataset": self.dataset.to_json(),
                           "prompt": self.prompt.to_json(), "truncation": self.truncation.to_json(),
                           "generation": self.generation.to_json(), "metrics": list(self.metrics)}
        if self.acceleration is not None and self.acceleration.is_active:
            out["acceleration"] = self.acceleration.to_json()
        return out

    @property
    def active_acceleration(self) -> Acceleration | None:
        return self.acceleration if self.acceleration is not None and self.acceleration.is_active else None


def limit_from_json(value: Any, where: str = "manifest.json/limit") -> int | None:
    """The effective manifest's ``limit`` (the run's ``--limit``: the first samples of each task): a
    positive integer, or None for every sample; anything else is refused, naming the field."""
    if value is None:
        return None
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise _bad(where, value, "a positive integer or null")
    return value


def tasks_from_json(data: Any, where: str = "manifest.json/tasks") -> list[TaskSpec]:
    """The tasks of an effective manifest (its ``tasks`` list), typed and checked."""
    if not isinstance(data, list):
        raise _bad(where, data, "a list of tasks")
    return [TaskSpec.from_json(task, f"{where}/{index}") for index, task in enumerate(data)]
