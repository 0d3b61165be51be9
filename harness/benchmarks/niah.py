"""NIAH: the needle-in-a-haystack depth x length grid as LOOM-Scope runs it, with its prompt and score.

Sources, read here:
- LOOM-Scope 0.8 (PyPI ``loom-scope``, ``benchmarks/Retrieve/NIAH``): ``NIAH.py`` (the prompt, 50 new
  tokens, greedy), ``utils/data_synthetic/synthetic_data.py`` (one fixed needle per cell of a grid of
  ``np.linspace`` context lengths and depth percents, placed at the sentence break before the depth's
  token position in ``context_length - final_context_length_buffer`` tokens of Paul Graham's essays)
  and ``utils/evaluation/eval.py`` (the score: the share of the answer's distinct lower-cased words
  found in the response, per depth and length; ``harness.metrics.text.niah_word_recall``). The test
  itself is Greg Kamradt's LLMTest_NeedleInAHaystack.
- LOOMBench's copy is one file, ``NIAH/niah.jsonl`` in the hub dataset LCM-Lab/LOOMBench (42.7 MB, seen
  on its hub page); the grid is generated here instead, with the evaluated model's tokenizer.

Not matched exactly:
- LOOM-Scope's NIAH config file (``configs/NIAH.yaml``: lengths, depths, needle, question, answer) is not
  in its PyPI package and was not seen. The grid follows LOOM-Scope's as its published result heatmaps
  in that package show it (``results/<model>_NIAH/image.png``): 40 token limits from 1000 to 128000 by
  10 depth percents from 0 to 100, Kamradt's ``np.round(np.linspace(...))`` spacing, one sample per
  cell (``params.grid: "loom-scope"``, ``harness.data.synthetic.niah.GRIDS``); a manifest may give its
  own ``lengths`` and ``depths`` instead. LOOMBench's niah.jsonl (42.7 MB) was not read, so its
  samples per cell are not known. The needle, question and answer are Kamradt's San Francisco
  needle, without the newline Kamradt puts on each side of it (LOOM-Scope's
  README presents its NIAH as Kamradt's test; its own needle was not seen, and its README's examples
  are placeholders); ``final_context_length_buffer`` is Kamradt's default 200 (LOOM-Scope's value
  not seen).
- The haystack is the filler of ``harness.data.haystack``, not Paul Graham's essays; the needle is
  placed between filler sentences at the depth's share of sentences, not of tokens. Generator
  ``niah_essays`` (``harness.data.synthetic.niah_essays``) follows synthetic_data.py token for token on a
  pinned folder of essays instead (``haystack_dir``, ``haystack_sha256``): with Kamradt's 49 essays its
  contexts were byte-identical to the passages of LOOM-Scope's own code run on a haystack file of those
  essays, in all 400 cells of the "loom-scope" grid (the shipped tokenizer, transformers 5.23). LOOM-Scope's
  ``download_paulgraham_essay.py`` appends the paulgraham.com essays after Kamradt's, which cannot be
  fetched here: a context longer than the essays given is refused rather than cut short.
- LOOM-Scope's prompt begins with Qwen's ``<|im_start|>`` token for every model (a defect noted in
  shared/LOOMBENCH.md); the template drops it and applies no chat template, as the bare prompt ending
  in "Answer:" asks.
- The magic-number NIAH of LOOMBench-lite scores with ``string_match_all``, kept as an allowed metric.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef
from harness.data.synthetic.niah import GRIDS

GRID = "loom-scope"  # harness.data.synthetic.niah.GRIDS: 40 lengths x 10 depths
NEEDLE = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
QUESTION = "What is the best thing to do in San Francisco?"
ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day."
FINAL_CONTEXT_LENGTH_BUFFER = 200

TASK = TaskDef(
    id="niah",
    dataset={"source": "generator", "generator": "niah", "generator_version": "1+h1", "seed": 42,
             "params": {"grid": GRID, "samples_per_cell": 1,
                        "needle": NEEDLE, "question": QUESTION, "answer": ANSWER,
                        "reserve_tokens": FINAL_CONTEXT_LENGTH_BUFFER}},
    template="niah/niah.j2",
    metrics=("niah_word_recall",),
    max_new_tokens=50,
    chat_template=False,
    samples=len(GRIDS[GRID][0]) * len(GRIDS[GRID][1]),
    notes="LOOM-Scope's 40 x 10 grid (from its result heatmaps); Kamradt's needle without its surrounding newlines; "
          "filler haystack",
)

BENCHMARK = Benchmark(
    name="niah", title="NIAH", capability="retrieval",
    metrics=("niah_word_recall", "string_match_all"),
    tasks=(TASK,),
    source="LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/Retrieve/NIAH; "
           "https://github.com/gkamradt/LLMTest_NeedleInAHaystack; "
           "LOOMBench copy: https://huggingface.co/datasets/LCM-Lab/LOOMBench (NIAH/niah.jsonl)",
)
