"""NoLiMa: needles whose question shares no literal words with them, in a book haystack, as LOOM-Scope
runs it with NoLiMa's official settings, prompt and score.

Sources, read here:
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Retrieve/NoLiMa``): ``NoLiMa.py`` (the tests built
  from a needle set on the books of ``haystack/rand_shuffle``, the default task template, the haystack
  cut in the middle before it is put in the template, 192 new tokens, greedy), ``utils/book_haystack.py``
  (the needle placement) and ``utils/evaluation/eval.py`` (the score).
- adobe-research/NoLiMa at commit 7532e4eebf095c5540dc256900a63968da58a9d0: ``evaluation/run_tests.py``
  (the same test building, ``base_seed`` 42, shift 0, no static depth), ``evaluation/run_config/
  multi_test_config_book_{250,500,1K,2K,4K,8K,16K,32K}.yaml`` (``needle_set.json``, 26 depths from 0 to
  100 %, metric ``contains``, the default system prompt), ``evaluation/async_evaluate.py`` (the score),
  ``evaluation/model_configs/*.json`` (192 new tokens, temperature 0) and ``data/download_NoLiMa_data.sh``
  (needle sets and the five books are files of the hub dataset amodaresi/NoLiMa).

Data: generated (generator ``nolima``, ``harness.data.synthetic.nolima``) from two pinned inputs the user
places beside the manifest: NoLiMa's needle set (``haystacks/NoLiMa/needlesets/needle_set.json``) and one
book (``haystacks/NoLiMa/rand_shuffle/rand_book_1.txt``), both from the hub dataset amodaresi/NoLiMa; their
sha256 pins are open (``None``: neither file could be fetched or seen here), so a run stops until
``loomctl pin`` writes them, and a missing file is refused, never replaced by filler.

Not matched exactly:
- One book. NoLiMa runs every test on each of the five books (seed + the book's number); LOOM-Scope loops
  over them too but reopens its output file for each book, so only the tests of the book listed last by
  ``os.listdir`` (an order not fixed) are kept. Here one pinned book, ``haystack_no`` 0 (set it to the
  book's position to match another).
- Lengths: NoLiMa's eight official lengths 250-32000 tokens; LOOM-Scope's config file (``configs/
  NoLiMa.yaml``: task names, lengths, depths, metric, seed) is not in its PyPI package and was not seen.
  The needle set was not seen, so its number of tests (``samples``) is not known here.
- Tokens: upstream encodes the book with the model tokenizer's special tokens (Llama 3.1: a leading
  ``<|begin_of_text|>``, which its later decodes keep as text when a window starts at 0); here the book
  is encoded without them, so positions are counted without that token.
- System prompt: each experiment's ``system_prompt`` from the needle set is the sample's system message,
  as LOOM-Scope's ``process_data`` sends it (none when empty; ``prompt.system_field``), through the model's
  chat template; a model without one (the test model tiny-loom) gets the user prompt alone. NoLiMa's own
  runs leave the system message to the provider's default ("You are a helpful assistant").
- Needle sets with distractors (``needle_set_w_Distractor.json``) are refused; duplicate-test removal
  (by hash of the whole test, whose name is unique) never applies and is not done.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef

LENGTHS = (250, 500, 1000, 2000, 4000, 8000, 16000, 32000)  # evaluation/run_config/*.yaml context_length
DEPTH_INTERVALS = 26
BASE_SEED = 42
NEW_TOKENS = 192  # NoLiMa.py LLM_param / model_configs max_tokens
HAYSTACK_PATH = "haystacks/NoLiMa/rand_shuffle/rand_book_1.txt"
NEEDLE_SET_PATH = "haystacks/NoLiMa/needlesets/needle_set.json"

TASK = TaskDef(
    id="nolima_needle_set",
    dataset={"source": "generator", "generator": "nolima", "generator_version": "2", "seed": BASE_SEED,
             "params": {"lengths": list(LENGTHS), "depth_min": 0, "depth_max": 100,
                        "depth_intervals": DEPTH_INTERVALS, "base_seed": BASE_SEED, "haystack_no": 0, "shift": 0,
                        "haystack_path": HAYSTACK_PATH, "haystack_sha256": None,
                        "needle_set_path": NEEDLE_SET_PATH, "needle_set_sha256": None}},
    template="nolima/nolima.j2",
    metrics=("nolima_contains",),
    max_new_tokens=NEW_TOKENS,
    system_field="system_prompt",
    samples=None,
    notes="NoLiMa's needle_set.json on one pinned book (open pins), 8 lengths x 26 depths, metric contains",
)

BENCHMARK = Benchmark(
    name="nolima", title="NoLiMa", capability="retrieval",
    metrics=("nolima_contains",),
    tasks=(TASK,),
    source="LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/Retrieve/NoLiMa; "
           "https://github.com/adobe-research/NoLiMa (7532e4eebf095c5540dc256900a63968da58a9d0); "
           "data: https://huggingface.co/datasets/amodaresi/NoLiMa (needlesets/, haystack/rand_shuffle/)",
)
