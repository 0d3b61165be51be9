"""RULER: its 13 tasks with the official prompts, answer prefixes, generation budgets and metrics.

Sources, read here:
- NVIDIA/RULER at commit c3f5e3b4f87f97e048793bb510a3a6b19a46bf3a (https://github.com/NVIDIA/RULER):
  ``scripts/synthetic.yaml`` (each task's generator and arguments), ``scripts/config_tasks.sh``
  (the 13 tasks, 500 samples), ``scripts/data/synthetic/constants.py`` (templates, answer
  prefixes, ``tokens_to_generate``), ``scripts/data/synthetic/{niah,variable_tracking,
  common_words_extraction,freq_words_extraction,qa}.py`` (how samples are built),
  ``scripts/data/prepare.py`` (the prompt is the template followed by the answer prefix) and
  ``scripts/eval/synthetic/constants.py`` (``string_match_all`` for niah, vt, cwe and fwe;
  ``string_match_part`` for qa). Each generated prompt is the one RULER's task script writes (its
  ``template + answer_prefix``, niah's singular wording when one value is asked, the one-shot examples
  of vt and cwe), sent through the pass-through ``manifests/templates/ruler/upstream.j2``.
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/General/RULER``): the same 13 tasks from a copy of
  RULER's scripts and the same metrics. Its RULER config in ``models/acceleration/README.md`` runs the
  lengths ``[4096, 8192, 16384, 32768, 65536, 131072]`` and applies the model's chat template to every
  task but fwe (``no_template_tasks: ["fwe"]``), as ``chat_template`` does here.

Data: generated offline with the evaluated model's tokenizer by RULER's own generators, re-implemented
call for call (``harness.data.synthetic.ruler_upstream``: ``ruler_niah_upstream``, ``ruler_vt_upstream``,
``ruler_cwe_upstream``, ``ruler_fwe_upstream``; seed 42 as RULER's ``--random_seed``; wonderwords 3.0.1,
nltk 3.10.4 and scipy, the ``ruler`` extra and every image's lock), so the same seed, length and
tokenizer give RULER's rows byte for byte; the template ``ruler/upstream.j2`` sends RULER's whole prompt
(its ``input`` and ``answer_prefix``) as it is. The essay tasks (niah_single_2/3, niah_multikey_1,
niah_multivalue, niah_multiquery) also read two inputs the user places beside the manifest, pinned
(``harness.data.synthetic.ruler_essay``): RULER's ``json/PaulGrahamEssays.json`` at ``ESSAY_PATH``
(``essay_sha256`` an open pin: RULER's download script writes it from web pages as they are that day)
and nltk's English punkt_tab model folder at ``PUNKT_DIR`` (``punkt_sha256`` pinned to NLTK's model); a
run without them stops naming the field. qa_1 and qa_2 are not generated: RULER builds them from SQuAD
v2 dev and HotpotQA dev (distractor), which cannot be fetched here. Their spec names LOOMBench's prebuilt
RULER files (``RULER/qa_1_<length>.jsonl``, the names LOOM-Scope 0.8 downloads in lightweight mode; the
RULER folder is in LCM-Lab/LOOMBench's tree at commit 839aae591cd12e6258051a99cb8822e539f79c60, the
files were not seen one by one) with ``revision: None``, an open pin for ``loomctl pin --resolve``.
Those rows hold RULER's whole qa prompt (template, documents, question, answer prefix) in ``input``
and the answers in ``answer``; rows in RULER's own layout (``outputs``, the answer prefix apart in
``answer_prefix``) are read too (``qa_sample``).

The filler generators (``ruler_niah``, ``ruler_vt``, ``ruler_cwe``, ``ruler_fwe`` with ``style:
"official"`` and the templates ``ruler/{niah,vt,cwe,fwe}.j2``: RULER's prompts over the project's seeded
filler, no input needed) stay for a run without RULER's essays; no shipped manifest names them, and
their rows are not RULER's (filler sentences and word tables instead of the essays and wonderwords'
lists, coded words for cwe, the context fitted by a reserve instead of RULER's search).

Not matched exactly (also in each task's notes where it applies):
- What still differs in the generators themselves (the essay file RULER does not pin, cwe beyond 8166
  words, tokenizers that are not a ``tokenizer.json``): ``harness.data.synthetic.ruler_upstream``.
- Length: RULER's length counts the prompt and ``tokens_to_generate`` with the plain tokenizer; a chat
  template's tokens come on top, so at the model's whole window (131,072 here) middle truncation cuts
  that many tokens (some 30 for Llama 3.1) from the middle of the haystack, where RULER's own pipeline
  would send a prompt over the window.
- A model substituted with ``--model`` may not fill every length (the tiny model's tokenizer cannot fit
  cwe's example in 4,096 tokens): those lengths are dropped and named in the substitutions
  (``loomctl.substitute``), never for the suite's own model.
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
from harness.data.synthetic import generator_version
from harness.data.synthetic.ruler_essay import PUNKT_ENGLISH_SHA256
from loomcore.errors import InputError

LENGTHS = (4096, 8192, 16384, 32768, 65536, 131072)
SAMPLES_PER_LENGTH = 500
SEED = 42
# Where the user places the essay tasks' two inputs, beside the manifest (never in the repository).
ESSAY_PATH = "haystacks/RULER/PaulGrahamEssays.json"
PUNKT_DIR = "haystacks/nltk_data/tokenizers/punkt_tab/english"

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

NOTES = {
    "essay": "RULER's essay haystack: the user's PaulGrahamEssays.json (open pin: RULER does not pin it) and "
             "nltk's English punkt_tab model, beside the manifest",
    "vt": "LOOM-Scope generates 80 tokens here, RULER 30 (used)",
    "qa": "LOOMBench's prebuilt RULER rows (whole prompt in input) at an open pin; not generated here",
}


def task_id(name: str) -> str:
    """Suite-wide unique task id (vt, cwe, fwe and qa_1 are RULER's short names)."""
    return f"ruler_{name}"


def _generated(name: str, generator: str, family: str, params: dict[str, Any], group: str,
               chat_template: bool = True, notes: str = "") -> TaskDef:
    """A task RULER's own generator makes (``generator``: one of ``ruler_*_upstream``), its prompt sent as is."""
    return TaskDef(
        id=task_id(name),
        dataset={"source": "generator", "generator": generator, "generator_version": generator_version(generator),
                 "seed": SEED,
                 "params": {"lengths": list(LENGTHS), "samples_per_length": SAMPLES_PER_LENGTH, "task": name,
                            **params, "tokens_to_generate": NEW_TOKENS[family]}},
        template="ruler/upstream.j2", metrics=("string_match_all",), max_new_tokens=NEW_TOKENS[family],
        chat_template=chat_template, samples=SAMPLES_PER_LENGTH * len(LENGTHS), group=group, notes=notes)


def _niah(name: str, haystack: str, key_type: str, value_type: str, keys: int, values: int,
          queries: int) -> TaskDef:
    params = {"haystack": haystack, "key_type": key_type, "value_type": value_type, "num_keys": keys,
              "num_values": values, "num_queries": queries}
    if haystack == "essay":
        params.update(essay_path=ESSAY_PATH, essay_sha256=None, punkt_dir=PUNKT_DIR, punkt_sha256=PUNKT_ENGLISH_SHA256)
    return _generated(name, "ruler_niah_upstream", "niah", params, RETRIEVAL,
                      notes=NOTES["essay"] if haystack == "essay" else "")


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
    _generated("vt", "ruler_vt_upstream", "vt", {"haystack": "noise", "num_chains": 1, "num_hops": 4}, MULTI_HOP,
               notes=NOTES["vt"]),
    _generated("cwe", "ruler_cwe_upstream", "cwe", {"num_common": 10, "common_freq": 30, "uncommon_freq": 3},
               AGGREGATION),
    _generated("fwe", "ruler_fwe_upstream", "fwe", {"alpha": 2.0, "vocab_size": -1, "word_length": 6}, AGGREGATION,
               chat_template=False),
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
