"""Protocol criteria: the table ``protocol/criteria.csv`` evaluated over measured features.

Each row is one criterion a clinician can read and edit: a value (a DuckDB SQL expression over
the record's facts, or ``any(a; b)`` / ``all(a; b)`` over earlier criteria), a comparison, a
threshold with units (sex-specific where the literature is), the age from which it applies
(``min_age``: below it the criterion is not positive; an unknown age is taken as an adult's),
its source, its kind and a note saying why a measure or threshold departs from the textbook. ``kind`` is ``abnormal`` (a
finding against a normal ECG), ``supportive`` (a measured pattern that supports a diagnosis
but is common in normal ECGs, never abnormal on its own) or ``technical`` (the recording). Facts are the
global features plus every lead feature as ``<feature>_<lead>`` (``r_amp_mv_V5``). Contiguous-lead
rules use ``pair(a, b)``: the level that both leads reach (NULL when either is missing);
``depression(j, j60)`` is the ST depression a lead holds from J to J+60 ms.
A criterion whose value cannot be measured is ``positive = NULL``, never false.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

TABLE = Path(__file__).with_name("criteria.csv")
OPS = ("<", "<=", ">", ">=")
KINDS = ("abnormal", "supportive", "technical")
_COMBINE = re.compile(r"^(any|all)\((.*)\)$")
LEAD_FACTS = ("p_amp_mv", "p_dur_ms", "q_amp_mv", "r_amp_mv", "s_amp_mv", "t_amp_mv", "r_prime", "r_prime_amp_mv",
              "qrs_dur_ms", "st_j_mv", "st_j60_mv", "q_dur_ms", "q_depth_mv")


@dataclass(frozen=True)
class Criterion:
    id: str
    step: int
    description: str
    value: str
    unit: str
    op: str
    threshold: float
    threshold_male: float | None
    threshold_female: float | None
    threshold_high: float | None
    min_age: float | None
    source: str
    kind: str
    note: str

    @property
    def combines(self) -> tuple[str, list[str]] | None:
        m = _COMBINE.match(self.value)
        return (m.group(1), [c.strip() for c in m.group(2).split(";")]) if m else None

    def threshold_for(self, sex: str | None) -> float:
        specific = {"M": self.threshold_male, "F": self.threshold_female}.get(sex or "")
        return self.threshold if specific is None else specific


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache(maxsize=1)
def load() -> tuple[Criterion, ...]:
    """The criteria table, checked: known ops, steps 1-5, combinations of earlier rows."""
    with TABLE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: list[Criterion] = []
    for r in rows:
        c = Criterion(r["id"], int(r["step"]), r["description"], r["value"], r["unit"], r["op"],
                      float(r["threshold"]), _float(r["threshold_male"]), _float(r["threshold_female"]),
                      _float(r["threshold_high"]), _float(r["min_age"]), r["source"], r["kind"], r["note"])
        if c.op not in OPS and not (c.op == "between" and c.threshold_high is not None):
            raise ValueError(f"criteria.csv: {c.id}: unknown op {c.op!r}")
        if c.kind not in KINDS:
            raise ValueError(f"criteria.csv: {c.id}: kind must be one of {', '.join(KINDS)}, not {c.kind!r}")
        if c.combines and any(x not in {o.id for o in out} for x in c.combines[1]):
            raise ValueError(f"criteria.csv: {c.id} combines criteria that are not defined above it")
        if c.combines and c.combines[0] == "all" and c.threshold != len(c.combines[1]):
            raise ValueError(f"criteria.csv: {c.id}: all() needs a threshold equal to its number of parts")
        out.append(c)
    return tuple(out)


@lru_cache(maxsize=1)
def by_id() -> dict[str, Criterion]:
    """The criteria table by criterion id."""
    return {c.id: c for c in load()}


def facts(features: pl.DataFrame, leads: pl.DataFrame, records: pl.DataFrame | None = None) -> pl.DataFrame:
    """One wide row per record: global features, ``<feature>_<lead>`` columns, sex and age.
    NaN becomes NULL so SQL treats an unmeasured value as unknown."""
    present = [c for c in LEAD_FACTS if c in leads.columns]
    wide = leads.with_columns(pl.col("r_prime").cast(pl.Float64)).pivot(
        on="lead", index="record_id", values=present, separator="_")
    out = features.join(wide, on="record_id", how="left")
    if records is not None:
        out = out.join(records.select("record_id", "sex", "age"), on="record_id", how="left")
    else:
        out = out.with_columns(sex=pl.lit(None, pl.Utf8), age=pl.lit(None, pl.Float64))
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def _threshold(c: Criterion) -> pl.Expr:
    if c.threshold_male is None and c.threshold_female is None:
        return pl.lit(c.threshold)
    return (pl.when(pl.col("sex") == "M").then(pl.lit(c.threshold_for("M")))
            .when(pl.col("sex") == "F").then(pl.lit(c.threshold_for("F"))).otherwise(pl.lit(c.threshold)))


def _positive(c: Criterion, value: pl.Expr, threshold: pl.Expr) -> pl.Expr:
    if c.op == "between":  # half-open [threshold, threshold_high)
        return (value >= threshold) & (value < c.threshold_high)
    return {"<": value < threshold, "<=": value <= threshold, ">": value > threshold, ">=": value >= threshold}[c.op]


def _for_age(c: Criterion, positive: pl.Expr, value: pl.Expr) -> pl.Expr:
    """``positive``, made false below the criterion's ``min_age`` when the value was measured
    (an unknown age is taken as an adult's)."""
    if c.min_age is None:
        return positive
    return pl.when((pl.col("age") < c.min_age) & value.is_not_null()).then(False).otherwise(positive)


def evaluate(wide: pl.DataFrame) -> pl.DataFrame:
    """Long ``findings``: record_id, criterion, step, value, threshold, threshold_high, min_age, positive, unit
    and ``confounder`` (NULL here: :mod:`protocol.answer_key` sets it).

    ``any``/``all`` follow Kleene logic: unknown parts make the result unknown only when the
    known parts cannot decide it."""
    criteria = load()
    plain = [c for c in criteria if not c.combines]
    with duckdb.connect() as con:
        con.execute("CREATE MACRO pair(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END")
        con.execute("CREATE MACRO depression(j, j60) AS CASE WHEN j IS NULL OR j60 IS NULL THEN NULL "
                    "ELSE -greatest(j, j60) END")
        con.register("facts", wide.with_columns(pl.col("age").cast(pl.Float64)).to_arrow())
        select = ", ".join(f'CAST(({c.value}) AS DOUBLE) AS "v:{c.id}"' for c in plain)
        df = con.sql(f"SELECT record_id, sex, age, {select} FROM facts").pl()
    df = df.with_columns(pl.col(pl.Float64).fill_nan(None))
    for c in criteria:
        if c.combines:
            how, parts = c.combines
            flags = [pl.col(f"p:{p}") for p in parts]
            value = pl.when(pl.all_horizontal(f.is_null() for f in flags)).then(None) \
                .otherwise(pl.sum_horizontal(f.cast(pl.Float64) for f in flags))
            combined = _for_age(c, pl.any_horizontal(flags) if how == "any" else pl.all_horizontal(flags), value)
            df = df.with_columns(value.alias(f"v:{c.id}"), pl.lit(c.threshold).alias(f"t:{c.id}"),
                                 combined.alias(f"p:{c.id}"))
        else:
            threshold = _threshold(c)
            df = df.with_columns(threshold.alias(f"t:{c.id}"), _for_age(c, _positive(c, pl.col(f"v:{c.id}"), threshold), pl.col(f"v:{c.id}")).alias(f"p:{c.id}"))
    steps = pl.DataFrame({"criterion": [c.id for c in criteria], "step": [c.step for c in criteria],
                          "threshold_high": [c.threshold_high for c in criteria], "min_age": [c.min_age for c in criteria],
                          "unit": [c.unit for c in criteria]},
                         schema_overrides={"threshold_high": pl.Float64, "min_age": pl.Float64})
    long = pl.concat([
        df.select("record_id", pl.lit(c.id).alias("criterion"), pl.col(f"v:{c.id}").alias("value"),
                  pl.col(f"t:{c.id}").cast(pl.Float64).alias("threshold"), pl.col(f"p:{c.id}").alias("positive"))
        for c in criteria
    ])
    return long.join(steps, on="criterion").select(
        "record_id", "criterion", "step", "value", "threshold", "threshold_high", "min_age", "positive", "unit",
        pl.lit(None, pl.Utf8).alias("confounder")).sort("record_id", maintain_order=True)
