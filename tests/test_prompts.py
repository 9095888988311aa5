"""Prompts: snapshots of rendered prompts, every number traceable, the identifier guard."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import polars as pl
import pytest

from prompts.render import (
    IdentifierError, evidence_messages, guard, interpretation_context, interpretation_messages, template_version,
)
from protocol.criteria import evaluate, facts
from protocol.steps import STEPS

SNAPSHOTS = Path(__file__).with_name("snapshots")


def _render(rec: tuple[dict, list[dict]], sex: str | None, labels: str) -> list[dict]:
    feats, leads = pl.DataFrame([rec[0]]), pl.DataFrame(rec[1])
    found = evaluate(facts(feats, leads, pl.DataFrame({"record_id": feats["record_id"], "sex": [sex], "age": [50.0]},
                                                     schema_overrides={"sex": pl.Utf8})))
    return interpretation_messages(interpretation_context(rec[0], rec[1], found.to_dicts(), sex, labels))


CASES = {  # overrides of record_facts, sex, labels
    "normal": ({}, "F", "normal ECG; sinus rhythm"),
    "inferior_stemi_af": (dict(hr_bpm=118.0, rr_nrmssd=0.25, p_present_frac=0.0, p_dur_ms=float("nan"),
                               pr_ms=float("nan"), st_j_mv_II=0.22, st_j_mv_III=0.25, st_j_mv_aVF=0.2,
                               st_j_mv_aVL=-0.12, st_j_mv_I=-0.08), "M",
                          "atrial fibrillation; inferior myocardial infarction"),
}


@pytest.fixture(scope="module")
def rendered(record_facts):
    """name -> the rendered messages of CASES[name]."""
    return {name: _render(record_facts("x", **over), sex, labels) for name, (over, sex, labels) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_prompt_snapshot(name, rendered):
    """Set UPDATE_SNAPSHOTS=1 to accept a deliberate template change."""
    text = json.dumps(rendered[name], indent=1, ensure_ascii=False)
    path = SNAPSHOTS / f"interpretation_{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()


def test_static_text_first_and_facts_last(rendered):
    a, b = rendered["normal"], rendered["inferior_stemi_af"]
    assert a[0] == b[0]
    shared = os.path.commonprefix([a[1]["content"], b[1]["content"]])
    assert shared.rstrip().endswith("# Measured facts\nSex:")
    assert len(shared) >= 2000  # the whole instruction block is a cacheable prefix
    for step in STEPS:
        assert f"**{step.heading}**" in a[1]["content"]
    versions = {template_version(k) for k in ("interpretation", "evidence")}
    assert len(versions) == 2 and all(re.fullmatch(r"[0-9a-f]{16}", v) for v in versions)


@pytest.mark.slow
def test_every_number_comes_from_the_records_values(ludb_dir, tmp_path, grounding, pipeline):
    from warehouse import Warehouse

    wh = Warehouse(tmp_path / "w")
    counts = pipeline(wh, {"wfdb": ludb_dir}, exclude_flagged=False, require_concordant=False)  # every record
    assert counts["prompts"]["refused"] == 0
    prompts = wh.read("prompts").filter(pl.col("status") == "ok")
    assert prompts.height >= 95
    feats, leads, found = wh.read("features"), wh.read("lead_features"), wh.read("findings")
    checked = 0
    for rid, messages in prompts.select("record_id", "messages").rows():
        content = "\n".join(m["content"] for m in json.loads(messages))
        stray = grounding.stray(content, rid, feats, leads, found)
        assert stray == [], f"{rid}: numbers not from its features/findings: {stray[:5]}"
        checked += len(grounding.numbers(content))
    assert checked > 100 * prompts.height


def test_identifier_guard_refuses_ids_dates_and_paths(rendered):
    messages = rendered["normal"]
    guard(messages, ["10000032", "40689238", "files/p1000/p10000032/s40689238/40689238", "40689238"])
    for bad, ident, reason in (("subject 10000032", "10000032", "identifier '10000032'"),
                               ("study 40689238", "40689238", "identifier '40689238'"),
                               ("taken 2180-07-23", None, "a date or time"),
                               ("at 08:12:33", None, "a date or time"),
                               ("see /data/mimic/files/p1000/x", None, "a file path"),
                               ("file 40689238.hea", None, "a file path")):
        poisoned = [messages[0], {"role": "user", "content": messages[1]["content"] + "\nnote: " + bad}]
        with pytest.raises(IdentifierError, match=re.escape(reason)):
            guard(poisoned, [ident] if ident else [])


@pytest.mark.slow
def test_mimic_prompts_carry_no_identifiers(sample_mimic, tmp_path, pipeline):
    from warehouse import Warehouse

    wh = Warehouse(tmp_path / "w")
    pipeline(wh, {"mimic": sample_mimic})
    rec = wh.read("records")
    text = "\n".join(wh.read("prompts")["messages"].drop_nulls())
    for col in ("subject_id", "study_id"):
        assert not any(v in text for v in rec[col])
    assert "2180-" not in text and "files/p" not in text


def test_evidence_prompt():
    interp = "<think>\n**Step 1: Technical, Rate & Rhythm**\nSinus rhythm at 72 bpm.\n</think>\nNormal.\n<answer>normal ECG</answer>"
    (msg,) = evidence_messages(interp, "normal ECG")
    for step in STEPS:
        assert step.key in msg["content"]
    assert msg["content"].rstrip().endswith(interp)
    assert "JSON" in msg["content"]
