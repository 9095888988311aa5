"""Exports of the corpus built from the real PTB-XL sample: both formats pass the check, counts
match the warehouse, the selections follow their rules and the check finds what is broken."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from schemas.tables import SPLITS
from stages.options import LLMOptions
from tests.runner import run
from training import export as ex
from warehouse import Warehouse

pytestmark = pytest.mark.slow  # every test needs the curated warehouse (the pipeline fixture runs FeatureDB)

RULES = LLMOptions(backend="rules")  # the offline writer, whatever key the environment holds


def _export(wh: Warehouse, out, fmt: str, **options) -> dict:
    """Run the export stage into ``out``; returns the manifest it wrote."""
    counts = run("export", wh, out=out, format=fmt, **options)
    manifest = json.loads((out / "manifest.json").read_text())
    assert counts["samples"] == manifest["warehouse"]["samples"] and counts["files"] == len(manifest["files"])
    return manifest


@pytest.fixture(scope="module")
def curated(ptbxl_dir, tmp_path_factory, pipeline) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("ptbxl") / "w")
    pipeline(wh, {"ptbxl": ptbxl_dir})
    run("generate", wh, llm=RULES)
    run("validate", wh, llm=RULES)
    run("evidence", wh, llm=RULES)
    return wh


@pytest.fixture(scope="module")
def swift_export(curated, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "swift"
    return out, _export(curated, out, "swift", imd=(0.5, 0.2), seed=3)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_swift_export_passes_the_check_and_matches_the_warehouse(curated, swift_export):
    out, manifest = swift_export
    assert ex.check(out) == []
    per_split = dict(curated.sql("SELECT split, count(*) FROM corpus GROUP BY split").rows())
    assert manifest["splits"] == {s: per_split.get(s, 0) for s in SPLITS}
    assert sum(manifest["splits"].values()) == curated.sql("SELECT count(*) FROM validations WHERE final AND valid").item()
    train = _rows(out / "train.jsonl")
    row = train[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"] == f"<ecg><image>\n{ex.INSTRUCTION}"
    assert row["messages"][2]["content"].startswith("<think>\n**Step 1: Technical, Rate & Rhythm**")
    assert (out / "images" / row["images"][0]).is_file() and not row["images"][0].startswith("/")
    assert (ex.Path(manifest["ecg_root"]) / f"{row['objects']['ecg'][0]}.hea").is_file()


def test_rl_rows_are_a_stratified_seeded_selection_of_training_samples(curated, swift_export):
    out, manifest = swift_export
    rl = _rows(out / "rl_train.jsonl")
    train_ids = {r["id"] for r in _rows(out / "train.jsonl")}
    assert len(rl) == ex.rl_size(manifest["splits"]["train"]) == manifest["selection"]["rl"]["size"]
    assert {r["id"] for r in rl} <= train_ids
    assert all([m["role"] for m in r["messages"]] == ["system", "user"] and r["solution"] for r in rl)
    steps = dict(curated.sql("SELECT sample_id, steps_with_evidence FROM solutions").rows())
    assert all(steps[r["id"]] >= ex.MIN_EVIDENCE_STEPS for r in rl)
    again = _export(curated, out.parent / "again", "swift", seed=3)
    assert _rows(out.parent / "again" / "rl_train.jsonl") == rl and again["selection"]["rl"] == manifest["selection"]["rl"]


def test_modality_missing_sets_and_imd(swift_export):
    out, manifest = swift_export
    test = _rows(out / "test.jsonl")
    for name, (modality, share) in ex.MISSING.items():
        rows = _rows(out / f"test_{name}.jsonl")
        tag = "<ecg>" if modality == "ecg" else "<image>"
        dropped = [r for r in rows if tag not in r["messages"][1]["content"]]
        assert len(dropped) == round(share * len(test))
        assert all((r["objects"]["ecg"] if modality == "ecg" else r["images"]) == [] for r in dropped)
    imd = _rows(out / "train_imd.jsonl")
    users = [r["messages"][1]["content"] for r in imd]
    assert any(u.startswith("<image><ecg>") for u in users) and any("<ecg>" not in u or "<image>" not in u for u in users)


def test_trl_export_and_absolute_paths(curated, tmp_path):
    manifest = _export(curated, tmp_path / "trl", "trl", absolute=True)
    assert ex.check(tmp_path / "trl") == []
    sft, grpo = _rows(tmp_path / "trl" / "sft_train.jsonl"), _rows(tmp_path / "trl" / "grpo_train.jsonl")
    assert sft[0]["messages"][1]["content"][0] == {"type": "image"} and sft[0]["images"][0].startswith("/")
    assert set(grpo[0]) == {"id", "images", "ecg", "prompt", "solution"}
    assert manifest["image_root"] == manifest["ecg_root"] == "/"


def test_the_check_finds_broken_rows_and_files(swift_export, tmp_path):
    import shutil

    out, _ = swift_export
    broken = tmp_path / "broken"
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("images"))
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["image_root"] = str(out / "images")
    rows = _rows(broken / "rl_train.jsonl")
    rows[0]["solution"] = "no solution"
    rows[1]["images"] = []
    (broken / "rl_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sample, (split, subject) = next(iter(manifest["subjects"].items()))
    other = next(k for k, (s, _) in manifest["subjects"].items() if s != split)
    manifest["subjects"][other][1] = subject
    (broken / "manifest.json").write_text(json.dumps(manifest))
    problems = ex.check(broken)
    assert any(p.startswith("rl_train.jsonl: sha256 differs") for p in problems)
    assert any(p.startswith("rl_train.jsonl:1: solution does not parse") for p in problems)
    assert any(p.startswith("rl_train.jsonl:2: 1 image and 1 ECG tags for 0 images") for p in problems)
    assert any("is in" in p and p.startswith(f"subject {subject[:12]}") for p in problems)
    res = subprocess.run([sys.executable, "-m", "ecg_corpus", "export", "--check", str(broken)], capture_output=True, text=True)
    assert res.returncode == 1 and "problems in" in res.stdout


def test_trl_files_load_with_datasets(curated, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the train extra is not installed (datasets)")
    _export(curated, tmp_path / "trl", "trl")
    sft = datasets.load_dataset("json", data_files=str(tmp_path / "trl" / "sft_train.jsonl"), split="train")
    grpo = datasets.load_dataset("json", data_files=str(tmp_path / "trl" / "grpo_train.jsonl"), split="train")
    assert set(sft.column_names) == {"id", "images", "ecg", "messages"} and sft.num_rows > 0
    assert set(grpo.column_names) == {"id", "images", "ecg", "prompt", "solution"} and grpo.num_rows > 0
    assert sft[0]["messages"][2]["content"][0]["text"].startswith("<think>")
