"""The judge pass (`loomctl judge`) on real components: the tiny model run on one L-CiteEval and one
LongWriter task (fixtures, --limit 2), then judged by a tiny BERT NLI classifier (seeded random
weights, a real WordPiece tokenizer) and by the shipped tiny model as LongWriter's quality judge
through the transformers engine; open and wrong judge pins refused with exit 2."""

from __future__ import annotations

import json
import os
import shutil
import string
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.judge_run import JUDGED, judged_tasks, load_judges, parse_judge_dirs
from loomcore.errors import InputError
from loomcore.hashing import HashCache, hash_model
from loomcore.specs import JudgeScores
from loomcore.taskspec import Dataset, Generation, Prompt, TaskSpec, Truncation
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.helpers import loomctl

CITEEVAL_TASK, LONGWRITER_TASK = "l_citeeval_natural_questions", "longwriter_longbench_write"
# The tiny model never cites a passage, so the second L-CiteEval answer is replaced by one that does:
# one passage, two passages (the precision check), and a sentence without a citation.
CITING_ANSWER = "The Eiffel Tower stands in Paris [2]. The harbour board met on Tuesday [1][3]. It is tall."
NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def build_nli_model(path: Path) -> Path:
    """A 1-layer BERT sequence classifier with NLI labels and seeded random weights, and a WordPiece
    tokenizer (lower-cased words, single characters and their continuations) built with `tokenizers`."""
    import torch
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = ["the", "passage", "title", "paris", "tower", "harbour", "board", "met", "on", "in", "is", "it"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(specials + words + chars + pieces))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    BertTokenizerFast(tokenizer_object=tok, model_max_length=512, unk_token="[UNK]", sep_token="[SEP]",
                      pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]").save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=3, id2label=NLI_LABELS,
                        label2id={v: k for k, v in NLI_LABELS.items()})
    BertForSequenceClassification(config).save_pretrained(path)
    return path


def judge_pin(model_dir: Path, project: Path, cache: HashCache, **spec) -> dict:
    files, combined = hash_model(model_dir, cache)
    return {"revision": None, "weights_sha256": combined, "files": files,
            "path": model_dir.relative_to(project).as_posix(), "dtype": "float32", **spec}


