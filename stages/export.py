"""Export stage: the curated ``corpus`` view -> training files for ms-swift or TRL, rendered ECG
images and ``manifest.json`` (docs/design.md "Training rows"; :mod:`training.export`).

Files per format (``kind`` in the manifest: ``sft`` rows end with the answer, ``rl`` rows at
the user turn with the ``solution``): one SFT file per split (``train``, ``val``, ``test``;
TRL: ``sft_<split>``), the RL file (``rl_train``; TRL: ``grpo_train``), the four
modality-missing test sets (``test_ecg_missing25`` ...) and, with ``imd``, an Interleaved
Modality Dropout copy of the training file (``train_imd``). Splits are ``records.split``
(subject-level since ingest); images are rendered once per record and renderer version under
``<out>/images``.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from curation import CHECKER_VERSION
from prompts.render import template_version
from schemas.tables import SPLITS
from stages.runs import code_version
from training import export as ex
from stages.options import ExportOptions
from stages.stage import WHOLE, NotReady, Stage
from training.render import RENDERER_VERSION, cached_image
from warehouse import Warehouse

#: What the answers of the rows are (the manifest's ``answers``): the reconciled key, not the labels.
ANSWERS = {
    "answer": "the record's reconciled answer key (table answer_keys, protocol/answer_key.py): reference labels the "
              "measurements support are kept, uncertain or unsupported ones are written 'possible ...', contradicted "
              "ones are dropped and never stated, definite measured findings are added; records.labels keeps the "
              "reader's labels as given",
    "solution": "the <|answer|> of an RL solution is the same key, statement by statement; accuracy_reward compares "
                "concepts and scores a 'possible ...' statement only when the completion hedges it too",
    "stratification": "the RL selection's strata are the reader's labels (records.labels), so rare pathology is drawn "
                      "whatever the key says of it",
}


def samples(warehouse: Warehouse) -> pl.DataFrame:
    """The accepted samples with what a row needs: split, text, labels, solution, evidence
    steps, record path and subject."""
    return warehouse.sql(
        "SELECT c.sample_id, c.record_id, c.split, c.interpretation, c.labels, c.solution, "
        "s.steps_with_evidence, r.path, r.subject_id FROM corpus c JOIN records r USING (record_id) "
        "JOIN solutions s ON s.sample_id = c.sample_id ORDER BY c.sample_id")


def write(warehouse: Warehouse, options: ExportOptions) -> dict:
    """Write the export; returns the manifest."""
    out, fmt, seed, absolute, imd = options.out.resolve(), options.format, options.seed, options.absolute, options.imd
    table = samples(warehouse)
    if table.is_empty():
        raise NotReady("the corpus is empty: run validate and evidence first")
    image_root = out / "images"
    ecg_root = Path(os.path.commonpath([str(Path(p).parent) for p in table["path"]]))
    rows_by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    subjects = {}
    for r in table.iter_rows(named=True):
        image = cached_image(r["record_id"], r["path"], image_root)
        sample = {"id": r["sample_id"], "interpretation": r["interpretation"], "solution": r["solution"],
                  "labels": list(r["labels"] or []), "steps_with_evidence": r["steps_with_evidence"],
                  "image": str(image) if absolute else image.relative_to(image_root).as_posix(),
                  "ecg": r["path"] if absolute else Path(r["path"]).relative_to(ecg_root).as_posix()}
        rows_by_split[r["split"]].append(sample)
        subjects[r["sample_id"]] = [r["split"], hashlib.sha256(str(r["subject_id"]).encode()).hexdigest()[:16]]
    row, names, files = ex.ROWS[fmt], ex.FILES[fmt], {}

    def write(name: str, kind: str, rows: list[dict]) -> None:
        files[f"{name}.jsonl"] = {"kind": kind, **ex.write_jsonl(out / f"{name}.jsonl", rows)}

    sft = {s: [row(x) for x in rows_by_split[s]] for s in SPLITS}
    for split in SPLITS:
        write(names["sft"].format(split=split), "sft", sft[split])
    size = ex.rl_size(len(rows_by_split["train"]), options.rl_size)
    rl = ex.select_rl(rows_by_split["train"], size, seed)
    write(names["rl"], "rl", [row(x, with_answer=False) for x in rl])
    for name, (modality, share) in ex.MISSING.items():
        write(f"{names['sft'].format(split='test')}_{name}", "sft", ex.missing_set(sft["test"], modality, share, seed))
    if imd is not None:
        write(f"{names['sft'].format(split='train')}_imd", "sft", ex.imd_copy(sft["train"], *imd, seed))
    manifest = {
        "format": fmt, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "image_root": "/" if absolute else str(image_root), "ecg_root": "/" if absolute else str(ecg_root),
        "splits": {s: len(rows_by_split[s]) for s in SPLITS}, "files": files,
        "versions": {"templates": {k: template_version(k) for k in ("interpretation", "evidence", "repair")},
                     "checker": CHECKER_VERSION, "renderer": RENDERER_VERSION, "code": code_version()},
        "warehouse": {"root": str(warehouse.root), "samples": table.height,
                      "checker_versions": sorted(set(warehouse.sql(
                          "SELECT DISTINCT checker_version FROM validations")["checker_version"]))},
        "selection": {"rl": {"size": size, "requested": options.rl_size, "seed": seed,
                             "rule": f"training samples with evidence in at least {ex.MIN_EVIDENCE_STEPS} steps, "
                                     "stratified by each sample's rarest label, strata round-robin rarest first, "
                                     "seeded order within a stratum"},
                      "missing": {k: {"modality": m, "share": s} for k, (m, s) in ex.MISSING.items()},
                      "imd": None if imd is None else {"drop": imd[0], "swap": imd[1]}},
        "answers": ANSWERS,
        "subjects": subjects,
    }
    (out / ex.MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def plan(warehouse: Warehouse, options: ExportOptions, force: bool = False) -> list[str]:
    """One shard, the whole corpus: an export is always written anew."""
    return [WHOLE]


def run_shard(warehouse: Warehouse, shard: str, options: ExportOptions) -> dict[str, int]:
    manifest = write(warehouse, options)
    return {"samples": manifest["warehouse"]["samples"], "files": len(manifest["files"])}


STAGE = Stage("export", input="solutions", outputs=(), counts=("samples", "files"), run_shard=run_shard,
              params=ExportOptions, plan=plan)
