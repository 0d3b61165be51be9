"""RULER: its 13 tasks with the official prompts, answer prefixes, generation budgets and metrics.

Sources, read here:
- NVIDIA/RULER at commit c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a (https://github.com/NVIDIA/RULER):
  ``scripts/synthetic.yaml`` (each task's generator and arguments), ``scripts/config_tasks.sh``
  (the 13 tasks, 500 samples), ``scripts/data/synthetic/constants.py`` (templates, answer
  prefixes, ``tokens_to_generate``), ``scripts/data/synthetic/{niah,variable_tracking,
  common_words_extraction,freq_words_extraction,qa}.py`` (how samples are built),
  ``scripts/data/prepare.py`` (the prompt is the template followed by the answer prefix) and
  ``scripts/eval/synthetic/constants.py`` (``string_match_all`` for niah, vt, cwe and fwe;
  ``string_match_part`` for qa). Each prompt is ``manifests/templates/ruler/<task>.j2``; rendered,
  it equals RULER's ``template + answer_prefix`` formatted by the task script, including niah's
  singular wording when one value is asked and the one-shot examples of vt and cwe.
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/RULER``): the same 13 tasks from a copy of
  RULER's scripts and the same metrics. Its RULER config in ``models/acceleration/README.md`` runs the
  lengths ``[4096, 8192, 16384, 32768, 65536, 131072]`` and applies the model's chat template to every
  task but fwe (``no_template_tasks: ["fwe"]``), as ``chat_template`` does here.

Data: generated offline (``harness.data.synthetic``, ``style: "official"``, seed 42 as RULER's) with
the evaluated model's tokenizer, except qa_1 and qa_2: RULER builds them from SQuAD v2 dev and
HotpotQA dev (distractor), which cannot be fetched here. Their spec names LOOMBench's prebuilt RULER
files (``RULER/qa_1_<length>.jsonl``, the names LOOM-Scope 0.8 downloads in lightweight mode; the
RULER folder is in LCM-Lab/LOOMBench's tree at commit 839aae591cd12e6258051a99cb8822e539f79c60, the
files were not seen one by one) with ``revision: None``, an open pin for ``loomctl pin --resolve``.
Those rows hold RULER's whole qa prompt (template, documents, question, answer prefix) in ``input``
and the answers in ``answer``; rows in RULER's own layout (``outputs``, the answer prefix apart in
``answer_prefix``) are read too (``qa_sample``).

Not matched exactly (also in each task's notes where it applies):
- Haystacks: RULER's essay haystack is Paul Graham's essays and its words/keys come from the
  wonderwords lists; here (the filler generators, run offline) they are the filler sentences and word
  tables of ``harness.data.haystack`` (no corpus can be downloaded). The noise sentence, needle texts,
  uuids, 7-digit numbers, 5-letter variable names and Zipf counts are RULER's. cwe's once-or-thrice
  words are coded 6-letter strings where RULER uses English words. For the niah tasks, vt, cwe and
  fwe, the ``ruler_*_upstream`` generators (``harness.data.synthetic.ruler_upstream``, template
  ``ruler/upstream.j2``) give RULER's own rows byte for byte instead (wonderwords 3.0.1 and nltk
  3.10.4, the ``ruler`` extra; the essay tasks niah_single_2/3, niah_multikey_1, niah_multivalue and
  niah_multiquery also read the user's pinned ``PaulGrahamEssays.json`` and nltk punkt_tab model,
  ``harness.data.synthetic.ruler_essay``); a manifest may name them in place of these tasks' datasets.
- Length: RULER searches the haystack size so that the rendered prompt plus ``tokens_to_generate``
  fits the length exactly; here the context gets the length minus ``reserve_tokens`` (the answer
  budget plus ``TEMPLATE_ALLOWANCE`` tokens per rendering of the task text, the example of vt and
  cwe measured exactly), so prompts can be some tokens shorter than RULER's.
- vt's one-shot example is a chain in about 400 tokens of noise (``example_tokens``); RULER fits the
  whole example prompt in 500 tokens of its tokenizer.
- RULER's generators reseed per task with 42 and use numpy and ``random`` streams; the same seed
  here gives other (equally distributed) samples.
- LOOM-Scope runs vt with 80 new tokens (its ``LLM_params.py``) where RULER generates 30; RULER's 30
  is used. LOOM-Scope's copy of the vt answer prefix spells "assgined" (fixed upstream).
- With a chat template the answer prefix ends the user turn (as in LOOM-Scope); RULER puts it after
  the model's template, at the start of the answer.
- qa rows keep LOOM-Scope's ``length`` field, the row's own token count, so their by-length scores
  group by exact counts rather than by the six nominal lengths.
- Sample count: LOOMBench's per-task count was not visible offline; ``SAMPLES_PER_LENGTH`` is RULER's
  own 500 (config_tasks.sh; also the ``num_samples`` of a LOOM-Scope RULER config seen in a user's job
  script). Lower it for a quicker suite.
"""