def judged_citeeval_run(project: Path, tmp_path: Path, out: Path, before=lambda: None) -> dict:
    """A finished `--limit 2` run of one L-CiteEval task on the shipped model and the fixtures, on the
    lite suite's CPU image, with a pinned tiny NLI judge and one answer that cites (so the judge has
    claims to check); returns the manifest's data (``project / "judged.json"``). ``before`` runs after
    the models are in place (the container tests make them readable to the image's user)."""
    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    nli = build_nli_model(project / "models" / "tiny-nli")
    before()
    lite = json.loads((project / "loombench-lite.json").read_text())
    data = json.loads((project / "loombench-v1.json").read_text())
    data.update({k: lite[k] for k in ("model", "engine", "accelerator", "image")})  # the CPU image of the lite suite
    data["benchmarks"] = [b for b in data["benchmarks"] if b["name"] == "l_citeeval"]
    data["benchmarks"][0]["tasks"] = [t for t in data["benchmarks"][0]["tasks"] if t["id"] == CITEEVAL_TASK]
    data["benchmarks"][0]["tasks"][0]["generation"]["max_new_tokens"] = 8
    data["judges"] = {"nli": judge_pin(nli, project, HashCache(tmp_path / "hashes.json"), id="tiny-nli",
                                       engine={"name": "transformers", "task": "text-classification"})}
    manifest = project / "judged.json"
    manifest.write_text(json.dumps(data, indent=2))
    result = loomctl("run", str(manifest), "--model", str(project / "models" / "tiny-loom"), "--fixtures",
                     str(ROOT / "tests" / "data" / "loombench"), "--limit", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    cite_and_rescore(out)
    return data


def cite_and_rescore(run_dir: Path) -> None:
    """The second L-CiteEval answer made one that cites (so the NLI judge has claims to check), re-scored."""
    from harness.run import score_run

    records = run_dir / "samples" / f"{CITEEVAL_TASK}.jsonl"
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    lines[1]["prediction"] = CITING_ANSWER
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    score_run(run_dir)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """The run (one L-CiteEval and one LongWriter task, judges pinned to the tiny models), judged once
    with `loomctl judge`; the bytes of scores.json from before the judge pass."""
    import transformers

    base = tmp_path_factory.mktemp("judge")
    env = {**os.environ, "LOOMCTL_HASH_CACHE": str(base / "hashes.json"),
           "LOOMCTL_DATA_CACHE": str(base / "generated")}
    project = base / "manifests"
    shutil.copytree(ROOT / "manifests", project, ignore=shutil.ignore_patterns("models"))
    shutil.copytree(SHIPPED_MODEL, project / "models" / "tiny-loom")
    nli_dir = build_nli_model(project / "models" / "tiny-nli")
    cache = HashCache(base / "hashes.json")
    data = read_json(ROOT / "manifests" / "loombench-v1.json")
    keep = {"l_citeeval": (CITEEVAL_TASK, 8), "longwriter": (LONGWRITER_TASK, 24)}
    data["benchmarks"] = [b for b in data["benchmarks"] if b["name"] in keep]
    for bench in data["benchmarks"]:
        task_id, new_tokens = keep[bench["name"]]
        bench["tasks"] = [t for t in bench["tasks"] if t["id"] == task_id]
        bench["tasks"][0]["generation"]["max_new_tokens"] = new_tokens  # a short answer is enough to judge
    data["judges"] = {
        "nli": judge_pin(nli_dir, project, cache, id="tiny-nli",
                         engine={"name": "transformers", "task": "text-classification"}),
        "quality": judge_pin(project / "models" / "tiny-loom", project, cache, id="tiny-loom",
                             engine={"name": "transformers", "version": transformers.__version__,
                                     "args": {"device": "cpu"}},
                             generation={"max_new_tokens": 16}),
    }
    manifest = project / "judged.json"
    manifest.write_text(json.dumps(data, indent=2))
    run_dir = base / "run"
    result = loomctl("run", str(manifest), "--model", str(project / "models" / "tiny-loom"), "--engine",
                     "transformers", "--fixtures", str(ROOT / "tests" / "data" / "loombench"), "--limit", "2",
                     "--allow-accelerator-mismatch", "--out", str(run_dir), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    cite_and_rescore(run_dir)
    scores_before = (run_dir / "scores.json").read_bytes()
    result = loomctl("judge", str(run_dir), "--root", str(project), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(base=base, env=env, project=project, run_dir=run_dir, nli_dir=nli_dir,
                           scores_before=scores_before, stdout=result.stdout)


def judge_rows(run_dir: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "judge" / f"{task}.jsonl").read_text().splitlines()]


def test_citation_scores_are_the_scorers_on_the_records_with_the_pinned_nli_judge(judged):
    from harness.judges import NLIJudge
    from harness.metrics.l_citeeval import citation_scores, format_document
    from loomcore.records import RecordFile

    scores = read_json(judged.run_dir / "judge_scores.json")
    assert JudgeScores.from_json(scores).to_json() == scores  # the typed form is the file, byte for byte
    assert list(scores["tasks"]) == [CITEEVAL_TASK, LONGWRITER_TASK]
    entails = NLIJudge(judged.nli_dir)
    records = RecordFile(judged.run_dir, CITEEVAL_TASK).load()
    direct = [citation_scores(r.prediction, r.meta["docs"], entails) for r in records]
    rows = judge_rows(judged.run_dir, CITEEVAL_TASK)
    assert [row["id"] for row in rows] == [r.id for r in records]
    for row, expected in zip(rows, direct):
        assert row["judged"] and row["scores"] == {f"l_citeeval_citation_{k}": v for k, v in expected.items()}
    metrics = scores["tasks"][CITEEVAL_TASK]["metrics"]
    assert set(metrics) == set(JUDGED["l_citeeval"].metrics)
    for name in ("recall", "precision", "f1"):
        entry = metrics[f"l_citeeval_citation_{name}"]
        assert (entry["judge"], entry["n"], entry["n_judged"]) == ("nli", 2, 2)
        assert entry["score"] == round(100 * sum(d[name] for d in direct) / 2, 6)
    assert scores["benchmarks"]["l_citeeval"]["l_citeeval_citation_f1"]["score"] == \
        metrics["l_citeeval_citation_f1"]["score"]

    # By hand: the tiny model's own answer cites nothing (one sentence, no citation: all 0); the citing
    # answer has three claims, citations [2] and [1][3] (three in all), the last sentence none.
    assert direct[0] == {"recall": 0.0, "precision": 0.0, "f1": 0.0}
    docs = records[1].meta["docs"]
    passage = [format_document(doc) for doc in docs]
    paris, board = "The Eiffel Tower stands in Paris.", "The harbour board met on Tuesday."
    first = entails(passage[1], paris)
    second = entails(passage[0] + "\n" + passage[2], board)
    precise = first + (sum(entails(passage[p], board) or not entails(passage[o], board)
                           for p, o in ((0, 2), (2, 0))) if second else 0)
    recall, precision = (first + second) / 3, precise / 3
    f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    assert direct[1] == {"recall": recall, "precision": precision, "f1": f1}


def test_scores_json_is_untouched_and_a_second_pass_gives_the_same_bytes(judged):
    from harness.judge_run import judge_run

    assert (judged.run_dir / "scores.json").read_bytes() == judged.scores_before
    files = sorted([judged.run_dir / "judge_scores.json", *(judged.run_dir / "judge").glob("*.jsonl")])
    assert [f.name for f in files] == [f"{CITEEVAL_TASK}.jsonl", f"{LONGWRITER_TASK}.jsonl", "judge_scores.json"]
    first = {f: f.read_bytes() for f in files}
    judge_run(judged.run_dir, judged.project, {"nli": judged.nli_dir})  # the same judge, named by --judge
    assert {f: f.read_bytes() for f in files} == first
    assert (judged.run_dir / "scores.json").read_bytes() == judged.scores_before
    assert "l_citeeval_citation_f1" in judged.stdout and "longwriter_quality" in judged.stdout


def test_quality_judge_runs_the_tiny_model_through_the_engine_and_keeps_its_replies(judged):
    scores = read_json(judged.run_dir / "judge_scores.json")
    entry = scores["tasks"][LONGWRITER_TASK]["metrics"]["longwriter_quality"]
    rows = judge_rows(judged.run_dir, LONGWRITER_TASK)
    assert entry["judge"] == "quality" and entry["n"] == len(rows) == 2
    assert entry["n_judged"] == sum(row["judged"] for row in rows) <= entry["n"]
    assert (entry["score"] is None) == (entry["n_judged"] == 0)
    for row in rows:
        assert row["replies"] and all(isinstance(reply, str) for reply in row["replies"])
        if not row["judged"]:
            # greedy: one reply, asked for again on each of upstream's five tries
            assert (len(row["replies"]), row["judge_calls"], row["dimensions"], row["scores"]) == (1, 5, None, {})
    provenance = scores["judges"]["quality"]
    assert provenance["id"] == "tiny-loom" and provenance["generation"]["temperature"] == 0.0
    assert provenance["generation"]["max_new_tokens"] == 16
    assert provenance["versions"]["engine"] == "transformers" and provenance["versions"]["device"] == "cpu"
    nli = scores["judges"]["nli"]
    assert nli["weights_sha256"] and set(nli["versions"]) >= {"torch", "transformers", "tokenizers", "device"}


def _judge_copy(judged, name: str, edit) -> tuple:
    run_dir = judged.base / name
    shutil.copytree(judged.run_dir, run_dir)
    effective = read_json(run_dir / "manifest.json")
    edit(effective)
    (run_dir / "manifest.json").write_text(json.dumps(effective, indent=2))
    return run_dir, loomctl("judge", str(run_dir), "--root", str(judged.project), env=judged.env)


def test_open_wrong_and_missing_judge_pins_exit_2_naming_the_field(judged):
    def open_pin(effective):
        effective["judges"]["nli"]["weights_sha256"] = None

    def wrong_hash(effective):
        effective["judges"]["nli"]["weights_sha256"] = "0" * 64

    def no_quality_judge(effective):
        del effective["judges"]["quality"]

    run_dir, result = _judge_copy(judged, "open", open_pin)
    assert result.returncode == 2 and "judges/nli/weights_sha256: open pin" in result.stderr
    assert (run_dir / "scores.json").read_bytes() == judged.scores_before
    _, result = _judge_copy(judged, "wrong", wrong_hash)
    assert result.returncode == 2
    assert "judges/nli/weights_sha256: the files in" in result.stderr and "0" * 64 in result.stderr
    _, result = _judge_copy(judged, "missing", no_quality_judge)
    assert result.returncode == 2 and "judges/quality: the run's manifest pins no judge 'quality'" in result.stderr
    result = loomctl("judge", str(judged.run_dir), "--judge", "nli", env=judged.env)
    assert result.returncode == 2 and "--judge: 'nli' is not NAME=DIR" in result.stderr


def test_a_run_without_judge_metrics_gets_empty_judge_scores(tmp_path):
    run_dir = tmp_path / "lite"
    shutil.copytree(ROOT / "golden" / "loombench-lite", run_dir)
    result = loomctl("judge", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "no task of this run has judge metrics" in result.stdout
    scores = read_json(run_dir / "judge_scores.json")
    assert (scores["tasks"], scores["benchmarks"], scores["judges"]) == ({}, {}, {})
    assert JudgeScores.from_json(scores).to_json() == scores
    assert not (run_dir / "judge").exists()


def _task(task_id: str, benchmark: str) -> TaskSpec:
    return TaskSpec(benchmark=benchmark, id=task_id, dataset=Dataset("local", path="d.jsonl"),
                    prompt=Prompt("{{ input }}", "0" * 64), truncation=Truncation("middle", 4096),
                    generation=Generation(16), metrics=("exact_match",))


def test_the_upstream_quality_judge_is_refused_as_unpinnable():
    v1 = read_json(ROOT / "manifests" / "loombench-v1.json")
    effective = {"judges": v1["judges"]}
    with pytest.raises(InputError) as refused:
        load_judges(effective, judged_tasks([_task(LONGWRITER_TASK, "longwriter")]), ROOT / "manifests", {})
    assert refused.value.problems[0].startswith("judges/quality/weights_sha256: open pin — gpt-4o-2024-05-13 is "
                                                "served by an API whose weights cannot be hashed")
    assert judged_tasks([_task("l_citeeval_niah", "l_citeeval")]) == []
    with pytest.raises(InputError, match="given twice"):
        parse_judge_dirs(["nli=a", "nli=b"])


def test_loomctl_pin_fills_and_checks_the_pins_of_a_judge_with_a_local_path(judged):
    """A judge with a local folder is pinned by `loomctl pin` like the evaluated model; `pin --check`
    then names a changed judge file."""
    manifest = judged.project / "lite-judged.json"
    data = read_json(judged.project / "loombench-lite.json")
    data["judges"] = {"nli": {"id": "tiny-nli", "revision": None, "weights_sha256": None, "files": {},
                              "path": "models/tiny-nli", "engine": {"name": "transformers"}}}
    manifest.write_text(json.dumps(data, indent=2))
    result = loomctl("pin", str(manifest), env=judged.env)
    assert result.returncode == 0, result.stderr[-2000:]
    files, combined = hash_model(judged.nli_dir, HashCache(judged.base / "fresh-hashes.json"))
    pinned = read_json(manifest)["judges"]["nli"]
    assert pinned["weights_sha256"] == combined and pinned["files"] == files
    assert loomctl("pin", "--check", str(manifest), env=judged.env).returncode == 0
    changed = judged.project / "models" / "tiny-nli-changed"
    shutil.copytree(judged.nli_dir, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text().replace("}", ', "x": 1}', 1))
    data = read_json(manifest)
    data["judges"]["nli"]["path"] = "models/tiny-nli-changed"
    manifest.write_text(json.dumps(data, indent=2))
    check = loomctl("pin", "--check", str(manifest), env=judged.env)
    assert check.returncode == 1, check.stderr[-2000:]
    assert "judges/nli/files/config.json: pinned" in check.stderr


def test_the_html_report_shows_the_judge_scores_apart(judged, tmp_path):
    """`loomctl report` of a judged run has a judge table with judge_scores.json's figures."""
    out = tmp_path / "report.html"
    result = loomctl("report", str(judged.run_dir), "-o", str(out), env=judged.env)
    assert result.returncode == 0, result.stderr[-2000:]
    html = out.read_text()
    table = html[html.index("<table id=judge-scores>"):html.index("<table id=judges>")]
    saved = read_json(judged.run_dir / "judge_scores.json")
    for task_id, task in saved["tasks"].items():
        for metric, entry in task["metrics"].items():
            score = "-" if entry["score"] is None else f"{entry['score']:.2f}"
            assert (f"<td>{task_id}</td><td>{metric}</td><td>{entry['judge']}</td><td class=num>{score}</td>"
                    f"<td class=num>{entry['n_judged']} / {entry['n']}</td>") in table
    assert saved["judges"]["nli"]["weights_sha256"] in html
