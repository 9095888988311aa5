"""Shared fixtures: the real data in ../shared/data (skipped when absent) and synthetic samples."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _data_dir(name: str) -> Path:
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"real data not found: {path} (place the shared data next to the repository)")
    return path


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    return _data_dir("ptbxl-sample")


@pytest.fixture(scope="session")
def ludb_dir() -> Path:
    return _data_dir("ludb-dev")


@pytest.fixture(scope="session")
def sample_ptbxl(tmp_path_factory) -> Path:
    from sources.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample") / "ptbxl", "ptbxl", 8, 7)


@pytest.fixture(scope="session")
def sample_mimic(tmp_path_factory) -> Path:
    from sources.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample") / "mimic", "mimic", 8, 8)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (it takes ~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


class Grounding:
    """Checks shared by the prompt and interpretation tests: number tokens, whether each is a
    formatted value of the record's rows, and the fixed ECG-R1 interpretation format."""

    NUMBER = re.compile(r"(?<![\w.+])-?\d+(?:\.\d+)?(?![\w.])")

    @staticmethod
    def format() -> re.Pattern:
        from protocol.steps import STEPS

        return re.compile(r"^<think>\n" + "".join(rf"\*\*{re.escape(s.heading)}\*\*\n[^\n*]+\n" for s in STEPS)
                          + r"</think>\n[^\n]+\n<answer>[^<\n]*</answer>$")

    @classmethod
    def numbers(cls, content: str) -> list[str]:
        """Number tokens, leaving out step headings and the per-lead table's header row."""
        keep = [ln for ln in content.splitlines() if not ln.startswith("| lead |")]
        return cls.NUMBER.findall(re.sub(r"Step \d", "", "\n".join(keep)))

    @staticmethod
    def traceable(*frames: pl.DataFrame) -> set[str]:
        """Every rendering :func:`prompts.render.fmt` can give of the record's numeric values."""
        from prompts.render import fmt

        out = set()
        for df in frames:
            for col in df.select(pl.selectors.numeric()).columns:
                for v in df[col].drop_nulls().drop_nans().to_list():
                    out |= {fmt(v, "ms"), fmt(v, "ratio")}
        return {s.split(" ")[0] for s in out}

    @classmethod
    def stray(cls, content: str, record_id: str, *frames: pl.DataFrame) -> list[str]:
        """The numbers of ``content`` that are no formatted value of ``record_id``'s rows."""
        allowed = cls.traceable(*(df.filter(pl.col("record_id") == record_id) for df in frames))
        return [n for n in cls.numbers(content) if n not in allowed]


@pytest.fixture(scope="session")
def grounding() -> type[Grounding]:
    return Grounding


def _record_facts(rid: str, **overrides) -> tuple[dict, list[dict]]:
    """A normal ECG's features and lead features; ``overrides`` set globals or
    ``<lead column>_<lead>`` values."""
    from schemas.ecg import LEADS

    nan = float("nan")
    g = dict(record_id=rid, hr_bpm=72.0, rr_mean_ms=833.0, rr_sd_ms=20.0, p_dur_ms=100.0, pr_ms=160.0, qrs_ms=90.0,
             qrs_lead_ms=84.0, qt_ms=380.0, qtc_bazett_ms=416.0, qtc_fridericia_ms=404.0, qtc_framingham_ms=408.0,
             qtc_hodges_ms=410.0, p_axis_deg=50.0, qrs_axis_deg=45.0, t_axis_deg=40.0, rr_nrmssd=0.03, p_present_frac=1.0,
             n_leads_ok=12.0, quality="ok", pace_atrial_frac=0.0, pace_ventricular_frac=0.0)
    leads = [dict(record_id=rid, lead=lead, p_amp_mv=0.1, p_dur_ms=96.0, q_amp_mv=0.0, r_amp_mv=0.8, s_amp_mv=-0.3,
                  t_amp_mv=0.25, r_prime=False, r_prime_amp_mv=nan, qrs_dur_ms=88.0, st_j_mv=0.0, st_j60_mv=0.02,
                  q_dur_ms=0.0, q_depth_mv=0.0, quality="ok") for lead in LEADS]
    for key, value in overrides.items():
        col, _, lead = key.rpartition("_")
        if lead in LEADS:
            next(row for row in leads if row["lead"] == lead)[col] = value
        else:
            g[key] = value
    return g, leads


@pytest.fixture(scope="session")
def record_facts():
    """``record_facts(rid, **overrides)``: a hand-made normal ECG's facts."""
    return _record_facts


@pytest.fixture()
def api_key(monkeypatch) -> str:
    """An API key in the environment, as the openai backend reads it (the loopback server takes any)."""
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return "test"


@pytest.fixture(scope="session")
def pipeline():
    """``pipeline(warehouse, sources, upto, **selection)``: the stages from ingest to ``upto``
    without Prefect (``selection``: the select stage's parameters); returns each stage's counts."""
    from stages.options import IngestParams, SelectionOptions
    from stages.stage import NAMES, get

    def run(warehouse, sources: dict, upto: str = "prompts", **selection) -> dict:
        params = {"ingest": IngestParams(sources={k: str(v) for k, v in sources.items()}),
                  "select": SelectionOptions(**selection)}
        return {name: get(name).run(warehouse, params.get(name)) for name in NAMES[: NAMES.index(upto) + 1]}

    return run


@pytest.fixture(scope="session")
def ptbxl_records(ptbxl_dir) -> list[dict]:
    """Every PTB-XL sample record measured once: ``features`` (row), ``leads`` (lead -> row),
    ``findings`` (criterion -> row, with its ``confounder``), ``labels``, the reconciled ``key``
    and the rules writer's ``text`` (None when it refuses the record)."""
    from prompts.rules_writer import Refused, write
    from protocol.answer_key import reconcile
    from protocol.criteria import evaluate, facts
    from sources.ptbxl import manifest
    from stages.features import measure

    man = manifest(ptbxl_dir)
    f = measure(man["record_id"].to_list(), man["path"].to_list())
    found = evaluate(facts(f.records, f.leads, man)).partition_by("record_id", as_dict=True)
    leads = f.leads.partition_by("record_id", as_dict=True)
    labels = {rid: (list(lab), lik) for rid, lab, lik in man.select("record_id", "labels", "label_likelihood").rows()}
    out = []
    for feat in f.records.iter_rows(named=True):
        rid = feat["record_id"]
        fd = {r["criterion"]: r for r in found[(rid,)].iter_rows(named=True)}
        key = reconcile(*labels[rid], fd)
        fd = {c: {**row, "confounder": key.not_applicable.get(c)} for c, row in fd.items()}
        try:
            text = write(feat, fd, key)
        except Refused:
            text = None
        out.append({"features": feat, "leads": {r["lead"]: r for r in leads[(rid,)].iter_rows(named=True)},
                    "findings": fd, "labels": labels[rid][0], "key": key, "text": text})
    return out