from __future__ import annotations

from typing import Any

from harness.benchmarks.base import Benchmark, TaskDef
from loomcore.errors import InputError

LENGTHS = (4096, 8192, 16384, 32768, 65536, 131072)
SAMPLES_PER_LENGTH = 500
SEED = 42
GENERATOR_VERSION = "1+h1"
# Tokens left for one rendering of a task's text around the context (RULER's templates take 60-110
# tokens with common tokenizers, the chat template 10-30 more).
TEMPLATE_ALLOWANCE = 150

RETRIEVAL, MULTI_HOP, AGGREGATION, QA = "Retrieval", "Multi-hop Tracing", "Aggregation", "Question Answering"

# RULER's needle arguments (synthetic.yaml): haystack, key type, value type, keys, values, queries.
NIAH_TASKS = (
    ("niah_single_1", "noise", "words", "numbers", 1, 1, 1),
    ("niah_single_2", "essay", "words", "numbers", 1, 1, 1),
    ("niah_single_3", "essay", "words", "uuids", 1, 1, 1),
    ("niah_multikey_1", "essay", "words", "numbers", 4, 1, 1),
    ("niah_multikey_2", "needle", "words", "numbers", 1, 1, 1),
    ("niah_multikey_3", "needle", "uuids", "uuids", 1, 1, 1),
    ("niah_multivalue", "essay", "words", "numbers", 1, 4, 1),
    ("niah_multiquery", "essay", "words", "numbers", 1, 1, 4),
)

# tokens_to_generate (constants.py) per RULER task family.
NEW_TOKENS = {"niah": 128, "vt": 30, "cwe": 120, "fwe": 50, "qa": 32}

# Renderings of the task text in one prompt: vt and cwe repeat it for their one-shot example.
RENDERINGS = {"niah": 1, "vt": 2, "cwe": 2, "fwe": 1}

NOTES = {
    "niah": "essay haystack: filler sentences, not Paul Graham's essays; keys from the filler word tables",
    "vt": "LOOM-Scope generates 80 tokens here, RULER 30 (used)",
    "cwe": "once-or-thrice words are coded 6-letter strings, not English words",
    "qa": "LOOMBench's prebuilt RULER rows (whole prompt in input) at an open pin; not generated here",
}


def task_id(name: str) -> str:
    """Suite-wide unique task id (vt, cwe, fwe and qa_1 are RULER's short names)."""
    return f"ruler_{name}"


def _reserve(family: str) -> int:
    return NEW_TOKENS[family] + TEMPLATE_ALLOWANCE * RENDERINGS[family]


def _generated(name: str, generator: str, family: str, params: dict[str, Any], template: str,
               metric: str, group: str, chat_template: bool = True) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "generator", "generator": generator, "generator_version": GENERATOR_VERSION,
                 "seed": SEED,
                 "params": {"lengths": list(LENGTHS), "samples_per_length": SAMPLES_PER_LENGTH, "task": name,
                            "style": "official", "reserve_tokens": _reserve(family), **params}},
        template=template, metrics=(metric,), max_new_tokens=NEW_TOKENS[family], chat_template=chat_template,
        samples=SAMPLES_PER_LENGTH * len(LENGTHS), group=group, notes=NOTES.get(family, ""))


