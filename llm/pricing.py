"""Prices per model in USD per million tokens, from an editable CSV (``llm/prices.csv``).

Columns: model, input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, as_of.
A model not in the table matches its longest listed prefix (``gpt-4o-2024-08-06`` ->
``gpt-4o``); a model with no match has no price.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from llm.backend import Response

DEFAULT_PRICES = Path(__file__).with_name("prices.csv")
PER_MTOK = 1e6


@dataclass(frozen=True)
class Price:
    """USD per million tokens: fresh input, cache-hit input, output."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, response: Response) -> float:
        """USD of one answer; cache-hit input tokens at the cached rate."""
        cached = min(response.tokens_cached_in or 0, response.tokens_in or 0)
        fresh = (response.tokens_in or 0) - cached
        return (fresh * self.input_usd_per_mtok
                + cached * self.cached_input_usd_per_mtok
                + (response.tokens_out or 0) * self.output_usd_per_mtok) / PER_MTOK


class PriceTable:
    """Prices by model name."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_PRICES) -> PriceTable:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return cls({
            row["model"].strip(): Price(float(row["input_usd_per_mtok"]),
                                        float(row["cached_input_usd_per_mtok"]),
                                        float(row["output_usd_per_mtok"]))
            for row in rows
        })

    def get(self, model: str) -> Price | None:
        """The model's price, by exact name or longest listed prefix."""
        if model in self.prices:
            return self.prices[model]
        prefixes = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(prefixes, key=len)] if prefixes else None
