"""The sample id grammar: ``<record_id>#<kind>`` for a sample, ``<record_id>#<kind>#repair<k>``
for the answer to its ``k``-th repair (docs/warehouse.md). Parsed here and nowhere else, in
Python (:class:`SampleId`) and as polars expressions over a ``sample_id`` column."""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl

INTERPRETATION, EVIDENCE = "interpretation", "evidence"
KINDS = (INTERPRETATION, EVIDENCE)
REPAIR = "repair"
_GRAMMAR = re.compile(rf"^(?P<record>.+?)#(?P<kind>{'|'.join(KINDS)})(?:#{REPAIR}(?P<repair>[1-9]\d*))?$")


class SampleId(NamedTuple):
    record_id: str
    kind: str = INTERPRETATION
    repair: int = 0  # 0: the sample's own answer; k: the answer to its k-th repair

    @classmethod
    def parse(cls, text: str) -> SampleId:
        m = _GRAMMAR.match(text)
        if m is None:
            raise ValueError(f"not a sample id: {text!r} (<record_id>#<kind>[#{REPAIR}<k>], kind one of "
                             f"{', '.join(KINDS)})")
        return cls(m["record"], m["kind"], int(m["repair"] or 0))

    def format(self) -> str:
        return f"{self.record_id}#{self.kind}" + (f"#{REPAIR}{self.repair}" if self.repair else "")

    __str__ = format

    def repaired(self, k: int) -> SampleId:
        return self._replace(repair=k)

    @staticmethod
    def sql_answers(kind: str, column: str = "sample_id") -> str:
        """SQL: ``column`` is the id of a sample of ``kind`` itself, not of one of its repairs."""
        return f"{column} LIKE '%#{kind}'"

    # polars expressions over a column of sample ids, for the tables that hold them

    @staticmethod
    def record_expr(column: str = "sample_id") -> pl.Expr:
        return pl.col(column).str.extract(_GRAMMAR.pattern, 1)

    @staticmethod
    def kind_expr(column: str = "sample_id") -> pl.Expr:
        return pl.col(column).str.extract(_GRAMMAR.pattern, 2)

    @staticmethod
    def sample_expr(column: str = "sample_id") -> pl.Expr:
        """The sample id without its repair suffix."""
        return pl.col(column).str.replace(rf"#{REPAIR}\d+$", "")

    @staticmethod
    def attempt_expr(column: str = "sample_id") -> pl.Expr:
        """1 for the sample's own answer, ``k + 1`` for the answer to repair ``k``."""
        return (pl.col(column).str.extract(_GRAMMAR.pattern, 3).cast(pl.Int32).fill_null(0) + 1).cast(pl.Int32)