def _niah(name: str, haystack: str, key_type: str, value_type: str, keys: int, values: int,
          queries: int) -> TaskDef:
    params = {"haystack": haystack, "key_type": key_type, "value_type": value_type, "num_keys": keys,
              "num_values": values, "num_queries": queries}
    return _generated(name, "ruler_niah", "niah", params, "ruler/niah.j2", "string_match_all", RETRIEVAL)


def _qa(name: str, source: str) -> TaskDef:
    return TaskDef(
        id=task_id(name),
        dataset={"source": "hub", "repo": "LCM-Lab/LOOMBench", "config": None, "split": "train",
                 "data_files": [f"RULER/{name}_{length}.jsonl" for length in LENGTHS], "revision": None},
        template="ruler/qa.j2", metrics=("string_match_part",), max_new_tokens=NEW_TOKENS["qa"],
        fields={"context": "input"}, chat_template=True, samples=None, group=QA,
        notes=f"{NOTES['qa']}; RULER builds it from {source}")


TASKS = (
    *(_niah(*row) for row in NIAH_TASKS),
    _generated("vt", "ruler_vt", "vt", {"num_hops": 4}, "ruler/vt.j2", "string_match_all", MULTI_HOP),
    _generated("cwe", "ruler_cwe", "cwe", {"num_common": 10, "common_freq": 30, "uncommon_freq": 3},
               "ruler/cwe.j2", "string_match_all", AGGREGATION),
    _generated("fwe", "ruler_fwe", "fwe", {"alpha": 2.0, "vocab_size": -1, "word_length": 6, "num_answers": 3},
               "ruler/fwe.j2", "string_match_all", AGGREGATION, chat_template=False),
    _qa("qa_1", "SQuAD v2 dev (rajpurkar.github.io/SQuAD-explorer dev-v2.0.json)"),
    _qa("qa_2", "HotpotQA dev distractor (hotpot_dev_distractor_v1.json)"),
)

QA_TASKS = frozenset(task_id(name) for name in ("qa_1", "qa_2"))


def qa_sample(sample: dict[str, Any], task: str) -> dict[str, Any]:
    """A qa row in either layout, as the template sees it. LOOMBench's rows (what LOOM-Scope downloads)
    hold the whole prompt in ``input`` and the answers in ``answer``; RULER's own (``qa.py`` of
    ``scripts/data/synthetic``) cut the answer prefix off ``input`` into ``answer_prefix`` and keep the
    answers in ``outputs``: the prefix is put back at the end of the prompt (``prepare.py``'s template
    + answer prefix; in the user turn, as LOOM-Scope does, where a chat template is used). Other
    tasks' samples are left as they are."""
    if task not in QA_TASKS:
        return sample
    if "outputs" in sample:
        prefix = sample.get("answer_prefix", "")
        if not isinstance(prefix, str):
            raise InputError(f"{task}/dataset: a RULER qa row's answer_prefix is a {type(prefix).__name__}, not "
                             "text — give the rows as RULER's qa.py writes them")
        return {**sample, "answers": sample["outputs"], "context": sample["context"] + prefix}
    if "answer" in sample:
        return {**sample, "answers": sample["answer"]}
    raise InputError(f"{task}/dataset: a RULER qa row has neither 'answer' (LOOMBench's layout) nor 'outputs' "
                     f"(RULER's own), it has {sorted(sample)} — give the rows in one of those two layouts")


BENCHMARK = Benchmark(
    name="ruler", title="RULER", capability="general",
    metrics=("string_match_all", "string_match_part"),
    tasks=TASKS,
    prepare=qa_sample,
    source="https://github.com/NVIDIA/RULER/tree/c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a/scripts; "
           "LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/General/RULER; "
           "qa data: https://huggingface.co/datasets/LCM-Lab/LOOMBench (RULER/)",
)
